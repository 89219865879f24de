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

"""Host decisions and candidate ranking of the pure core."""


from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import inventory
from nova_gpu_ext.gpu import models
from tests import base as test_base
from tests.unit.gpu.test_claims import gpu_request
from tests.unit.gpu.test_claims import K4200
from tests.unit.gpu.test_claims import pool
from tests.unit.gpu.test_claims import V100

SAME = models.GpuPolicy(True, models.NumaMode.ANY,
                        models.SwitchMode.ANY)
SINGLE = models.GpuPolicy(True, models.NumaMode.SINGLE,
                          models.SwitchMode.ANY)
MIXED_OK = models.GpuPolicy(False, models.NumaMode.ANY,
                            models.SwitchMode.ANY)
# Devices without a pcie_switch tag are each their own switch.
BOTH_SPLIT = frozenset({fit.NUMA, fit.SWITCH})
SWITCH_SPLIT = frozenset({fit.SWITCH})
LEGACY = [{'': ['root']}]


class TestLegacyDecision(test_base.TestCase):

    def test_walk_that_mixes_models_is_refused_with_reason(self):
        pools = [pool(K4200), pool(V100), pool(K4200), pool(V100)]
        result = decision.decide(pools, [gpu_request(2, K4200, V100)], SAME,
                                 LEGACY)
        self.assertFalse(result.passes)
        self.assertIn('mixed models (1 x 10de:11b4 + 1 x 10de:1db4)',
                      result.reason)

    def test_walk_of_one_model_passes(self):
        pools = [pool(K4200), pool(K4200), pool(V100)]
        result = decision.decide(pools, [gpu_request(2, K4200, V100)], SAME,
                                 LEGACY)
        self.assertEqual((0,), result.order)

    def test_same_model_off_lets_models_mix(self):
        pools = [pool(K4200), pool(V100)]
        self.assertTrue(decision.decide(
            pools, [gpu_request(2, K4200, V100)], MIXED_OK, LEGACY).passes)

    def test_numa_single_refuses_a_walk_over_two_nodes(self):
        pools = [pool(K4200, numa=0), pool(K4200, numa=1)]
        result = decision.decide(
            pools, [gpu_request(2, K4200)], SINGLE, LEGACY)
        self.assertFalse(result.passes)
        self.assertIn('split over NUMA nodes', result.reason)
        self.assertTrue(decision.decide(pools, [gpu_request(2, K4200)], SAME,
                                        LEGACY).passes)

    def test_no_candidates_refuses(self):
        result = decision.decide([pool(K4200)], [gpu_request(1, K4200)], SAME,
                                 [])
        self.assertFalse(result.passes)
        self.assertIn('no allocation candidates', result.reason)

    def test_two_items_may_differ_but_each_is_one_model(self):
        pools = [pool(K4200), pool(V100), pool(V100)]
        requests = [gpu_request(1, K4200, rid='a', alias='k'),
                    gpu_request(2, V100, rid='b', alias='v')]
        self.assertTrue(decision.decide(pools, requests, SAME, LEGACY).passes)


def rp_pool(model, numa, rp_uuid):
    """A pool of one device, as nova makes them: one per address."""
    return pool(model, numa=numa, rp_uuid=rp_uuid, address=rp_uuid)


class TestPlacementDecision(test_base.TestCase):

    pools = [rp_pool(K4200, 0, 'k0'),
             rp_pool(K4200, 1, 'k1'),
             rp_pool(V100, 0, 'v0'),
             rp_pool(V100, 0, 'v0b'),
             rp_pool(V100, 1, 'v1')]

    @staticmethod
    def mapping(*rps):
        return {'': ['root'], **{f'r1-{i}': [rp] for i, rp in enumerate(rps)}}

    def test_mixed_candidates_are_dropped_the_rest_ranked(self):
        mappings = [self.mapping('k0', 'v0'),     # mixed
                    self.mapping('v0', 'v1'),     # one model, two nodes
                    self.mapping('k0', 'k1'),     # one model, two nodes
                    self.mapping('v0', 'v0b')]    # one model, one node
        result = decision.decide(self.pools, [gpu_request(2, K4200, V100)],
                                 SAME, mappings)
        self.assertEqual(3, result.order[0])
        self.assertNotIn(0, result.order)
        self.assertEqual({1, 2, 3}, set(result.order))

    def test_all_mixed_refuses(self):
        mappings = [self.mapping('k0', 'v0'), self.mapping('k1', 'v1')]
        result = decision.decide(self.pools, [gpu_request(2, K4200, V100)],
                                 SAME, mappings)
        self.assertFalse(result.passes)
        self.assertIn('mixed models', result.reason)

    def test_numa_single_drops_split_candidates(self):
        mappings = [self.mapping('v0', 'v1'), self.mapping('v0', 'v0b')]
        result = decision.decide(self.pools, [gpu_request(2, V100)], SINGLE,
                                 mappings)
        self.assertEqual((1,), result.order)

    def test_fit_first_then_one_node(self):
        pools = self.pools + [rp_pool(V100, 0, 'v0c')]
        request = [gpu_request(2, K4200, V100)]
        # 2 x K4200 over both nodes leaves nothing on the nodes touched,
        # 2 x V100 on node 0 leaves one there: the split fits better.
        result = decision.decide(pools, request, SAME, [
            self.mapping('v0', 'v0b'), self.mapping('k0', 'k1')])
        self.assertEqual(((1, 0), (BOTH_SPLIT, SWITCH_SPLIT)),
                         (result.order, result.split))
        # Equal fits: the one that keeps one node first.
        result = decision.decide(self.pools, request, SAME, [
            self.mapping('k0', 'k1'), self.mapping('v0', 'v0b')])
        self.assertEqual(((1, 0), (SWITCH_SPLIT, BOTH_SPLIT)),
                         (result.order, result.split))

    def test_single_device_goes_to_the_node_it_fills_best(self):
        # V100 free: 2 on node 0, 1 on node 1: take node 1's last one and
        # keep node 0's pair whole for a 2-GPU request.
        mappings = [self.mapping('v0'), self.mapping('v1')]
        result = decision.decide(self.pools, [gpu_request(1, V100)], SAME,
                                 mappings)
        self.assertEqual((1, 0), result.order)


