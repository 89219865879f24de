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

"""GpuWeigher through nova's HostWeightHandler on real HostStates."""

from nova import objects
from nova.scheduler import weights
from nova import test

from nova_gpu_ext.scheduler.weights import gpu
from tests.unit.scheduler import fakes
from tests.unit.scheduler.fakes import K4200
from tests.unit.scheduler.fakes import V100


def pools(*layout):
    """``(model, numa, count)`` triples -> pools of one device each."""
    return [fakes.pool(m, numa=n) for m, n, c in layout for _ in range(c)]


class WeigherTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.handler = weights.HostWeightHandler()
        self.weighers = [gpu.GpuWeigher()]

    def ranking(self, hosts, spec):
        weighed = self.handler.get_weighed_objects(self.weighers, hosts, spec)
        return [w.obj.host for w in weighed]


class TestGpuRequests(WeigherTestCase):

    def hosts(self):
        return [
            fakes.host('whole', pools((K4200, 0, 4), (K4200, 1, 4))),
            fakes.host('half', pools((K4200, 1, 4))),
            fakes.host('one-left', pools((K4200, 0, 1), (K4200, 1, 4))),
            fakes.host('other-model', pools((V100, 0, 1))),
        ]

    def test_pack_fills_the_smallest_hole_of_the_model(self):
        spec = fakes.spec(fakes.request(1, K4200))
        ranking = self.ranking(self.hosts()[:3], spec)
        # one-left: the walk takes node 0's last K4200, leaving node 1
        # whole; half: node 1 left with 3; whole: breaks a whole host.
        self.assertEqual(['one-left', 'half', 'whole'], ranking)

    def test_model_aware_other_models_do_not_count(self):
        spec = fakes.spec(fakes.request(2, K4200))
        hosts = [fakes.host('k-with-v', pools((K4200, 0, 2), (V100, 0, 4))),
                 fakes.host('k-more', pools((K4200, 0, 4)))]
        # nova's PCIWeigher would prefer k-more (4 free devices, not 6).
        self.assertEqual(['k-with-v', 'k-more'], self.ranking(hosts, spec))

    def test_spread_prefers_the_most_free_of_the_model(self):
        self.flags(weigher_policy='spread', group='nova_gpu_ext')
        spec = fakes.spec(fakes.request(1, K4200))
        self.assertEqual('whole', self.ranking(self.hosts()[:3], spec)[0])

    def test_numa_split_only_breaks_ties(self):
        spec = fakes.spec(fakes.request(2, K4200))
        hosts = [fakes.host('split', pools((K4200, 0, 1), (K4200, 1, 1))),
                 fakes.host('local', pools((K4200, 0, 2), (K4200, 1, 4)))]
        # Both leave 0 on the nodes they touch and 0 or 4 on the host.
        self.assertEqual(['split', 'local'], self.ranking(hosts, spec))
        hosts = [fakes.host('split', pools((K4200, 0, 1), (K4200, 1, 1))),
                 fakes.host('local', pools((K4200, 0, 2)))]
        self.assertEqual(['local', 'split'], self.ranking(hosts, spec))

    def test_class_alias_ties_go_to_the_model_with_more_free(self):
        spec = fakes.spec(fakes.request(1, K4200, V100))
        # k1 and v1 fit one GPU exactly; V100 has more free over the
        # list (v4), so the class request leaves the K4200 for k4200
        # requests.
        hosts = [fakes.host('k1', pools((K4200, 0, 1))),
                 fakes.host('v1', pools((V100, 0, 1))),
                 fakes.host('v4', pools((V100, 1, 4)))]
        self.assertEqual(['v1', 'k1', 'v4'], self.ranking(hosts, spec))
        hosts[2] = fakes.host('k4', pools((K4200, 1, 4)))
        self.assertEqual(['k1', 'v1', 'k4'], self.ranking(hosts, spec))

    def test_host_that_cannot_meet_the_request_is_last(self):
        spec = fakes.spec(fakes.request(2, K4200))
        hosts = [fakes.host('short', pools((K4200, 0, 1))),
                 fakes.host('whole', pools((K4200, 0, 4), (K4200, 1, 4)))]
        self.assertEqual(['whole', 'short'], self.ranking(hosts, spec))

    def test_port_requests_alone_avoid_gpu_hosts(self):
        spec = fakes.spec(fakes.port_request())
        hosts = [fakes.host('gpu', [fakes.nic_pool()] +
                            pools((K4200, 0, 2))),
                 fakes.host('nic', [fakes.nic_pool()])]
        self.assertEqual(['nic', 'gpu'], self.ranking(hosts, spec))


class TestOtherRequests(WeigherTestCase):

    def test_hosts_without_free_gpus_first(self):
        hosts = [fakes.host('gpu', pools((K4200, 0, 2))),
                 fakes.host('cpu', []),
                 fakes.host('nic', [fakes.pool(('8086', '154c'), count=8,
                                               dev_type='type-VF',
                                               physical_network='net1')])]
        ranking = self.ranking(hosts, fakes.spec())
        self.assertEqual('gpu', ranking[-1])

    def test_host_without_pci_stats_is_weighed_not_raised(self):
        bare = fakes.host('bare', [])
        bare.pci_stats = None
        hosts = [fakes.host('gpu', pools((K4200, 0, 2))), bare]
        self.assertEqual(['bare', 'gpu'], self.ranking(hosts, fakes.spec()))
        self.assertEqual(
            2, len(self.ranking(hosts, fakes.spec(fakes.request(1, K4200)))))


class TestMultiplier(WeigherTestCase):

    def test_option_and_aggregate_override(self):
        host = fakes.host('h', [])
        self.assertEqual(10.0, self.weighers[0].weight_multiplier(host))
        self.flags(gpu_weight_multiplier=2.5, group='nova_gpu_ext')
        self.assertEqual(2.5, self.weighers[0].weight_multiplier(host))
        host.aggregates = [objects.Aggregate(
            id=1, name='a', metadata={'gpu_weight_multiplier': '0.5'})]
        self.assertEqual(0.5, self.weighers[0].weight_multiplier(host))

    def test_aggregate_override_changes_the_ranking(self):
        spec = fakes.spec(fakes.request(1, K4200))
        packed = fakes.host('packed', pools((K4200, 0, 1)))
        empty = fakes.host('empty', pools((K4200, 0, 8)))
        self.assertEqual(['packed', 'empty'],
                         self.ranking([packed, empty], spec))
        packed.aggregates = [objects.Aggregate(
            id=1, name='a', metadata={'gpu_weight_multiplier': '-1'})]
        self.assertEqual(['empty', 'packed'],
                         self.ranking([packed, empty], spec))


class TestLoading(test.NoDBTestCase):

    def test_nova_weight_handler_finds_the_weigher(self):
        classes = weights.HostWeightHandler().get_matching_classes([
            'nova.scheduler.weights.all_weighers',
            'nova_gpu_ext.scheduler.weights.all_weighers'])
        self.assertIn(gpu.GpuWeigher, classes)
