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

"""explain and what-if give the verdicts and placements nova would.

The oracle is nova's own scheduler code: GpuPassthroughFilter and
GpuWeigher, PciPassthroughFilter and PCIWeigher through nova's
HostFilterHandler and HostWeightHandler on real HostStates, devices
consumed by nova's ``PciDeviceStats.apply_requests`` (the harness's
object-level scheduler loop, ``nova_gpu_ext.harness.sim``).
"""

import time

import fixtures
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from nova.scheduler.filters import pci_passthrough_filter
from nova.scheduler.weights import pci
from nova import test

from nova_gpu_ext.admin.fleet import explain
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.admin.fleet import whatif
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import sim
from nova_gpu_ext.scheduler.filters import gpu_passthrough
from nova_gpu_ext.scheduler.weights import gpu

A = models.ModelKey('10de', '1db4')
B = models.ModelKey('10de', '1eb8')
SIM_ALIASES = {'a': sim.Alias('a', (A,)), 'b': sim.Alias('b', (B,)),
               'gpu': sim.Alias('gpu', (A, B))}
ALIASES = gpu_requests.alias_specs(
    {'name': name, 'vendor_id': m.vendor_id, 'product_id': m.product_id,
     'device_type': 'type-PCI'}
    for name, alias in SIM_ALIASES.items() for m in alias.models)
NAMES = snapshot.ModelFilter()
SAME = models.GpuPolicy(True, models.NumaMode.ANY,
                        models.SwitchMode.ANY)

# GPUs under PCIe switches (sw0 on node 0, sw1 on node 1), or none.
host_st = st.lists(st.tuples(st.sampled_from([A, B]), st.sampled_from([0, 1]),
                             st.booleans()),
                   min_size=0, max_size=6)
fleet_st = st.lists(host_st, min_size=1, max_size=5)
request_st = st.tuples(
    st.sampled_from(['a', 'b', 'gpu']), st.integers(1, 4),
    st.sampled_from([{}, {'gpu:numa': 'single'}, {'gpu:same_model': 'false'},
                     {'gpu:numa': 'prefer'}, {'gpu:numa': 'any'},
                     {'gpu:switch': 'single'}, {'gpu:switch': 'prefer'},
                     {'gpu:switch': 'prefer', 'gpu:numa': 'prefer'}]))


def sim_fleet(layouts):
    return [sim.Host(f'h{i}', [sim.Gpu(*gpu[:2], pcie_switch=_switch(gpu))
                               for gpu in gpus])
            for i, gpus in enumerate(layouts)]


def _switch(gpu):
    """``(model, numa[, switch])``: True for the switch of the GPU's node."""
    switch = gpu[2] if gpu[2:] else None
    return f'sw{gpu[1]}' if switch is True else switch or None


def snapshot_of(hosts):
    return snapshot.Snapshot(tuple(
        snapshot.HostGpus(h.name, 'cell1', {},
                          tuple(dict(p) for p in h.state.pci_stats.pools))
        for h in hosts), 'test', 0.0)


def gpu_request(alias, count, extra_specs):
    """The request nova's scheduler sees.

    Its policy is read as the filter reads it: the defaults of the
    ``[nova_gpu_ext]`` options for what the flavor does not set.
    """
    return gpu_requests.GpuRequest(
        f'{alias}:{count}', ((alias, count),),
        models.policy_from_extra_specs(extra_specs,
                                       gpu_requests.default_policy()))


def host_list(names):
    """What-if's hosts column for servers placed on these hosts."""
    placed = whatif.Placed()
    for name in names:
        placed.hosts[name] = placed.hosts.get(name, 0) + 1
    return placed.host_list()


OURS = ([gpu_passthrough.GpuPassthroughFilter], [gpu.GpuWeigher])
IN_TREE = ([pci_passthrough_filter.PciPassthroughFilter], [pci.PCIWeigher])


