# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The Placement source of the fleet snapshot: API calls and time.

A small HTTP server on loopback answers the Placement calls the snapshot
makes (resource providers, those with a trait, their inventories and
usages) for ``hosts`` compute nodes of 8 GPU devices each, with
``latency`` seconds per answer, as a busy Placement behind a load
balancer might. openstacksdk talks to
it like to a real one. It counts the requests and the snapshot is timed
twice: with the calls made eight at a time, as ``capacity`` does, and one
after the other, as the previous ``capacity`` did.
"""

import argparse
import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

GPUS_PER_HOST = 8
RC = 'CUSTOM_PCI_10DE_1DB4'


class FakePlacement(http.server.ThreadingHTTPServer):
    """Placement's read API for the resource providers of a GPU fleet."""

    daemon_threads = True

    def __init__(self, hosts: int, latency: float):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.latency = latency
        self.requests = 0
        self.lock = threading.Lock()
        self.roots, self.devices = [], []
        for host in range(hosts):
            root = str(uuid.uuid4())
            self.roots.append(_provider(root, f'gpu-{host:05d}', root))
            for slot in range(GPUS_PER_HOST):
                self.devices.append(_provider(
                    str(uuid.uuid4()), f'gpu-{host:05d}_0000:{0x81 + slot:02x}'
                    ':00.0', root))
        self.used = {d['uuid']: slot % 2 for slot, d in
                     enumerate(self.devices)}

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}'


def _provider(rp_uuid, name, root):
    return {'uuid': rp_uuid, 'name': name, 'generation': 1,
            'root_provider_uuid': root,
            'parent_provider_uuid': None if rp_uuid == root else root,
            'links': []}


class _Handler(http.server.BaseHTTPRequestHandler):

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        with server.lock:
            server.requests += 1
        time.sleep(server.latency)
        url = urllib.parse.urlparse(self.path)
        parts = [p for p in url.path.split('/') if p]
        query = urllib.parse.parse_qs(url.query)
        if parts == []:
            body = {'versions': [{
                'id': 'v1.0', 'max_version': '1.39', 'min_version': '1.0',
                'status': 'CURRENT',
                'links': [{'rel': 'self', 'href': f'{server.url}/'}]}]}
        elif parts == ['resource_providers']:
            # Every device has the PCI trait; none is one-time-use.
            required = query.get('required', [None])[0]
            body = {'resource_providers': {
                None: server.roots + server.devices,
                'COMPUTE_MANAGED_PCI_DEVICE': server.devices,
            }.get(required, [])}
        elif parts[-1] == 'inventories':
            body = {'resource_provider_generation': 1, 'inventories': {
                RC: {'total': 1, 'reserved': 0, 'min_unit': 1,
                     'max_unit': 1, 'step_size': 1,
                     'allocation_ratio': 1.0}}}
        else:
            body = {'resource_provider_generation': 1,
                    'usages': {RC: server.used[parts[1]]}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('OpenStack-API-Version', 'placement 1.39')
        self.end_headers()
        self.wfile.write(data)


def run(hosts: int, latency: float) -> dict:
    """The figures of :func:`measure`, measured in a fresh process.

    A process of its own: the server's and the snapshot's threads must be
    real threads, whatever the calling process has patched.
    """
    out = subprocess.run(
        [sys.executable, '-m', 'benchmarks.placement_calls', '--hosts',
         str(hosts), '--latency', str(latency)],
        check=True, capture_output=True, text=True)
    figures = json.loads(out.stdout.splitlines()[-1])
    return {int(workers): tuple(value) for workers, value in figures.items()}


def measure(hosts: int, latency: float) -> dict:
    """Snapshot the fake fleet with 8 workers and with 1; the figures."""
    import openstack

    from nova_gpu_ext.admin.fleet import placement
    from nova_gpu_ext.admin.fleet import snapshot

    server = FakePlacement(hosts, latency)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = openstack.connect(
            auth_type='none', placement_endpoint_override=server.url,
            placement_api_version='1', load_yaml_config=False,
            load_envvars=False)
        figures = {}
        for workers in (placement.WORKERS, 1):
            server.requests = 0
            start = time.perf_counter()
            snap = placement.take(conn, placement.Kinds(),
                                  snapshot.ModelFilter(), workers=workers)
            figures[workers] = (time.perf_counter() - start,
                                server.requests)
        assert len(snap.hosts) == hosts
        return figures
    finally:
        server.shutdown()
        server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.placement_calls', description=__doc__)
    parser.add_argument('--hosts', type=int, default=100)
    parser.add_argument('--latency', type=float, default=0.005)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.hosts, args.latency)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
