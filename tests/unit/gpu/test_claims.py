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

"""The pure device walk, without nova (see test_walk_vs_nova for parity)."""


from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models
from tests import base as test_base


K4200 = models.ModelKey('10de', '11b4')
V100 = models.ModelKey('10de', '1db4')


def pool(model, numa=0, count=1, **tags):
    tags.setdefault('dev_type', 'type-PCI')
    return dict(vendor_id=model.vendor_id, product_id=model.product_id,
                numa_node=numa, count=count, **tags)


def gpu_request(count, *models_, rid='r1', alias='gpu'):
    return claims.DeviceRequest(
        count=count, request_id=rid, alias_name=alias,
        specs=tuple({'vendor_id': m.vendor_id, 'product_id': m.product_id}
                    for m in models_))


class TestWalk(test_base.TestCase):

    def test_takes_pools_in_list_order(self):
        pools = [pool(K4200), pool(V100), pool(K4200)]
        result = claims.walk(pools, [gpu_request(2, K4200, V100)])
        self.assertTrue(result.ok)
        self.assertEqual([K4200, V100], [t.model for t in result.takes[0]])

    def test_counts_are_summed_and_zero_pools_skipped(self):
        pools = [pool(V100, count=0), pool(K4200, count=3)]
        result = claims.walk(pools, [gpu_request(2, K4200, V100)])
        self.assertEqual([(K4200, 2)],
                         [(t.model, t.count) for t in result.takes[0]])

    def test_later_request_sees_what_earlier_ones_left(self):
        pools = [pool(K4200), pool(V100), pool(V100)]
        requests = [gpu_request(1, K4200, V100, rid='a'),
                    gpu_request(2, K4200, V100, rid='b')]
        result = claims.walk(pools, requests)
        self.assertEqual([[K4200], [V100, V100]],
                         [[t.model for t in takes] for takes in result.takes])

    def test_not_enough_devices_names_the_request(self):
        result = claims.walk([pool(K4200)], [gpu_request(2, K4200)])
        self.assertFalse(result.ok)
        self.assertEqual(0, result.failed)

    def test_unrequested_pf_pools_are_not_used(self):
        pools = [pool(K4200, dev_type='type-PF')]
        self.assertFalse(claims.walk(pools, [gpu_request(1, K4200)]).ok)

    def test_spec_match_is_case_insensitive(self):
        request = claims.DeviceRequest(
            count=1, request_id='r', alias_name='a',
            specs=({'vendor_id': '10DE', 'product_id': '11B4'},))
        self.assertTrue(claims.walk([pool(K4200)], [request]).ok)

    def test_placement_mapping_limits_the_walk_to_its_providers(self):
        pools = [pool(K4200, rp_uuid='rp1'), pool(V100, rp_uuid='rp2'),
                 pool(V100, numa=1, rp_uuid='rp3')]
        mapping = {'': ['root'], 'r1-0': ['rp2'], 'r1-1': ['rp3']}
        result = claims.walk(pools, [gpu_request(2, K4200, V100)], mapping)
        self.assertEqual([('rp2', V100, 0), ('rp3', V100, 1)],
                         [(t.rp_uuid, t.model, t.numa_node)
                          for t in result.takes[0]])

    def test_mapping_without_the_request_groups_is_the_legacy_walk(self):
        pools = [pool(K4200, rp_uuid='rp1'), pool(V100, rp_uuid='rp2')]
        result = claims.walk(pools, [gpu_request(1, K4200, V100)],
                             {'': ['root']})
        self.assertEqual([K4200], [t.model for t in result.takes[0]])

    def test_port_requests_use_pools_but_are_not_gpu_requests(self):
        port = claims.DeviceRequest(count=1, specs=({'vendor_id': '8086'},),
                                    request_id='p', from_port=True)
        self.assertFalse(port.is_gpu)
        nic = dict(vendor_id='8086', product_id='154d', numa_node=0, count=1,
                   dev_type='type-VF', physical_network='physnet1')
        result = claims.walk([nic], [port], {'': ['root'], 'p-0': ['rpx']})
        self.assertTrue(result.ok)

    def test_live_migratable_request_takes_only_live_migratable_pools(self):
        pools = [pool(K4200), pool(K4200, live_migratable='true')]
        request = claims.DeviceRequest(
            count=1, request_id='r', alias_name='a',
            specs=({'vendor_id': '10de', 'live_migratable': 'true'},))
        result = claims.walk(pools, [request])
        self.assertTrue(result.ok)
        self.assertEqual(1, len(result.takes[0]))

    def test_count_zero_request_with_no_pool_fails_like_nova(self):
        self.assertFalse(claims.walk([], [gpu_request(0, K4200)]).ok)
