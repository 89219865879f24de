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

"""GpuPassthroughFilter on real nova HostState / RequestSpec objects."""

import logging

import fixtures
from nova import objects
from nova.scheduler.filters import pci_passthrough_filter
from nova import test
from oslo_utils import uuidutils

from nova_gpu_ext.scheduler.filters import gpu_passthrough
from tests.unit.scheduler import fakes
from tests.unit.scheduler.fakes import K4200
from tests.unit.scheduler.fakes import V100


class FilterTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.filt = gpu_passthrough.GpuPassthroughFilter()
        self.nova = pci_passthrough_filter.PciPassthroughFilter()

    def both(self, host_factory, spec):
        """(ours, nova's) verdicts, each on its own fresh host."""
        return (self.filt.host_passes(host_factory(), spec),
                self.nova.host_passes(host_factory(), spec))


class TestLegacyMode(FilterTestCase):

    def class_spec(self):
        return fakes.spec(fakes.request(2, K4200, V100))

    def test_pool_order_that_mixes_is_refused_nova_passes_it(self):
        pools = [K4200, V100, K4200, V100]
        verdicts = self.both(
            lambda: fakes.host('h', [fakes.pool(m) for m in pools]),
            self.class_spec())
        self.assertEqual((False, True), verdicts)

    def test_pool_order_giving_one_model_passes(self):
        pools = [K4200, K4200, V100]
        verdicts = self.both(
            lambda: fakes.host('h', [fakes.pool(m) for m in pools]),
            self.class_spec())
        self.assertEqual((True, True), verdicts)

    def test_one_of_each_model_is_refused_nova_passes_it(self):
        verdicts = self.both(
            lambda: fakes.host('h', [fakes.pool(K4200), fakes.pool(V100)]),
            self.class_spec())
        self.assertEqual((False, True), verdicts)

    def test_rejection_is_logged_with_host_alias_counts_and_reason(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_ext', level=logging.DEBUG))
        host = fakes.host('gpu-host-7', [fakes.pool(K4200), fakes.pool(V100)])
        self.filt.host_passes(host, self.class_spec())
        log = logger.output
        self.assertIn('gpu-host-7', log)
        self.assertIn('gpu:2', log)
        self.assertIn('10de:11b4=1(n0:1) 10de:1db4=1(n0:1)', log)
        self.assertIn('would get mixed models', log)

    def test_same_model_false_lets_the_flavor_mix(self):
        spec = fakes.spec(fakes.request(2, K4200, V100),
                          extra_specs={'gpu:same_model': 'false'})
        host = fakes.host('h', [fakes.pool(K4200), fakes.pool(V100)])
        self.assertTrue(self.filt.host_passes(host, spec))

    def test_same_model_default_option(self):
        self.flags(same_model_default=False, group='nova_gpu_ext')
        host = fakes.host('h', [fakes.pool(K4200), fakes.pool(V100)])
        self.assertTrue(self.filt.host_passes(host, self.class_spec()))

    def test_numa_single(self):
        spec = fakes.spec(fakes.request(2, K4200),
                          extra_specs={'gpu:numa': 'single'})
        split = fakes.host('h', [fakes.pool(K4200, numa=0),
                                 fakes.pool(K4200, numa=1)])
        local = fakes.host('h', [fakes.pool(K4200, numa=1),
                                 fakes.pool(K4200, numa=1)])
        self.assertFalse(self.filt.host_passes(split, spec))
        self.assertTrue(self.filt.host_passes(local, spec))

    def test_two_items_each_one_model(self):
        spec = fakes.spec(fakes.request(1, K4200, alias='a'),
                          fakes.request(2, K4200, V100, alias='b'))
        good = fakes.host('h', [fakes.pool(K4200), fakes.pool(V100),
                                fakes.pool(V100)])
        # after 'a' takes the first K4200, 'b' walks K4200 then V100
        bad = fakes.host('h', [fakes.pool(K4200), fakes.pool(K4200),
                               fakes.pool(V100)])
        self.assertTrue(self.filt.host_passes(good, spec))
        self.assertFalse(self.filt.host_passes(bad, spec))

    def test_neutron_port_requests_are_ignored(self):
        spec = fakes.spec(fakes.port_request())
        host = fakes.host('h', [])
        self.assertTrue(self.filt.host_passes(host, spec))

    def test_flavor_without_pci_requests_passes(self):
        host = fakes.host('h', [])
        self.assertTrue(self.filt.host_passes(host, fakes.spec()))

    def test_host_without_pci_stats_is_refused_not_raised(self):
        host = fakes.host('h', [])
        host.pci_stats = None
        self.assertFalse(self.filt.host_passes(host, self.class_spec()))


class TestPlacementMode(FilterTestCase):

    def setUp(self):
        super().setUp()
        self.req = fakes.request(2, K4200, V100)
        self.spec = fakes.spec(self.req)

    def host(self, candidates):
        return fakes.host('h', [
            fakes.pool(K4200, numa=0, rp_uuid='k0'),
            fakes.pool(V100, numa=0, rp_uuid='v0'),
            fakes.pool(V100, numa=1, rp_uuid='v1'),
            fakes.pool(V100, numa=1, rp_uuid='v1b'),
        ], candidates)

    def test_keeps_single_model_candidates_best_first(self):
        mixed = fakes.candidate(self.req, 'k0', 'v0')
        split = fakes.candidate(self.req, 'v0', 'v1')
        local = fakes.candidate(self.req, 'v1', 'v1b')
        host = self.host([mixed, split, local])
        self.assertTrue(self.filt.host_passes(host, self.spec))
        self.assertEqual([local, split], host.allocation_candidates)

    def test_nova_keeps_the_mixed_candidate(self):
        mixed = fakes.candidate(self.req, 'k0', 'v0')
        host = self.host([mixed])
        self.assertTrue(self.nova.host_passes(host, self.spec))
        self.assertFalse(self.filt.host_passes(self.host([mixed]), self.spec))

    def test_all_mixed_is_refused(self):
        host = self.host([fakes.candidate(self.req, 'k0', 'v0'),
                          fakes.candidate(self.req, 'k0', 'v1')])
        self.assertFalse(self.filt.host_passes(host, self.spec))
        self.assertEqual([], host.allocation_candidates)

    def test_numa_single_drops_split_candidates(self):
        spec = fakes.spec(self.req, extra_specs={'gpu:numa': 'single'})
        split = fakes.candidate(self.req, 'v0', 'v1')
        local = fakes.candidate(self.req, 'v1', 'v1b')
        host = self.host([split, local])
        self.assertTrue(self.filt.host_passes(host, spec))
        self.assertEqual([local], host.allocation_candidates)

    def test_not_run_on_rebuild(self):
        self.assertFalse(self.filt.RUN_ON_REBUILD)
        spec = fakes.spec(self.req)
        spec.scheduler_hints = {'_nova_check_type': ['rebuild']}
        host = self.host([])
        self.assertEqual([host], list(self.filt.filter_all([host], spec)))


class TestMoves(FilterTestCase):
    """nova 34 claims moves with fresh requests: the legacy walk decides."""

    def setUp(self):
        super().setUp()
        self.req = fakes.request(2, K4200, V100)

    def host(self):
        # The walk gives K4200 + V100; the candidate would give 2 x V100.
        return fakes.host('h', [
            fakes.pool(K4200, rp_uuid='k0'),
            fakes.pool(V100, rp_uuid='v0'),
            fakes.pool(V100, rp_uuid='v1')],
            [fakes.candidate(self.req, 'v0', 'v1')])

    def test_boot_is_judged_on_the_candidate(self):
        self.assertTrue(self.filt.host_passes(self.host(),
                                              fakes.spec(self.req)))

    def test_cold_migration_is_judged_on_the_walk(self):
        spec = fakes.spec(self.req)
        spec.requested_destination = objects.Destination(
            cell=objects.CellMapping(uuid=uuidutils.generate_uuid()))
        self.assertFalse(self.filt.host_passes(self.host(), spec))

    def test_evacuation_is_judged_on_the_walk(self):
        spec = fakes.spec(self.req)
        spec.ignore_hosts = ['failed-host']
        self.assertFalse(self.filt.host_passes(self.host(), spec))
