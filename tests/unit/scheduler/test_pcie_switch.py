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

"""gpu:switch through nova's HostFilterHandler and HostWeightHandler.

The hosts are real HostStates whose PciDeviceStats hold pools carrying
the ``pcie_switch`` tag, as the compute reports them when its
``[pci] device_spec`` entries carry it (``genconf --role compute``).
"""

import logging

import fixtures
from nova import objects
from nova.scheduler import filters
from nova.scheduler import weights
from nova import test
from oslo_utils import uuidutils

from nova_gpu_ext.scheduler.filters import gpu_passthrough
from nova_gpu_ext.scheduler.weights import gpu
from tests.unit.scheduler import fakes
from tests.unit.scheduler.fakes import K4200

SW_A = '0000:02:00.0'
SW_B = '0000:82:00.0'


def gpus(*switches, numa=0):
    """One pool per GPU, under the switches given in pool order.

    None is a GPU without a switch above it (no tag).
    """
    tagged = [{} if s is None else {'pcie_switch': s} for s in switches]
    return [fakes.pool(K4200, numa=numa, address=f'0000:{0x10 + i:02x}:00.0',
                       rp_uuid=f'rp{i}', **tags)
            for i, tags in enumerate(tagged)]


def switch_spec(req, mode, **extra):
    return fakes.spec(req, extra_specs={'gpu:switch': mode, **extra})


class SwitchTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.filt = gpu_passthrough.GpuPassthroughFilter()
        self.handler = filters.HostFilterHandler()
        self.req = fakes.request(2, K4200)

    def passed(self, hosts, spec):
        return [h.host for h in self.handler.get_filtered_objects(
            [self.filt], hosts, spec) or ()]