class TestPreferOverTheHostList(test_base.TestCase):

    PREFER = models.GpuPolicy(True, models.NumaMode.PREFER,
                              models.SwitchMode.ANY)

    def decisions(self, *layouts):
        return [decision.decide([pool(K4200, numa=n) for n in layout],
                                [gpu_request(2, K4200)], self.PREFER, LEGACY)
                for layout in layouts]

    def test_split_hosts_refused_while_another_keeps_one_node(self):
        kept = decision.keep_local(self.decisions((0, 1), (1, 1)),
                                   [gpu_request(2, K4200)],
                                   self.PREFER).decisions
        self.assertEqual([False, True], [d.passes for d in kept])
        self.assertEqual(fit.Why.AVOIDABLE_SPLIT, kept[0].refusal.why)

    def test_splits_kept_when_no_host_keeps_one_node(self):
        judged = self.decisions((0, 1), (1, 0), (0,))
        kept = decision.keep_local(judged, [gpu_request(2, K4200)],
                                   self.PREFER).decisions
        self.assertEqual([True, True, False], [d.passes for d in kept])

    def test_other_policies_are_left_alone(self):
        judged = self.decisions((0, 1), (1, 1))
        self.assertEqual(judged, decision.keep_local(
            judged, [gpu_request(2, K4200)], SAME).decisions)


class TestNoHostSummary(test_base.TestCase):

    def test_counts_reasons_and_names_the_hosts_with_most_free(self):
        requests = [gpu_request(3, K4200)]
        layouts = {'a': [0, 1], 'b': [1], 'c': [], 'd': [0, 0]}
        judged = [(name, decision.decide([pool(K4200, numa=n) for n in ns]
                                         + [pool(V100)], requests, SAME,
                                         LEGACY))
                  for name, ns in layouts.items()]
        summary = decision.no_host_summary(requests, judged, best=2)
        self.assertEqual('4 not enough matching free devices; most free per '
                         'model: 10de:11b4: 2 on a (n0:1,n1:1), 2 on d (n0:2)',
                         summary)

    def test_no_matching_device_anywhere(self):
        requests = [gpu_request(1, K4200)]
        judged = [('v', decision.decide([pool(V100)], requests, SAME,
                                        LEGACY))]
        self.assertIn('most free per model: no matching devices on any host',
                      decision.no_host_summary(requests, judged))


class TestInventory(test_base.TestCase):

    def test_sums_counts_keeps_zero_pools_and_numa(self):
        inv = inventory.Inventory.from_pools(
            [pool(K4200, numa=0, count=0, rp_uuid='a'),
             pool(K4200, numa=1, count=2, rp_uuid='b'),
             pool(V100, numa=None, count=1)])
        self.assertEqual({K4200: 2, V100: 1}, inv.free)
        self.assertEqual(0, inv.free_by_numa[K4200, 0])
        self.assertEqual('10de:11b4=2(n0:0,n1:2) 10de:1db4=1(nNone:1)',
                         inv.describe())


class TestPolicy(test_base.TestCase):

    def test_extra_specs_override_the_default(self):
        policy = models.policy_from_extra_specs(
            {'gpu:same_model': 'false', 'gpu:numa': 'single'},
            models.GpuPolicy(True, models.NumaMode.ANY,
                             models.SwitchMode.ANY))
        self.assertEqual(models.GpuPolicy(False, models.NumaMode.SINGLE,
                                          models.SwitchMode.ANY),
                         policy)

    def test_bad_values_fall_back_to_the_default(self):
        default = models.GpuPolicy(True, models.NumaMode.PREFER,
                                   models.SwitchMode.ANY)
        self.assertEqual(default, models.policy_from_extra_specs(
            {'gpu:same_model': 'perhaps', 'gpu:numa': 'sideways'}, default))
