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

"""GpuWeigher in the real nova-scheduler."""

from tests.functional import base
from tests.functional.base import K4200


class TestWeigher(base.GpuServersTestBase):

    def setUp(self):
        super().setUp()
        self.start_gpu_host('gpu1', [(K4200, 0)] * 4)
        self.start_gpu_host('gpu2', [(K4200, 0)] * 4)

    def hosts_of(self, count):
        flavor = self.gpu_flavor('k4200:1')
        return [self.claimed(self.boot(flavor))[0] for _ in range(count)]

    def test_pack_fills_one_host_first(self):
        self.assertEqual(1, len(set(self.hosts_of(3))))

    def test_spread_uses_both_hosts(self):
        self.flags(weigher_policy='spread', group='nova_gpu_ext')
        self.assertEqual(2, len(set(self.hosts_of(2))))

    def test_server_without_gpus_avoids_gpu_hosts(self):
        self.start_compute(hostname='cpu1')
        server = self._create_server(flavor_id=self._create_flavor(),
                                     networks='none')
        self.assertEqual('cpu1', server['OS-EXT-SRV-ATTR:host'])


class TestWeigherPlacement(TestWeigher):
    PLACEMENT = True