class TestLegacyMode(SwitchTestCase):
    """The compute walks the pools in order: the walk must stay under one."""

    def hosts(self, *names):
        layouts = {
            # The walk takes the first two pools.
            'one': (SW_A, SW_A, SW_B, SW_B),
            'split': (SW_A, SW_B, SW_A, SW_B),
            'split2': (SW_B, SW_A),
            'no-switch': (None, None),
        }
        return [fakes.host(name, gpus(*layouts[name])) for name in names]

    def test_single_keeps_the_walk_under_one_switch(self):
        spec = switch_spec(self.req, 'single')
        self.assertEqual(['one'], self.passed(
            self.hosts('split', 'one', 'no-switch'), spec))
        self.assertEqual([], self.passed(self.hosts('split', 'split2'),
                                         spec))

    def test_single_gives_one_gpu_anywhere(self):
        spec = switch_spec(fakes.request(1, K4200), 'single')
        self.assertEqual(['split', 'no-switch'], self.passed(
            self.hosts('split', 'no-switch'), spec))

    def test_a_request_larger_than_any_switch_is_refused_under_single(self):
        spec = switch_spec(fakes.request(4, K4200), 'single')
        self.assertEqual([], self.passed(self.hosts('one'), spec))
        spec = switch_spec(fakes.request(4, K4200), 'any')
        self.assertEqual(['one'], self.passed(self.hosts('one'), spec))

    def test_prefer_splits_only_when_no_host_keeps_it_under_one(self):
        spec = switch_spec(self.req, 'prefer')
        self.assertEqual(['one'], self.passed(
            self.hosts('split', 'one', 'no-switch'), spec))
        self.assertEqual(['split', 'no-switch'], self.passed(
            self.hosts('split', 'no-switch'), spec))

    def test_any_does_not_filter(self):
        spec = switch_spec(self.req, 'any')
        self.assertEqual(['split', 'one', 'no-switch'], self.passed(
            self.hosts('split', 'one', 'no-switch'), spec))

    def test_switch_default_option(self):
        spec = fakes.spec(self.req)
        for value, expected in (('single', ['one']), ('prefer', ['one']),
                                ('any', ['split', 'one'])):
            self.flags(switch_default=value, group='nova_gpu_ext')
            self.assertEqual(expected, self.passed(
                self.hosts('split', 'one'), spec), value)

    def test_refusals_are_logged_with_the_switches(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_ext', level=logging.DEBUG))
        self.passed(self.hosts('split'), switch_spec(self.req, 'single'))
        self.assertIn(f'would be split over PCIe switches (1 x {SW_A} + '
                      f'1 x {SW_B}) under gpu:switch=single', logger.output)
        self.passed(self.hosts('split', 'one'),
                    switch_spec(self.req, 'prefer'))
        self.assertIn('splits a GPU request over PCIe switches, and 1 '
                      'host(s) can keep it under one (gpu:switch=prefer)',
                      logger.output)

    def test_numa_and_switch_prefer_together(self):
        # 'one' keeps both; the NUMA-split host is dropped by gpu:numa,
        # the switch-split one by gpu:switch.
        numa_split = fakes.host('numa-split', gpus(SW_A, numa=0) + [
            fakes.pool(K4200, numa=1, address='0000:90:00.0',
                       pcie_switch=SW_B)])
        spec = switch_spec(self.req, 'prefer', **{'gpu:numa': 'prefer'})
        self.assertEqual(['one'], self.passed(
            [numa_split] + self.hosts('split', 'one'), spec))


class TestPlacementMode(SwitchTestCase):
    """Each candidate fixes the GPUs: the filter keeps and orders them."""

    def host(self, *candidates):
        return fakes.host('h', gpus(SW_A, SW_B, SW_A, SW_B), [
            fakes.candidate(self.req, *rps) for rps in candidates])

    def test_single_keeps_only_the_candidates_under_one_switch(self):
        host = self.host(('rp0', 'rp1'), ('rp0', 'rp2'), ('rp1', 'rp3'))
        found = list(host.allocation_candidates)
        self.assertEqual(['h'], self.passed([host],
                                            switch_spec(self.req, 'single')))
        self.assertEqual([found[1], found[2]], host.allocation_candidates)

    def test_single_refuses_a_host_whose_candidates_all_split(self):
        host = self.host(('rp0', 'rp1'), ('rp2', 'rp3'))
        self.assertEqual([], self.passed([host],
                                         switch_spec(self.req, 'single')))

    def test_any_puts_the_candidate_under_one_switch_first(self):
        host = self.host(('rp0', 'rp1'), ('rp0', 'rp2'))
        found = list(host.allocation_candidates)
        self.assertEqual(['h'], self.passed([host],
                                            switch_spec(self.req, 'any')))
        self.assertEqual([found[1], found[0]], host.allocation_candidates)

    def test_prefer_keeps_split_candidates_only_when_no_host_can(self):
        spec = switch_spec(self.req, 'prefer')
        host = self.host(('rp0', 'rp1'), ('rp0', 'rp2'))
        found = list(host.allocation_candidates)
        self.assertEqual(['h'], self.passed([host], spec))
        self.assertEqual([found[1]], host.allocation_candidates)
        host = self.host(('rp0', 'rp1'))
        self.assertEqual(['h'], self.passed([host], spec))

    def test_a_move_is_judged_by_the_walk(self):
        # The candidate stays under one switch, the compute's walk of a
        # move does not (rp0, rp1).
        spec = switch_spec(self.req, 'single')
        spec.requested_destination = objects.Destination(
            cell=objects.CellMapping(uuid=uuidutils.generate_uuid()))
        self.assertEqual([], self.passed([self.host(('rp0', 'rp2'))], spec))


class TestWeigher(test.NoDBTestCase):
    """Pack keeps whole switches free for requests that need one."""

    def setUp(self):
        super().setUp()
        self.handler = weights.HostWeightHandler()

    def ranking(self, hosts, spec):
        weighed = self.handler.get_weighed_objects([gpu.GpuWeigher()],
                                                   hosts, spec)
        return [w.obj.host for w in weighed]

    def test_pack_fills_the_switch_left_with_the_fewest(self):
        # Same node and host fit: 'whole-b' leaves switch B whole (4 free)
        # for a 4-GPU request under one switch, 'thirds' leaves 1 + 3.
        thirds = fakes.host('thirds', gpus(SW_A, SW_A, SW_A,
                                           SW_B, SW_B, SW_B))
        whole_b = fakes.host('whole-b', gpus(SW_A, SW_A,
                                             SW_B, SW_B, SW_B, SW_B))
        spec = fakes.spec(fakes.request(2, K4200))
        self.assertEqual(['whole-b', 'thirds'],
                         self.ranking([thirds, whole_b], spec))

    def test_placement_mode_weighs_the_first_candidate(self):
        req = fakes.request(2, K4200)
        pools = gpus(SW_A, SW_A, SW_A, SW_B, SW_B, SW_B)
        # 'fills-a' takes two of A: A left with 1; 'splits' takes one of
        # each: 2 left under each switch.
        fills = fakes.host('fills-a', pools,
                           [fakes.candidate(req, 'rp0', 'rp1')])
        splits = fakes.host('splits', gpus(SW_A, SW_A, SW_A, SW_B, SW_B,
                                           SW_B),
                            [fakes.candidate(req, 'rp0', 'rp3')])
        self.assertEqual(['fills-a', 'splits'],
                         self.ranking([splits, fills], fakes.spec(req)))

    def test_without_tags_the_ranking_is_as_before(self):
        # Devices without a switch are each their own: no switch level.
        spec = fakes.spec(fakes.request(1, K4200))
        one_left = fakes.host('one-left', [
            fakes.pool(K4200, numa=0, address='0000:81:00.0')] + [
            fakes.pool(K4200, numa=1, address=f'0000:9{i}:00.0')
            for i in range(4)])
        half = fakes.host('half', [
            fakes.pool(K4200, numa=1, address=f'0000:9{i}:00.0')
            for i in range(4)])
        self.assertEqual(['one-left', 'half'],
                         self.ranking([half, one_left], spec))
