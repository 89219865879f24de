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

"""Capacity answers agree with nova's own claims under our filter."""

import json
import os
import subprocess
import sys

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from nova import objects
from nova.objects import pci_device_pool
from nova.pci import stats
from nova.scheduler import host_manager
from nova import test
from oslo_utils import uuidutils

from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import models
from nova_gpu_ext.scheduler.filters import gpu_passthrough
from tests import base as test_base
from tests.unit.admin.fleet import fleetdb

K4200 = models.ModelKey(*fleetdb.K4200)
V100 = models.ModelKey(*fleetdb.V100)
ALIASES = gpu_requests.alias_specs([
    {'name': 'k4200', 'vendor_id': '10de', 'product_id': '11b4',
     'device_type': 'type-PCI'},
    {'name': 'gpu', 'vendor_id': '10de', 'product_id': '11b4',
     'device_type': 'type-PCI'},
    {'name': 'gpu', 'vendor_id': '10de', 'product_id': '1db4',
     'device_type': 'type-PCI'},
])
SAME = models.GpuPolicy(True, models.NumaMode.ANY,
                        models.SwitchMode.ANY)
SINGLE = models.GpuPolicy(True, models.NumaMode.SINGLE,
                          models.SwitchMode.ANY)
MIXED = models.GpuPolicy(False, models.NumaMode.ANY,
                         models.SwitchMode.ANY)

devices_st = st.lists(st.tuples(
    st.sampled_from([fleetdb.K4200, fleetdb.V100]), st.sampled_from([0, 1]),
    st.sampled_from(['available', 'available', 'allocated'])),
    min_size=0, max_size=8)
request_st = st.sampled_from([
    gpu_requests.GpuRequest('gpu:2', (('gpu', 2),), SAME),
    gpu_requests.GpuRequest('gpu:2 single', (('gpu', 2),), SINGLE),
    gpu_requests.GpuRequest('gpu:3 mixed', (('gpu', 3),), MIXED),
    gpu_requests.GpuRequest('k4200:1,gpu:2', (('k4200', 1), ('gpu', 2)), SAME),
])


def nova_fits(pci_stats_text, request):
    """Servers nova places one by one with GpuPassthroughFilter enabled."""
    state = host_manager.HostState('h', 'h', uuidutils.generate_uuid())
    state.pci_stats = stats.PciDeviceStats(
        None, stats=pci_device_pool.from_pci_stats(pci_stats_text))
    gpu_filter = gpu_passthrough.GpuPassthroughFilter()
    placed = 0
    while placed < 20:
        pci_requests = [objects.InstancePCIRequest(
            count=count, alias_name=name, numa_policy='legacy',
            request_id=uuidutils.generate_uuid(),
            spec=[dict(s) for s in ALIASES[name].specs])
            for name, count in request.items]
        extra = {'gpu:same_model': str(request.policy.same_model).lower(),
                 'gpu:numa': request.policy.numa.value}
        spec = objects.RequestSpec(
            pci_requests=objects.InstancePCIRequests(requests=pci_requests),
            flavor=objects.Flavor(extra_specs=extra), scheduler_hints={})
        state.allocation_candidates = [
            {'allocations': {}, 'mappings': {'': ['root']}}]
        if not list(gpu_filter.filter_all([state], spec)):
            return placed
        state.pci_stats.apply_requests(pci_requests, {'': ['root']})
        placed += 1
    return placed


def host_of(devices, name='h'):
    text = fleetdb.pci_stats(
        [fleetdb.device(f'0000:81:{i:02x}.0', m, n, s)
         for i, (m, n, s) in enumerate(devices)])
    counts = snapshot.device_counts(
        [dict(vendor_id=m[0], product_id=m[1], dev_type='type-PCI',
              numa_node=n, status=s) for m, n, s in devices],
        snapshot.ModelFilter())
    return text, snapshot.HostGpus(name, 'cell1', counts,
                                   snapshot.pools_from_pci_stats(text))


