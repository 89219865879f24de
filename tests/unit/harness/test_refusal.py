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

"""The demo says why a server was refused, from the filter's own decision."""


from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import refusal
from tests import base as test_base
from tests.unit.gpu.test_claims import gpu_request
from tests.unit.gpu.test_claims import K4200
from tests.unit.gpu.test_claims import pool
from tests.unit.gpu.test_claims import V100

NAMES = {K4200: 'K4200', V100: 'V100'}
SAME = models.GpuPolicy(True, models.NumaMode.ANY,
                        models.SwitchMode.ANY)
SINGLE = models.GpuPolicy(True, models.NumaMode.SINGLE,
                          models.SwitchMode.ANY)
RC = 'CUSTOM_GPU'


def name_of(model):
    return NAMES[model]


def provider(model, numa, rp, count=1):
    return pool(model, numa, count, rp_uuid=rp, resource_class=RC)


def class_request(count, rid='r1'):
    """A placement-mode request: the shared resource class only."""
    return claims.DeviceRequest(count=count, request_id=rid,
                                alias_name='gpu',
                                specs=({'resource_class': RC},))


class TestLegacyReasons(test_base.TestCase):

    def test_nova_in_tree_refuses_for_want_of_free_devices(self):
        hosts = [('gpu-k4200', [pool(K4200, 0, 1), pool(K4200, 1, 2)]),
                 ('gpu-v100', [pool(V100, 0, 0), pool(V100, 1, 3)])]
        self.assertEqual(
            'no host has 4 free GPUs (K4200 or V100), though 6 are free in '
            'all: gpu-k4200 has 3 K4200; gpu-v100 has 3 V100',
            refusal.explain(hosts, [gpu_request(4, K4200, V100)], None,
                            False, name_of))

    def test_nova_gpu_ext_names_the_host_whose_claim_would_mix(self):
        hosts = [('gpu-mixed', [pool(K4200, 0), pool(V100, 1)]),
                 ('gpu-k4200', [pool(K4200, 0, 0), pool(K4200, 1, 1)])]
        self.assertEqual(
            'no host can give 2 GPUs (K4200 or V100) of one model, though 3 '
            'are free in all: gpu-mixed would give 1 K4200 + 1 V100; '
            'gpu-k4200 has 1 K4200',
            refusal.explain(hosts, [gpu_request(2, K4200, V100)], SAME,
                            False, name_of))

    def test_numa_single_names_the_split_the_claim_would_make(self):
        # The compute's walk takes the first pool first: one K4200 on
        # node 0, then one on node 1, although node 1 has two.
        hosts = [('gpu-k4200', [pool(K4200, 0, 1), pool(K4200, 1, 2)])]
        self.assertEqual(
            'no host can give 2 K4200 on one NUMA node, though 3 are free '
            'in all: gpu-k4200 would give 2 K4200 over NUMA 0 + 1',
            refusal.explain(hosts, [gpu_request(2, K4200)], SINGLE, False,
                            name_of))

    def test_numa_single_counts_per_node_where_too_few_are_free(self):
        hosts = [('gpu-k4200', [pool(K4200, 0, 0), pool(K4200, 1, 1)])]
        self.assertEqual(
            'no host can give 2 K4200 on one NUMA node: gpu-k4200 has '
            '1 K4200 (1 on NUMA 1)',
            refusal.explain(hosts, [gpu_request(2, K4200)], SINGLE, False,
                            name_of))

    def test_nothing_free_says_so(self):
        hosts = [('gpu-k4200', [pool(K4200, 0, 0)]), ('cpu-only', [])]
        self.assertEqual(
            'no host has 1 free K4200: all are in use',
            refusal.explain(hosts, [gpu_request(1, K4200)], SAME, False,
                            name_of))

    def test_a_host_the_filter_passes_is_not_blamed(self):
        hosts = [('gpu-k4200', [pool(K4200, 0, 2)])]
        self.assertEqual(
            'refused by another check: gpu-k4200 had the GPUs',
            refusal.explain(hosts, [gpu_request(2, K4200)], SAME, False,
                            name_of))


class TestPlacementReasons(test_base.TestCase):

    def test_the_closest_candidate_is_named(self):
        # Placement offers K4200+V100 (mixed), K4200+K4200 (split) and
        # V100+K4200 (mixed): the one-model candidate is the nearer miss.
        pools = [provider(K4200, 0, 'a'), provider(V100, 0, 'b'),
                 provider(K4200, 1, 'c')]
        self.assertEqual(
            'no host can give 2 GPUs (K4200 or V100) of one model on one '
            'NUMA node, though 3 are free in all: h would give 2 K4200 over '
            'NUMA 0 + 1',
            refusal.explain([('h', pools)], [class_request(2)], SINGLE, True,
                            name_of))

    def test_a_host_without_candidates_lacks_providers(self):
        pools = [provider(K4200, 0, 'a'), provider(K4200, 1, 'b', count=0)]
        self.assertEqual(
            'no host has 2 free K4200: h has 1 K4200',
            refusal.explain([('h', pools)], [class_request(2)], None, True,
                            name_of))

    def test_providers_of_another_resource_class_do_not_count(self):
        other = dict(provider(V100, 0, 'b'), resource_class='CUSTOM_OTHER')
        pools = [provider(K4200, 0, 'a'), other]
        self.assertEqual(
            'no host has 2 free K4200: h has 1 K4200',
            refusal.explain([('h', pools)], [class_request(2)], None, True,
                            name_of))


SWITCH = models.GpuPolicy(True, models.NumaMode.ANY,
                          models.SwitchMode.SINGLE)
SW_A = '0000:80:01.0'
SW_B = '0000:80:02.0'


def device(model, numa, slot, count=1, switch=None):
    """The pool of one device, as nova keeps a pool per address."""
    tags = {'address': f'0000:81:{slot:02x}.0'}
    if switch:
        tags['pcie_switch'] = switch
    return pool(model, numa, count, **tags)


class TestSwitchReasons(test_base.TestCase):

    def test_switch_single_names_the_switches_the_claim_would_split(self):
        # The first free K4200s are the last below A and the first below
        # B; a host without switches keeps nothing below one.
        hosts = [('gpu-sw', [device(K4200, 0, 0, 0, SW_A),
                             device(K4200, 0, 1, 1, SW_A),
                             device(K4200, 0, 2, 1, SW_B),
                             device(K4200, 0, 3, 1, SW_B)]),
                 ('gpu-k4200', [device(K4200, 0, 0), device(K4200, 1, 1)])]
        self.assertEqual(
            'no host can give 2 K4200 under one PCIe switch, though 5 are '
            f'free in all: gpu-sw would give 2 K4200 over PCIe switches '
            f'{SW_A} + {SW_B}; gpu-k4200 has 2 K4200, below no PCIe switch',
            refusal.explain(hosts, [gpu_request(2, K4200)], SWITCH, False,
                            name_of))

    def test_a_gpu_below_no_switch_is_named_none(self):
        hosts = [('h', [device(K4200, 0, 0, 1, SW_A), device(K4200, 0, 1)])]
        self.assertEqual(
            'no host can give 2 K4200 under one PCIe switch, though 2 are '
            f'free in all: h would give 2 K4200 over PCIe switches {SW_A} + '
            'none',
            refusal.explain(hosts, [gpu_request(2, K4200)], SWITCH, False,
                            name_of))
