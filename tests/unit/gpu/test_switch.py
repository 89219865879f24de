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

"""The PCIe switch level of the core: takes, refusals and their evidence."""

from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import inventory
from nova_gpu_ext.gpu import models
from tests import base as test_base
from tests.unit.gpu.test_claims import gpu_request
from tests.unit.gpu.test_claims import K4200
from tests.unit.gpu.test_claims import pool

LEGACY = [None]
SW_A = '0000:02:00.0'
SW_B = '0000:82:00.0'


def policy(switch, numa='any'):
    return models.GpuPolicy(True, models.NumaMode(numa),
                            models.SwitchMode(switch))


def gpus(*switches):
    """One pool per device in walk order; None: no switch above it."""
    found = []
    for index, switch in enumerate(switches):
        tags = {'address': f'0000:{0x10 + index:02x}:00.0'}
        if switch:
            tags['pcie_switch'] = switch
        found.append(pool(K4200, **tags))
    return found


class TestTakes(test_base.TestCase):

    def test_a_take_names_the_switch_of_its_pool(self):
        result = claims.walk(gpus(SW_A, SW_B), [gpu_request(2, K4200)])
        self.assertEqual([SW_A, SW_B], [t.switch for t in result.takes[0]])

    def test_a_device_without_a_switch_is_its_own_domain(self):
        pools = gpus(None, None)
        result = claims.walk(pools, [gpu_request(2, K4200)])
        self.assertEqual([p['address'] for p in pools],
                         [t.switch for t in result.takes[0]])
        self.assertEqual(1, fit.SWITCH.splits([gpu_request(2, K4200)],
                                              result))

    def test_hosts_told_apart_by_their_switches(self):
        alike = claims.Alike(claims.read_keys([gpu_request(2, K4200)]))
        self.assertNotEqual(alike.kind(gpus(SW_A, SW_A)),
                            alike.kind(gpus(SW_A, SW_B)))

    def test_inventory_counts_free_per_switch(self):
        inv = inventory.Inventory.from_pools(gpus(SW_A, SW_A, SW_B))
        self.assertEqual({(K4200, SW_A): 2, (K4200, SW_B): 1},
                         inv.free_by_switch)


class TestSingle(test_base.TestCase):

    def test_split_walk_refused_with_its_evidence(self):
        found = decision.decide(gpus(SW_A, SW_B, SW_B),
                                [gpu_request(2, K4200)], policy('single'),
                                LEGACY)
        self.assertFalse(found.passes)
        refusal = found.refusal
        self.assertEqual(fit.Why.SWITCH_SPLIT, refusal.why)
        self.assertEqual({SW_A, SW_B}, {t.switch for t in refusal.takes})
        self.assertEqual({(K4200, SW_A): 1, (K4200, SW_B): 2},
                         refusal.on_switch)
        self.assertEqual(2, refusal.most_on_one_switch)

    def test_walk_under_one_switch_passes(self):
        found = decision.decide(gpus(SW_A, SW_A, SW_B),
                                [gpu_request(2, K4200)], policy('single'),
                                LEGACY)
        self.assertTrue(found.passes)
        self.assertEqual((frozenset(),), found.split)

    def test_numa_refusal_comes_first(self):
        pools = [pool(K4200, numa=0, address='a', pcie_switch=SW_A),
                 pool(K4200, numa=1, address='b', pcie_switch=SW_B)]
        found = decision.decide(pools, [gpu_request(2, K4200)],
                                policy('single', numa='single'), LEGACY)
        self.assertEqual(fit.Why.SPLIT, found.refusal.why)

    def test_ranks_switch_splits_near_numa_splits(self):
        order = [fit.Why.SPLIT, fit.Why.SWITCH_SPLIT,
                 fit.Why.AVOIDABLE_SPLIT, fit.Why.AVOIDABLE_SWITCH_SPLIT]
        self.assertEqual(order, sorted(order, key=lambda w: w.rank))
        self.assertLess(fit.Why.MIXED.rank, fit.Why.SWITCH_SPLIT.rank)


class TestPreferOverTheHostList(test_base.TestCase):

    def decide(self, mode, *layouts):
        requests = [gpu_request(2, K4200)]
        found = [decision.decide(gpus(*layout), requests, policy(mode),
                                 LEGACY) for layout in layouts]
        return decision.keep_local(found, requests, policy(mode))

    def test_split_refused_while_another_host_keeps_it_under_one(self):
        kept = self.decide('prefer', (SW_A, SW_B), (SW_B, SW_B))
        self.assertEqual([False, True], [d.passes for d in kept.decisions])
        refusal = kept.decisions[0].refusal
        self.assertEqual(fit.Why.AVOIDABLE_SWITCH_SPLIT, refusal.why)
        self.assertEqual(1, refusal.keeping)
        self.assertEqual({SW_A, SW_B}, {t.switch for t in refusal.takes})
        self.assertEqual({fit.SWITCH: [1]}, kept.keepers)

    def test_splits_kept_when_no_host_can(self):
        kept = self.decide('prefer', (SW_A, SW_B), (None, None))
        self.assertEqual([True, True], [d.passes for d in kept.decisions])

    def test_any_leaves_the_list_alone(self):
        kept = self.decide('any', (SW_A, SW_B), (SW_B, SW_B))
        self.assertEqual([True, True], [d.passes for d in kept.decisions])
        self.assertEqual({}, kept.keepers)


class TestPolicy(test_base.TestCase):

    def test_gpu_switch_overrides_the_default(self):
        self.assertEqual(policy('single'), models.policy_from_extra_specs(
            {'gpu:switch': 'Single'}, policy('any')))

    def test_bad_or_unset_values_fall_back_to_the_default(self):
        for specs in ({'gpu:switch': 'sideways'}, {}):
            self.assertEqual(policy('prefer'), models.policy_from_extra_specs(
                specs, policy('prefer')))