class TestFits(test.NoDBTestCase):

    @settings(max_examples=150, deadline=None)
    @given(devices_st, request_st)
    def test_fits_on_a_host_is_what_nova_places(self, devices, request):
        text, host = host_of(devices)
        placer = capacity.Placer(ALIASES)
        self.assertEqual(nova_fits(text, request),
                         placer.fits_on(host.pools, request))

    def test_a_class_alias_never_mixes_and_counts_per_host(self):
        # Pool order K, V, V: the walk for gpu:2 would take K + V (mixed),
        # so our filter refuses the host; nova in-tree would place one.
        _, mixed = host_of([(fleetdb.K4200, 0, 'available'),
                            (fleetdb.V100, 0, 'available'),
                            (fleetdb.V100, 1, 'available')], 'mixed')
        _, clean = host_of([(fleetdb.V100, 0, 'available')] * 4, 'clean')
        snap = snapshot.Snapshot((mixed, clean), 'test', 0.0)
        gpu2 = gpu_requests.GpuRequest('gpu:2', (('gpu', 2),), SAME)
        result = capacity.fits(snap, [gpu2], capacity.Placer(ALIASES))
        self.assertEqual([capacity.Fit('gpu:2', 2, 'any', 2, 1)], result)


class TestRowsAndStranded(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        _, self.host = host_of([
            (fleetdb.K4200, 0, 'available'), (fleetdb.K4200, 0, 'allocated'),
            (fleetdb.K4200, 1, 'available'), (fleetdb.K4200, 1, 'available'),
            (fleetdb.V100, 1, 'available')])
        self.snap = snapshot.Snapshot((self.host,), 'test', 0.0)
        self.names = snapshot.ModelFilter()

    def test_rows_per_model_and_node_with_largest_requests(self):
        rows = capacity.rows(self.snap, self.names)
        self.assertEqual(
            [('10de:11b4', 0, 2, 1, 1, 2, 3), ('10de:11b4', 1, 2, 2, 0, 2, 3),
             ('10de:1db4', 1, 1, 1, 0, 1, 1)],
            [(r.model, r.numa_node, r.total, r.free, r.used,
              r.largest_on_node, r.largest_on_host) for r in rows])

    def test_untagged_gpus_are_each_their_own_switch(self):
        rows = capacity.rows(self.snap, self.names)
        self.assertEqual([1, 1, 1], [r.largest_on_switch for r in rows])

    def test_largest_on_switch_from_the_pools_tags(self):
        # Two switches of two K4200 each, one GPU of sw-b in use: the
        # scheduler's pools, one per address, carrying the tag.
        states = ['available'] * 3 + ['allocated']
        pools = tuple(
            dict(vendor_id=fleetdb.K4200[0], product_id=fleetdb.K4200[1],
                 numa_node=0, dev_type='type-PCI', address=f'0000:81:0{i}.0',
                 pcie_switch='sw-a' if i < 2 else 'sw-b',
                 count=int(state == 'available'))
            for i, state in enumerate(states))
        counts = snapshot.device_counts(
            [dict(vendor_id=fleetdb.K4200[0], product_id=fleetdb.K4200[1],
                  dev_type='type-PCI', numa_node=0, status=s)
             for s in states], self.names)
        host = snapshot.HostGpus('h', 'cell1', counts, pools)
        row, = capacity.rows(snapshot.Snapshot((host,), 'test', 0.0),
                             self.names)
        self.assertEqual((3, 3, 2), (row.largest_on_node, row.largest_on_host,
                                     row.largest_on_switch))

    def test_gpus_no_request_would_get_are_stranded(self):
        k4200x2 = gpu_requests.GpuRequest('k4200:2', (('k4200', 2),), SAME)
        result = capacity.stranded(self.snap, [k4200x2],
                                   capacity.Placer(ALIASES), self.names)
        self.assertEqual(
            [capacity.Stranded('10de:11b4', 3, 0, 0),
             capacity.Stranded('10de:1db4', 1, 1, 1)], result)


class TestCatalogAliasesImportNoNova(test_base.TestCase):
    """A fleet question's aliases come without nova's parsers.

    genconf's renderer makes them; importing nova alone took capacity 1.4
    of its 5.8 s on 10,000 hosts.
    """

    def test_aliases_without_importing_nova(self):
        code = (
            'import json, sys\n'
            'from nova_gpu_ext.admin.fleet import gpu_requests\n'
            'from nova_gpu_ext.common import catalog_file\n'
            'found = gpu_requests.catalog_aliases(\n'
            '    catalog_file.load_catalog([sys.argv[1]]), False)\n'
            'print(json.dumps([sorted(found),\n'
            '                  [m for m in sys.modules\n'
            '                   if m == "nova" or m.startswith("nova.")]]))\n')
        out = subprocess.run(
            [sys.executable, '-c', code,
             os.path.join(test_base.ETC, 'gpu-catalog.conf.example')],
            check=True, capture_output=True, text=True).stdout
        aliases, nova = json.loads(out.splitlines()[-1])
        self.assertTrue(aliases)
        self.assertEqual([], nova)
