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

"""``devcloud check``: the fleet commands against the devcloud.

``capacity``, ``explain``, ``what-if`` and ``exporter`` of the installed
``nova-gpu-ext`` read the cell database as the read-only user; the
exporter is scraped by a real Prometheus on loopback. Their GPU counts
must agree with the servers the last load left running (``load
--keep``), which are then deleted: afterwards no PCI row may be left
behind and ``pci-audit`` must find nothing. Prints one JSON line.
"""

import collections
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

import cloud
import load

EXPORTER_PORT, PROMETHEUS_PORT = 18858, 18859


def cell_url() -> str:
    return cloud.db_url('nova_cell1', cloud.RO_USER, cloud.RO_PASSWORD)


def nova_gpu_ext(*argv, ok=(0, 1)):
    """Run an installed ``nova-gpu-ext`` command; its stdout."""
    proc = subprocess.run(
        [os.path.join(cloud.BIN, 'nova-gpu-ext')] + list(argv),
        capture_output=True, text=True, timeout=300)
    if proc.returncode not in ok:
        raise cloud.StartFailed(f'nova-gpu-ext {" ".join(argv)} exited '
                                f'{proc.returncode}: {proc.stderr[-2000:]}')
    return proc.stdout


def fleet(command, *argv):
    return json.loads(nova_gpu_ext(command, '--connection', cell_url(),
                                   '--catalog', cloud.CATALOG, '-f', 'json',
                                   *argv) or '[]')


def running_gpus() -> collections.Counter:
    """GPUs per host of the servers running now (nova's API, PCI rows)."""
    conn = load.connection()
    used = collections.Counter()
    for server in conn.compute.servers(details=True, all_projects=True):
        if server.status == 'ACTIVE':
            for host, _, _ in load.claimed(server.id):
                used[host] += 1
    return used


def capacity_used() -> collections.Counter:
    used = collections.Counter()
    for row in fleet('capacity'):
        used[row['host']] += row['used']
    return used


def prometheus_used() -> collections.Counter:
    """Used GPUs per host as Prometheus scraped them from the exporter."""
    exporter = ['nova-gpu-ext', 'exporter', '--connection', cell_url(),
                '--catalog', cloud.CATALOG, '--interval', '2',
                '--listen', f'127.0.0.1:{EXPORTER_PORT}']
    config = cloud.path('prometheus.yml')
    with open(config, 'w') as f:
        f.write(f'global: {{scrape_interval: 2s}}\nscrape_configs:\n'
                f'  - job_name: nova_gpu_ext\n    static_configs:\n'
                f'      - targets: ["127.0.0.1:{EXPORTER_PORT}"]\n')
    try:
        # Inside: a Prometheus that does not start stops the exporter too.
        cloud.start('exporter', [os.path.join(cloud.BIN, exporter[0])] +
                    exporter[1:])
        cloud.start('prometheus', [
            'prometheus', f'--config.file={config}',
            f'--storage.tsdb.path={cloud.path("prometheus-data")}',
            f'--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}'])
        query = 'sum by (host) (nova_gpu_ext_gpus{state="used"})'
        result = []
        cloud.wait_for('prometheus', lambda: result.extend(
            _query(query)) or result, timeout=90)
        return collections.Counter({r['metric']['host']: int(
            float(r['value'][1])) for r in result})
    finally:
        cloud.stop('prometheus')
        cloud.stop('exporter')


def _query(expr):
    url = (f'http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query?' +
           urllib.parse.urlencode({'query': expr}))
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)['data']['result']


def delete_all() -> list:
    conn = load.connection()
    ids = [s.id for s in conn.compute.servers(all_projects=True)]
    for uuid in ids:
        conn.compute.delete_server(uuid, ignore_missing=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and list(
            conn.compute.servers(all_projects=True)):
        time.sleep(2)
    return ids


def run() -> int:
    expected = running_gpus()
    result = {
        'running_gpus': dict(expected),
        'capacity_used': dict(capacity_used()),
        'prometheus_used': dict(prometheus_used()),
        'explain_hosts': len(fleet('explain', '--request', 'gpu:2')),
        'what_if_rows': len(fleet('what-if', '--request', 'gpu:2=4')),
    }
    deleted = delete_all()
    result['deleted'] = len(deleted)
    result.update(load.leaked(deleted))
    result['pci_audit_findings'] = len(json.loads(nova_gpu_ext(
        'pci-audit', '--connection', cell_url(), '-f', 'json') or '[]'))
    missed = [key for key in ('capacity_used', 'prometheus_used')
              if {h: n for h, n in result[key].items() if n} !=
              {h: n for h, n in expected.items() if n}]
    missed += [key for key in ('pci_rows_leaked_after_delete',
                               'pci_audit_findings') if result[key]]
    result['targets_missed'] = missed
    print(json.dumps(result))
    return 1 if missed else 0
