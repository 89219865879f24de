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

"""Fleet commands on a synthetic cell database: time and peak memory.

A SQLite cell database with nova's own schema holds ``--hosts`` compute
nodes of 8 GPUs (4 per NUMA node; model A, model B, or A on node 0 and B
on node 1), each part used at random, with ``pci_devices`` rows and a
``pci_stats`` column written by nova's own ``PciDeviceStats`` for that
occupancy. Each question then runs in a fresh Python process, which
reports its wall time and peak resident memory:

* capacity: the snapshot, rows per host x model x NUMA node, fits of the
  catalog's 12 flavors and stranded GPUs;
* explain: one 4-GPU class request on every host;
* what-if: 100 servers of mixed sizes placed by nova_gpu_ext and by nova
  in-tree;
* what-if x100: the same mix a hundred times over (10,000 servers): what
  a server costs once the fleet is large.

Each goes through the commands' own fleet source
(:class:`~nova_gpu_ext.admin.fleet.source.Source`).
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid

CATALOG = """
[nova_gpu_ext]
gpu_models = a, b
gpu_classes = gpu

[gpu:a]
vendor_id = 10de
product_id = 1db4
flavor_counts = 1, 2, 4, 8

[gpu:b]
vendor_id = 10de
product_id = 1eb8
flavor_counts = 1, 2, 4, 8

