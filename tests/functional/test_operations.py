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

"""Rebuild, multi-create and cold migration of GPU servers still work."""

from unittest import mock

from tests.functional import base
from tests.functional.base import K4200
from tests.functional.base import V100


class OperationsMixin:

    def test_rebuild(self):
        self.start_gpu_host('gpu1', [(K4200, 0), (K4200, 0)])
        server = self.boot(self.gpu_flavor('gpu:2'))
        before = self.claimed(server)
        image = self.glance.auto_disk_config_enabled_image['id']
        server = self._rebuild_server(server, image)
        self.assertEqual(before, self.claimed(server))

    def test_multi_create(self):
        self.start_gpu_host('gpu1', [(K4200, 0), (K4200, 0), (V100, 0),
                                     (V100, 0)])
        body = self._build_server(flavor_id=self.gpu_flavor('gpu:2'),
                                  networks='none')
        body.update(min_count=2, max_count=2)
        self.api.post_server({'server': body})
        servers = self._wait_for_servers()
        self.assertEqual(2, len(servers))
        self.assertEqual([{'K4200'}, {'V100'}],
                         sorted((self.products(s) for s in servers),
                                key=sorted))

    def _wait_for_servers(self):
        servers = self.api.get_servers()
        return [self._wait_for_state_change(s, 'ACTIVE') for s in servers]

    def test_cold_migration(self):
        self.start_gpu_host('src', [(K4200, 0), (K4200, 0)])
        server = self.boot(self.gpu_flavor('gpu:2'))
        # nova 34 claims a move with fresh requests (no providers): the
        # compute walks the pools, even in placement mode. 'mixing' would
        # give V100 + K4200; the filter sends the server to 'dst'.
        self.start_gpu_host('mixing', [(V100, 0), (K4200, 0), (V100, 0)])
        self.start_gpu_host('dst', [(V100, 0), (V100, 0), (K4200, 0)])
        # nova's own PCI tests stub the disk copy of the libvirt driver.
        with mock.patch('nova.virt.libvirt.driver.LibvirtDriver'
                        '.migrate_disk_and_power_off', return_value='{}'):
            server = self._migrate_server(server)
        server = self._confirm_resize(server)
        host, devices = self.claimed(server)
        self.assertEqual(('dst', [('V100', 0), ('V100', 0)]),
                         (host, devices))


class TestOperationsLegacy(OperationsMixin, base.GpuServersTestBase):
    pass


class TestOperationsPlacement(OperationsMixin, base.GpuServersTestBase):
    PLACEMENT = True
