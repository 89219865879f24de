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

"""GpuPassthroughFilter on real nova HostState / RequestSpec objects.

Hosts go through nova's own HostFilterHandler, as in nova-scheduler.
"""

import logging

import fixtures
from nova import objects
from nova.scheduler import filters
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
        self.handler = filters.HostFilterHandler()

    def passed(self, hosts, spec, filt=None):
        """Names of the hosts that pass, through nova's handler."""
        return [h.host for h in self.handler.get_filtered_objects(
            [filt or self.filt], hosts, spec) or ()]

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

    def test_flavor_without_pci_requests_passes(self):
        host = fakes.host('h', [])
        self.assertTrue(self.filt.host_passes(host, fakes.spec()))

    def test_host_without_pci_stats_is_refused_not_raised(self):
        host = fakes.host('h', [])
        host.pci_stats = None
        self.assertFalse(self.filt.host_passes(host, self.class_spec()))


class TestPortRequests(FilterTestCase):
    """Neutron port requests are judged exactly as nova judges them."""

    def verdicts(self, pools, *requests):
        spec = fakes.spec(*requests)
        return self.both(lambda: fakes.host('h', pools()), spec)

    def test_vf_port_needs_a_vf_on_its_physical_network(self):
        port = fakes.port_request()
        self.assertEqual((False, False), self.verdicts(
            lambda: [fakes.pool(K4200)], port))
        self.assertEqual((True, True), self.verdicts(
            lambda: [fakes.nic_pool()], port))
        self.assertEqual((False, False), self.verdicts(
            lambda: [fakes.nic_pool(physnet='physnet2')], port))

    def test_pf_port_takes_a_pf_and_not_a_vf(self):
        port = fakes.port_request(dev_type='type-PF')
        self.assertEqual((False, False), self.verdicts(
            lambda: [fakes.nic_pool()], port))
        self.assertEqual((True, True), self.verdicts(
            lambda: [fakes.nic_pool(dev_type='type-PF', count=1)], port))

    def test_vdpa_and_remote_managed_pools_only_for_their_ports(self):
        vdpa = lambda: [fakes.nic_pool(dev_type='vdpa')]  # noqa: E731
        remote = lambda: [fakes.nic_pool(remote_managed='true')]  # noqa
        self.assertEqual((False, False), self.verdicts(
            vdpa, fakes.port_request()))
        self.assertEqual((True, True), self.verdicts(
            vdpa, fakes.port_request(dev_type='vdpa')))
        self.assertEqual((False, False), self.verdicts(
            remote, fakes.port_request()))
        self.assertEqual((True, True), self.verdicts(
            remote, fakes.port_request(remote_managed=True)))

    def test_port_and_gpu_requests_of_one_server(self):
        pools = lambda: [fakes.pool(K4200), fakes.pool(V100),  # noqa: E731
                         fakes.nic_pool(count=1)]
        port, gpus = fakes.port_request(), fakes.request(2, K4200, V100)
        # Both are met, so nova passes; the GPUs would be of two models.
        self.assertEqual((False, True), self.verdicts(pools, port, gpus))
        self.assertEqual((True, True), self.verdicts(
            pools, port, fakes.request(1, K4200)))
        # A second port finds no VF left after the first.
        self.assertEqual((False, False), self.verdicts(
            pools, port, fakes.port_request(), fakes.request(1, K4200)))

    def test_no_gpu_policy_for_ports(self):
        # Two VF ports on two NUMA nodes: nothing to refuse under single.
        pools = lambda: [fakes.nic_pool(count=1, numa=0),  # noqa: E731
                         fakes.nic_pool(count=1, numa=1,
                                        address='0000:3b:00.1')]
        spec = fakes.spec(fakes.port_request(), fakes.port_request(),
                          extra_specs={'gpu:numa': 'single'})
        self.assertEqual((True, True), self.both(
            lambda: fakes.host('h', pools()), spec))