class TestExplain(test.NoDBTestCase):

    @settings(max_examples=150, deadline=None)
    @given(fleet_st, request_st)
    def test_passes_exactly_where_the_filter_passes(self, layouts, req):
        alias, count, extra = req
        hosts = sim_fleet(layouts)
        spec = sim.request_spec([(SIM_ALIASES[alias], count)], extra)
        for host in hosts:
            host.offer(spec)
        passed = {h.host for h in sim.Scheduler(*OURS).filter_handler
                  .get_filtered_objects(
                      [gpu_passthrough.GpuPassthroughFilter()],
                      [h.state for h in hosts], spec)}
        got = explain.explain(snapshot_of(hosts),
                              gpu_request(alias, count, extra), ALIASES,
                              NAMES)
        self.assertEqual(passed, {v.host for v in got if v.passes})

    def test_reasons_in_words(self):
        hosts = sim_fleet([
            [(A, 0), (B, 0)],            # a class request of 2 would mix
            [(A, 0), (A, 1)],            # split under single
            [(B, 0)],                    # too few of one model
            [],                          # nothing at all
        ])
        snap = snapshot_of(hosts)
        single = gpu_requests.GpuRequest(
            'gpu:2', (('gpu', 2),),
            models.GpuPolicy(True, models.NumaMode.SINGLE,
                             models.SwitchMode.ANY))
        reasons = [v.reason for v in
                   explain.explain(snap, single, ALIASES, NAMES)]
        self.assertIn('too few free of one model', reasons[0])
        self.assertIn('would split NUMA', reasons[1])
        self.assertIn('too few free of one model', reasons[2])
        self.assertIn('wrong model', reasons[3])
        mix = [v.reason for v in explain.explain(
            snap, gpu_requests.GpuRequest('gpu:2', (('gpu', 2),), SAME),
            ALIASES, NAMES)]
        self.assertIn('too few free of one model', mix[0])
        self.assertTrue(mix[1].startswith('passes: gpu:2 <- 1 x 10de:1db4'))
        unknown = explain.explain(snap, gpu_requests.GpuRequest(
            'x:1', (('x', 1),), SAME), ALIASES, NAMES)
        self.assertEqual({False}, {v.passes for v in unknown})
        self.assertIn('no such alias x', unknown[0].reason)

    def test_switch_refusals_name_the_switches(self):
        hosts = sim_fleet([
            [(A, 0, 'sw-a'), (A, 0, 'sw-b')],         # the claim splits
            [(A, 0, 'sw-a'), (A, 0, 'sw-b'), (A, 0, 'sw-b')],
            [(A, 0, 'sw-a'), (A, 0, 'sw-a')],         # under one switch
        ])
        single = gpu_request('a', 2, {'gpu:switch': 'single'})
        reasons = [v.reason for v in explain.explain(
            snapshot_of(hosts[:1]), single, ALIASES, NAMES)]
        self.assertEqual(
            ['would split over PCIe switches: no switch has 2 free of one '
             'model for a:2 under gpu:switch=single (free: 10de:1db4 1 '
             'under switch sw-a, 10de:1db4 1 under switch sw-b)'], reasons)
        reasons = [v.reason for v in explain.explain(
            snapshot_of(hosts[1:]), single, ALIASES, NAMES)]
        self.assertEqual(
            'would split over PCIe switches: the claim would give a:2 '
            '1 x 10de:1db4 under switch sw-a + 1 x 10de:1db4 under switch '
            'sw-b', reasons[0])
        self.assertTrue(reasons[1].startswith('passes'))
        prefer = gpu_request('a', 2, {'gpu:switch': 'prefer'})
        got = explain.explain(snapshot_of(hosts), prefer, ALIASES, NAMES)
        self.assertEqual([False, False, True], [v.passes for v in got])
        self.assertEqual(
            'would split over PCIe switches under gpu:switch=prefer while 1 '
            'host(s) keep it under one switch (h2) (the claim would give '
            'a:2 1 x 10de:1db4 under switch sw-a + 1 x 10de:1db4 under '
            'switch sw-b)', got[0].reason)

    def test_what_if_keeps_a_request_under_one_switch(self):
        # Best fit is h0 (node left empty), but its pair splits.
        hosts = sim_fleet([[(A, 0, 'sw-a'), (A, 0, 'sw-b')],
                           [(A, 0, 'sw-a')] * 3])
        for mode, hosts_column in (('single', 'h1'), ('any', 'h0')):
            out, = whatif.what_if(
                snapshot_of(hosts),
                [(gpu_request('a', 2, {'gpu:switch': mode}), 1)], ALIASES,
                NAMES)
            self.assertEqual(hosts_column, out.hosts, mode)

    def test_prefer_refuses_splits_while_one_host_keeps_it_whole(self):
        hosts = sim_fleet([[(A, 0), (A, 1)], [(A, 1), (A, 1)]])
        prefer = gpu_requests.GpuRequest(
            'a:2', (('a', 2),),
            models.GpuPolicy(True, models.NumaMode.PREFER,
                             models.SwitchMode.ANY))
        got = explain.explain(snapshot_of(hosts), prefer, ALIASES, NAMES)
        self.assertEqual([False, True], [v.passes for v in got])
        self.assertIn('while 1 host(s) keep it on one node (h1)',
                      got[0].reason)
        alone = explain.explain(snapshot_of(hosts[:1]), prefer, ALIASES,
                                NAMES)
        self.assertTrue(alone[0].passes)
        self.assertIn('no host keeps it on one', alone[0].reason)