[gpu_class:gpu]
models = a, b
flavor_counts = 1, 2, 4, 8
"""

MODELS = {'A': ('10de', '1db4'), 'B': ('10de', '1eb8')}
KINDS = (('A', 'A'), ('B', 'B'), ('A', 'B'))
GPUS_PER_NODE = 4
PLAN = ['gpu:1=40', 'gpu:2=30', 'a:4=20', 'gpu:8=10']
# The what-if x100 question: the plan's counts multiplied.
PLAN_SCALE = 100
QUESTIONS = ('capacity', 'explain', 'what-if', 'what-if x100')


def _pci_stats(kind, used, cache):
    """pci_stats of a host, written by nova for this occupancy."""
    key = (kind, used)
    if key not in cache:
        from nova import objects
        from nova.pci import stats
        from nova.pci import whitelist
        from oslo_serialization import jsonutils
        objects.register_all()
        specs = [jsonutils.dumps({'vendor_id': v, 'product_id': p})
                 for v, p in MODELS.values()]
        pci = stats.PciDeviceStats(None,
                                   dev_filter=whitelist.Whitelist(specs))
        for i, (vendor, product, numa, _) in enumerate(_devices(kind, used)):
            pci.add_device(objects.PciDevice(
                compute_node_id=1, address=f'0000:{0x81 + i:02x}:00.0',
                vendor_id=vendor, product_id=product, numa_node=numa,
                dev_type='type-PCI', status='available', parent_addr=None,
                extra_info={}, request_id=None, instance_uuid=None))
        for pool, busy in zip(pci.pools, used):
            pool['count'] -= busy
        cache[key] = jsonutils.dumps(
            pci.to_device_pools_obj().obj_to_primitive())
    return cache[key]


def _devices(kind, used):
    for numa, model in enumerate(kind):
        for slot in range(GPUS_PER_NODE):
            busy = used[numa * GPUS_PER_NODE + slot]
            yield (*MODELS[model], numa,
                   'allocated' if busy else 'available')


def build(path, hosts, seed):
    """Write the synthetic cell database; returns seconds taken."""
    from nova.db.main import models
    import sqlalchemy as sa
    start = time.perf_counter()
    engine = sa.create_engine(f'sqlite:///{path}')
    models.BASE.metadata.create_all(engine)
    tables = models.BASE.metadata.tables
    rng = random.Random(seed)
    cache = {}
    nodes, devices = [], []
    for node_id in range(1, hosts + 1):
        kind = KINDS[node_id % len(KINDS)]
        used = tuple(rng.random() < 0.5 for _ in range(2 * GPUS_PER_NODE))
        nodes.append(dict(
            id=node_id, host=f'gpu-{node_id:05d}',
            hypervisor_hostname=f'gpu-{node_id:05d}', uuid=str(uuid.uuid4()),
            vcpus=64, memory_mb=512000, local_gb=1000, vcpus_used=0,
            memory_mb_used=0, local_gb_used=0, hypervisor_type='QEMU',
            hypervisor_version=8002000, cpu_info='{}', deleted=0,
            pci_stats=_pci_stats(kind, used, cache)))
        for i, (vendor, product, numa, status) in enumerate(
                _devices(kind, used)):
            address = f'0000:{0x81 + i:02x}:00.0'
            devices.append(dict(
                compute_node_id=node_id, address=address,
                uuid=str(uuid.uuid4()), vendor_id=vendor,
                product_id=product, dev_type='type-PCI',
                dev_id='pci_' + address.replace(':', '_'), label='gpu',
                status=status, numa_node=numa, extra_info='{}', deleted=0))
    with engine.begin() as conn:
        conn.execute(tables['compute_nodes'].insert(), nodes)
        conn.execute(tables['pci_devices'].insert(), devices)
    engine.dispose()
    return time.perf_counter() - start


def measure(question, url, catalog):
    """Run one question in this process; print its time and peak RSS."""
    from nova_gpu_ext.admin.fleet import capacity
    from nova_gpu_ext.admin.fleet import explain
    from nova_gpu_ext.admin.fleet import source as fleet_source
    from nova_gpu_ext.admin.fleet import whatif
    from nova_gpu_ext.common import catalog_file
    gpu_catalog = catalog_file.load_catalog([catalog])
    start = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    source = fleet_source.Source(connections=[url], catalog=gpu_catalog)
    snap = source.take()
    wanted = source.names
    if question == 'capacity':
        flavors = source.flavors()
        placer = source.placer(snap)
        size = (len(capacity.rows(snap, wanted)),
                len(capacity.fits(snap, flavors, placer)),
                len(capacity.stranded(snap, flavors, placer, wanted)))
    elif question == 'explain':
        size = len(explain.explain(snap, source.request('gpu:4'),
                                   source.aliases(snap), wanted))
    else:
        scale = PLAN_SCALE if question == 'what-if x100' else 1
        plan = []
        for item in PLAN:
            text, count = item.split('=')
            plan.append((source.request(text), int(count) * scale))
        size = sum(o.fit for o in whatif.what_if(
            snap, plan, source.aliases(snap), wanted))
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({'question': question, 'seconds': seconds,
                      'cpu_seconds': usage.ru_utime + usage.ru_stime - cpu,
                      'peak_mb': usage.ru_maxrss / 1024,
                      'hosts': len(snap.hosts), 'records': size}))


def run(hosts, seed):
    """Build the database, then time each question in a new process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'cell.sqlite')
        catalog = os.path.join(tmp, 'catalog.conf')
        with open(catalog, 'w') as f:
            f.write(CATALOG)
        built = build(path, hosts, seed)
        results = []
        for question in QUESTIONS:
            out = subprocess.run(
                [sys.executable, '-m', 'benchmarks.fleet', '--measure',
                 question, '--url', f'sqlite:///{path}', '--catalog',
                 catalog], check=True, capture_output=True, text=True)
            results.append(json.loads(out.stdout.splitlines()[-1]))
    return built, results


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m benchmarks.fleet',
                                     description=__doc__)
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--measure', help=argparse.SUPPRESS)
    parser.add_argument('--url', help=argparse.SUPPRESS)
    parser.add_argument('--catalog', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        measure(args.measure, args.url, args.catalog)
        return 0
    built, results = run(args.hosts, args.seed)
    print(f'synthetic cell database: {args.hosts} hosts x 8 GPUs, built '
          f'in {built:.1f} s')
    for r in results:
        print(f'{r["question"]:10} {r["seconds"]:6.2f} s wall  '
              f'{r["cpu_seconds"]:6.2f} s CPU  {r["peak_mb"]:6.0f} MB peak '
              f'({r["records"]} records)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
