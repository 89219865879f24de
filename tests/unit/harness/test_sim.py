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

"""The scheduling sim used by the demo and benchmarks.

Placement itself is not run: the sim stands in for it, and these tests pin
what it returns so that both benchmark sides see the same candidates. A
guest NUMA topology goes through nova's own NUMATopologyFilter and fit.
"""

from nova.scheduler.filters import numa_topology_filter
from nova.scheduler.filters import pci_passthrough_filter
from nova.scheduler.weights import pci

from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import sim
from tests import base as test_base


A = models.ModelKey('10de', '1db4')
B = models.ModelKey('10de', '1eb8')
ALIAS_A = sim.Alias('gpu-a', (A,))
ALIAS_ANY = sim.Alias('gpu', (A, B))


def half_and_half(name='ab'):
    return sim.Host(name, [sim.Gpu(A, 0)] * 4 + [sim.Gpu(B, 1)] * 4,
                    placement=True)


def groups(candidate):
    return {g: rps for g, rps in candidate['mappings'].items() if g}


class TestPlacementCandidates(test_base.TestCase):

    def test_one_candidate_per_combination_of_matching_providers(self):
        host = half_and_half()
        spec = sim.request_spec([(ALIAS_A, 2)], placement=True)
        found = host.candidates(spec)
        rid = spec.pci_requests.requests[0].request_id
        self.assertEqual(6, len(found))
        for candidate in found:
            self.assertEqual(['ab'], candidate['mappings'][''])
            chosen = groups(candidate)
            self.assertEqual({f'{rid}-0', f'{rid}-1'}, set(chosen))
            rps = [rp for [rp] in chosen.values()]
            self.assertEqual(2, len(set(rps)))
            self.assertTrue(all(rp in {p['rp_uuid'] for p in host.pools[:4]}
                                for rp in rps))

    def test_candidates_are_capped_in_provider_order(self):
        host = half_and_half()
        found = host.candidates(
            sim.request_spec([(ALIAS_ANY, 2)], placement=True))
        self.assertEqual(sim.CANDIDATE_LIMIT, len(found))
        first = sorted(rp for [rp] in groups(found[0]).values())
        self.assertEqual([p['rp_uuid'] for p in host.pools[:2]], first)

    def test_used_providers_are_not_offered(self):
        host = half_and_half()
        for pool in host.pools[:3]:
            pool['count'] = 0
        host.report()
        found = host.candidates(
            sim.request_spec([(ALIAS_A, 1)], placement=True))
        self.assertEqual([[host.pools[3]['rp_uuid']]],
                         [list(groups(c).values())[0] for c in found])

    def test_legacy_host_has_one_root_candidate(self):
        host = sim.Host('h', [sim.Gpu(A, 0)] * 2)
        self.assertEqual([{'allocations': {}, 'mappings': {'': ['h']}}],
                         host.candidates(sim.request_spec([(ALIAS_A, 1)])))


class TestPlace(test_base.TestCase):

    def _scheduler(self):
        return sim.Scheduler([pci_passthrough_filter.PciPassthroughFilter],
                             [pci.PCIWeigher])

    def test_claim_takes_the_providers_of_the_first_candidate(self):
        host = half_and_half()
        spec = sim.request_spec([(ALIAS_A, 2)], placement=True)
        placed = self._scheduler().place([host], spec)
        self.assertIs(host, placed.host)
        self.assertEqual([p['rp_uuid'] for p in host.pools[:2]],
                         [p['rp_uuid'] for p in placed.taken])
        self.assertEqual([0, 0, 1, 1, 1, 1, 1, 1],
                         [p['count'] for p in host.state.pci_stats.pools])

    def test_host_without_candidates_is_not_offered(self):
        host = sim.Host('b', [sim.Gpu(B, 0)] * 8, placement=True)
        placed = self._scheduler().place(
            [host], sim.request_spec([(ALIAS_A, 1)], placement=True))
        self.assertIsNone(placed.host)
        self.assertEqual([], host.state.allocation_candidates)

    def test_release_gives_the_devices_back(self):
        host = half_and_half()
        placed = self._scheduler().place(
            [host], sim.request_spec([(ALIAS_A, 4)], placement=True))
        host.release(placed.taken)
        self.assertEqual([1] * 8,
                         [p['count'] for p in host.state.pci_stats.pools])


ONE_NODE = {'hw:numa_nodes': '1', 'hw:pci_numa_affinity_policy': 'required'}


class TestGuestNumaTopology(test_base.TestCase):
    """hw:numa_nodes through NUMATopologyFilter and nova's NUMA fit."""

    def _scheduler(self):
        return sim.Scheduler([numa_topology_filter.NUMATopologyFilter,
                              pci_passthrough_filter.PciPassthroughFilter],
                             [pci.PCIWeigher])

    def test_the_devices_are_taken_on_the_guest_cell(self):
        # The first free device is on node 0; node 1 has two.
        host = sim.Host('h', [sim.Gpu(A, 0), sim.Gpu(A, 1), sim.Gpu(A, 1)])
        spec = sim.request_spec([(ALIAS_A, 2)], ONE_NODE)
        self.assertEqual('required', spec.pci_requests.requests[0].numa_policy)
        placed = self._scheduler().place([host], spec)
        self.assertEqual({1}, placed.numa_nodes)

    def test_without_a_guest_topology_the_first_free_are_taken(self):
        host = sim.Host('h', [sim.Gpu(A, 0), sim.Gpu(A, 1), sim.Gpu(A, 1)])
        placed = self._scheduler().place(
            [host], sim.request_spec([(ALIAS_A, 2)]))
        self.assertEqual({0, 1}, placed.numa_nodes)

    def test_a_host_without_a_node_holding_the_devices_is_refused(self):
        host = sim.Host('h', [sim.Gpu(A, 0), sim.Gpu(A, 1)])
        placed = self._scheduler().place(
            [host], sim.request_spec([(ALIAS_A, 2)], ONE_NODE))
        self.assertIsNone(placed.host)

    def test_a_guest_uses_up_its_cell(self):
        # 2 GB per cell: the second 2 GB guest fits only on the other.
        host = sim.Host('h', [sim.Gpu(A, 0)] * 2 + [sim.Gpu(A, 1)] * 2,
                        memory_mb=2 * sim.FLAVOR_MEMORY_MB)
        nodes = [self._scheduler().place(
            [host], sim.request_spec([(ALIAS_A, 1)], ONE_NODE)).numa_nodes
            for _ in range(2)]
        self.assertEqual({0, 1}, set.union(*nodes))
        self.assertIsNone(self._scheduler().place(
            [host], sim.request_spec([(ALIAS_A, 1)], ONE_NODE)).host)