class TestOneEngine(test.NoDBTestCase):
    """explain formats the core's decision: change a rule, both follow."""

    def filter_passes(self, hosts, spec):
        for host in hosts:
            host.offer(spec)
        return {h.host for h in sim.Scheduler(*OURS).filter_handler
                .get_filtered_objects(
                    [gpu_passthrough.GpuPassthroughFilter()],
                    [h.state for h in hosts], spec)}

    def test_a_changed_core_rule_moves_the_filter_and_explain_together(self):
        hosts = sim_fleet([[(A, 0), (A, 0)], [(A, 1), (A, 1)],
                           [(A, 0), (A, 1), (A, 1)]])
        spec = sim.request_spec([(SIM_ALIASES['a'], 1)], {})
        request = gpu_request('a', 1, {})
        before = explain.explain(snapshot_of(hosts), request, ALIASES, NAMES)
        self.assertEqual({'h0', 'h1', 'h2'}, self.filter_passes(hosts, spec))
        self.assertEqual(['h0', 'h1', 'h2'],
                         [e.host for e in before if e.passes])

        rule = fit._first_misfit

        def no_node_one(requests, result, policy):
            for index, takes in enumerate(result.takes):
                if any(t.numa_node == 1 for t in takes):
                    return index, fit.Why.SPLIT, 'node 1 is for tests'
            return rule(requests, result, policy)
        self.useFixture(fixtures.MonkeyPatch(
            'nova_gpu_ext.gpu.fit._first_misfit', no_node_one))
        after = explain.explain(snapshot_of(hosts), request, ALIASES, NAMES)
        self.assertEqual({'h0', 'h2'}, self.filter_passes(hosts, spec))
        self.assertEqual(['h0', 'h2'], [e.host for e in after if e.passes])
        [refused] = [e for e in after if not e.passes]
        self.assertEqual('h1', refused.host)
        self.assertIn('would split NUMA: the claim would give a:1 1 x '
                      '10de:1db4 on NUMA 1', refused.reason)


class TestWhatIf(test.NoDBTestCase):

    @settings(max_examples=60, deadline=None)
    @given(fleet_st, st.lists(st.tuples(request_st, st.integers(1, 3)),
                              min_size=1, max_size=4))
    def test_placements_are_the_schedulers_own(self, layouts, plan):
        self.assertPlacedAsTheSchedulers(layouts, plan)

    def test_a_class_alias_takes_the_model_with_more_free(self):
        # Equal fits everywhere: 3 hosts of 4 A, 6 of 4 B.  Before,
        # gpu:2 went to the first host by name, broke every A host and
        # left a:4 nothing; now it takes the model with more free.
        layouts = [[(A, 0)] * 4] * 3 + [[(B, 0)] * 4] * 6
        plan = [(('gpu', 2, {}), 5), (('a', 4, {}), 3)]
        outcomes = self.assertPlacedAsTheSchedulers(layouts, plan)
        self.assertEqual([(5, 'h3 x2, h4 x2, h5'), (3, 'h0, h1, h2')],
                         [(o.fit, o.hosts) for o in outcomes])

    def assertPlacedAsTheSchedulers(self, layouts, plan):
        """What-if's placements are those of nova's handlers, both sides."""
        outcomes = whatif.what_if(
            snapshot_of(sim_fleet(layouts)),
            [(gpu_request(*req), n) for req, n in plan], ALIASES, NAMES)
        for setup, fit_column, where in (
                (OURS, 'fit', 'hosts'),
                (IN_TREE, 'fit_in_tree', 'hosts_in_tree')):
            hosts = sim_fleet(layouts)
            scheduler = sim.Scheduler(*setup)
            for outcome, ((alias, count, extra), n) in zip(outcomes, plan):
                placed = [scheduler.place(hosts, sim.request_spec(
                    [(SIM_ALIASES[alias], count)], extra)).host
                    for _ in range(n)]
                names = [h.name for h in placed if h]
                self.assertEqual(len(names), getattr(outcome, fit_column))
                self.assertEqual(host_list(names), getattr(outcome, where))
        return outcomes

    def test_a_count_beyond_the_fleet_ends_at_the_first_miss(self):
        hosts = sim_fleet([[(A, 0)] * 8] * 50)
        start = time.monotonic()
        [out] = whatif.what_if(snapshot_of(hosts),
                               [(gpu_request('a', 1, {}), 10 ** 11)],
                               ALIASES, NAMES)
        self.assertLess(time.monotonic() - start, 20)
        self.assertEqual((10 ** 11, 400, 400, 0, 0),
                         (out.asked, out.fit, out.fit_in_tree, out.free_left,
                          out.free_left_in_tree))

    def test_drained_servers_are_placed_first_on_the_other_hosts(self):
        hosts = sim_fleet([[(A, 0), (A, 0)], [(A, 0), (A, 0), (B, 1)]])
        moved = [gpu_requests.GpuRequest('vm1 (u1)', (('a', 2),), SAME)]
        out = whatif.what_if(snapshot_of(hosts), [], ALIASES, NAMES,
                             drained=['h0'], moved=moved)
        self.assertEqual([('vm1 (u1)', 1, 1, 'h1', 1)],
                         [(o.request, o.asked, o.fit, o.hosts, o.free_left)
                          for o in out])