class TestNumaPolicies(FilterTestCase):
    """single, prefer and any on one host list, through nova's handler."""

    def numa_spec(self, value, *requests):
        return fakes.spec(*(requests or [fakes.request(2, K4200)]),
                          extra_specs={'gpu:numa': value})

    def hosts(self, *names):
        # 'split': nova's walk takes node 0's only K4200, then node 1's.
        layouts = {
            'split': [(K4200, 0), (K4200, 1), (K4200, 1)],
            'local': [(K4200, 1), (K4200, 1)],
            'split2': [(K4200, 0), (K4200, 1)],
        }
        return [fakes.host(n, [fakes.pool(m, numa=numa)
                               for m, numa in layouts[n]]) for n in names]

    def test_single_never_splits(self):
        spec = self.numa_spec('single')
        self.assertEqual(['local'],
                         self.passed(self.hosts('split', 'local'), spec))
        self.assertEqual([], self.passed(self.hosts('split', 'split2'), spec))

    def test_prefer_splits_only_when_no_host_can_keep_one_node(self):
        spec = self.numa_spec('prefer')
        self.assertEqual(['local'],
                         self.passed(self.hosts('split', 'local'), spec))
        self.assertEqual(['split', 'split2'],
                         self.passed(self.hosts('split', 'split2'), spec))

    def test_any_does_not_filter_on_numa(self):
        spec = self.numa_spec('any')
        self.assertEqual(['split', 'local'],
                         self.passed(self.hosts('split', 'local'), spec))

    def test_numa_default_option(self):
        spec = fakes.spec(fakes.request(2, K4200))
        for value, expected in (('single', ['local']),
                                ('prefer', ['local']),
                                ('any', ['split', 'local'])):
            self.flags(numa_default=value, group='nova_gpu_ext')
            self.assertEqual(expected, self.passed(
                self.hosts('split', 'local'), spec), value)

    def test_prefer_is_logged_with_the_hosts_that_keep_one_node(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_ext', level=logging.DEBUG))
        self.passed(self.hosts('split', 'local'), self.numa_spec('prefer'))
        self.assertIn('splits a GPU request over NUMA nodes, and 1 host(s) '
                      'can keep it on one (gpu:numa=prefer)', logger.output)

    def placement_hosts(self, req):
        both = fakes.host('both', [
            fakes.pool(K4200, numa=0, rp_uuid='b0'),
            fakes.pool(K4200, numa=1, rp_uuid='b1'),
            fakes.pool(K4200, numa=1, rp_uuid='b2')],
            [fakes.candidate(req, 'b0', 'b1'),
             fakes.candidate(req, 'b1', 'b2')])
        split = fakes.host('split', [
            fakes.pool(K4200, numa=0, rp_uuid='s0'),
            fakes.pool(K4200, numa=1, rp_uuid='s1')],
            [fakes.candidate(req, 's0', 's1')])
        return both, split

    def test_placement_prefer_drops_split_candidates_and_hosts(self):
        req = fakes.request(2, K4200)
        both, split = self.placement_hosts(req)
        spec = self.numa_spec('prefer', req)
        self.assertEqual(['both'], self.passed([both, split], spec))
        self.assertEqual([fakes.candidate(req, 'b1', 'b2')],
                         both.allocation_candidates)
        _, split = self.placement_hosts(req)
        self.assertEqual(['split'], self.passed([split], spec))

    def test_placement_any_keeps_every_candidate_unsplit_first(self):
        req = fakes.request(2, K4200)
        both, split = self.placement_hosts(req)
        self.assertEqual(['both', 'split'], self.passed(
            [both, split], self.numa_spec('any', req)))
        self.assertEqual([fakes.candidate(req, 'b1', 'b2'),
                          fakes.candidate(req, 'b0', 'b1')],
                         both.allocation_candidates)

    def test_placement_single(self):
        req = fakes.request(2, K4200)
        both, split = self.placement_hosts(req)
        self.assertEqual(['both'], self.passed(
            [both, split], self.numa_spec('single', req)))
        self.assertEqual([fakes.candidate(req, 'b1', 'b2')],
                         both.allocation_candidates)


class TestRequestScoped(FilterTestCase):

    def test_spec_changed_in_place_between_calls(self):
        spec = fakes.spec(fakes.request(2, K4200, V100))
        host = lambda: [fakes.host('h', [  # noqa: E731
            fakes.pool(K4200), fakes.pool(V100)])]
        self.assertEqual([], self.passed(host(), spec))
        spec.flavor.extra_specs['gpu:same_model'] = 'false'
        self.assertEqual(['h'], self.passed(host(), spec))
        spec.pci_requests.requests[0].count = 3
        self.assertEqual([], self.passed(host(), spec))

    def test_interleaved_specs_each_judged_on_their_own(self):
        mixed = fakes.spec(fakes.request(2, K4200, V100))
        mixed_ok = fakes.spec(fakes.request(2, K4200, V100),
                              extra_specs={'gpu:same_model': 'false'})
        host = lambda: [fakes.host('h', [  # noqa: E731
            fakes.pool(K4200), fakes.pool(V100)])]
        verdicts = [self.passed(host(), s)
                    for s in (mixed, mixed_ok, mixed, mixed_ok)]
        self.assertEqual([[], ['h'], [], ['h']], verdicts)

    def test_option_changed_between_calls(self):
        spec = fakes.spec(fakes.request(2, K4200, V100))
        host = lambda: [fakes.host('h', [  # noqa: E731
            fakes.pool(K4200), fakes.pool(V100)])]
        self.assertEqual([], self.passed(host(), spec))
        self.flags(same_model_default=False, group='nova_gpu_ext')
        self.assertEqual(['h'], self.passed(host(), spec))


class TestNoHostSummary(FilterTestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_ext', level=logging.INFO))

    def test_one_info_line_with_the_request_and_most_free_per_model(self):
        hosts = [fakes.host(f'k{n}', [fakes.pool(K4200, numa=i % 2)
                                      for i in range(n)])
                 for n in range(1, 6)]
        hosts.append(fakes.host('mix', [fakes.pool(K4200), fakes.pool(V100),
                                        fakes.pool(K4200), fakes.pool(V100)]))
        spec = fakes.spec(fakes.request(6, K4200, V100, alias='gpu'))
        spec.instance_uuid = uuidutils.generate_uuid()
        self.assertEqual([], self.passed(hosts, spec))
        lines = self.logger.output.splitlines()
        self.assertEqual(1, len(lines), lines)
        self.assertIn(f'no host for instance {spec.instance_uuid} '
                      f'requesting gpu:6 (same_model=True, numa=', lines[0])
        self.assertIn('among 6 host(s): 6 not enough matching free devices',
                      lines[0])
        self.assertIn('most free per model: 10de:11b4: 5 on k5 (n0:3,n1:2), '
                      '4 on k4 (n0:2,n1:2), 3 on k3 (n0:2,n1:1); '
                      '10de:1db4: 2 on mix (n0:2)', lines[0])

    def test_reasons_are_counted_by_kind(self):
        spec = fakes.spec(fakes.request(2, K4200, V100))
        hosts = [fakes.host('mix', [fakes.pool(K4200), fakes.pool(V100)]),
                 fakes.host('bare', [])]
        self.assertEqual([], self.passed(hosts, spec))
        self.assertIn('among 2 host(s): 1 not enough matching free devices, '
                      '1 mixed models;', self.logger.output)

    def test_nothing_at_info_when_a_host_passes(self):
        spec = fakes.spec(fakes.request(1, K4200))
        hosts = [fakes.host('k', [fakes.pool(K4200)]),
                 fakes.host('v', [fakes.pool(V100)])]
        self.assertEqual(['k'], self.passed(hosts, spec))
        self.assertEqual('', self.logger.output)


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
        spec = fakes.spec(self.req, extra_specs={'gpu:numa': 'any'})
        self.assertEqual(['h'], self.passed([host], spec))
        self.assertEqual([local, split], host.allocation_candidates)
        # The default, prefer, drops the split one: the host keeps one node.
        host = self.host([mixed, split, local])
        self.assertEqual(['h'], self.passed([host], self.spec))
        self.assertEqual([local], host.allocation_candidates)

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

    def test_not_run_on_rebuild(self):
        self.assertFalse(self.filt.RUN_ON_REBUILD)
        spec = fakes.spec(self.req)
        spec.scheduler_hints = {'_nova_check_type': ['rebuild']}
        host = self.host([])
        self.assertEqual(['h'], self.passed([host], spec))


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
