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

"""Identical GPUs per request, decided by the real nova-scheduler."""

from nova.tests.functional.api import client

from nova_gpu_ext.harness import cloud
from tests.functional import base
from tests.functional.base import K4200
from tests.functional.base import V100

GPU_CLASS_RC = cloud.class_resource_class('gpu')
INTERLEAVED = [(K4200, 0), (V100, 0), (K4200, 0), (V100, 0)]
GROUPED = [(K4200, 0), (K4200, 0), (V100, 0), (V100, 0)]


class TestLegacy(base.GpuServersTestBase):

    def test_every_server_gets_one_model_and_refusal_is_explained(self):
        self.start_gpu_host('interleaved', INTERLEAVED)
        self.start_gpu_host('grouped', GROUPED)
        flavor = self.gpu_flavor('gpu:2')
        servers = [self.boot(flavor), self.boot(flavor)]
        for server in servers:
            self.assertEqual(1, len(self.products(server)), server['id'])
            self.assertEqual('grouped', self.claimed(server)[0])
        # Only the interleaved host is left, and nova's walk there mixes.
        server = self.boot(flavor, expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        log = self.scheduler_log.output
        self.assertIn('interleaved', log)
        self.assertIn('would get mixed models', log)


class TestLegacyWithoutNovaGpuExt(base.GpuServersTestBase):
    OURS = False

    def test_nova_alone_mixes_models(self):
        self.start_gpu_host('interleaved', INTERLEAVED)
        server = self.boot(self.gpu_flavor('gpu:2'))
        self.assertEqual({'K4200', 'V100'}, self.products(server))


class TestLegacyOnlyMixingHost(base.GpuServersTestBase):

    def test_the_filter_is_what_refuses_the_mix(self):
        self.start_gpu_host('interleaved', INTERLEAVED)
        server = self.boot(self.gpu_flavor('gpu:2'), expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])

    def test_same_model_false_allows_the_mix(self):
        self.start_gpu_host('interleaved', INTERLEAVED)
        server = self.boot(self.gpu_flavor('gpu:2',
                                           **{'gpu:same_model': 'false'}))
        self.assertEqual({'K4200', 'V100'}, self.products(server))


class TestPlacement(base.GpuServersTestBase):
    PLACEMENT = True

    def test_every_server_gets_one_model_on_a_mixed_host(self):
        self.start_gpu_host('interleaved', INTERLEAVED)
        flavor = self.gpu_flavor('gpu:2')
        for _ in range(2):
            server = self.boot(flavor)
            self.assertEqual(1, len(self.products(server)))
            allocated = self._get_allocations_by_server_uuid(server['id'])
            gpu_rps = [rp for rp, a in allocated.items()
                       if GPU_CLASS_RC in a['resources']]
            self.assertEqual(2, len(gpu_rps))
        self.boot(flavor, expected_state='ERROR')


class TestApi(base.GpuServersTestBase):

    def test_bad_gpu_extra_spec_is_refused_with_400(self):
        exc = self.assertRaises(client.OpenStackApiException,
                                self.gpu_flavor, 'gpu:1',
                                **{'gpu:numa': 'sideways'})
        self.assertEqual(400, exc.response.status_code)
        self.assertIn('sideways', str(exc))


class TestPlacementWithoutNovaGpuExt(base.GpuServersTestBase):
    OURS = False
    PLACEMENT = True

    def test_nova_alone_mixes_models_through_the_shared_class(self):
        self.start_gpu_host('pair', [(K4200, 0), (V100, 0)])
        server = self.boot(self.gpu_flavor('gpu:2'))
        self.assertEqual({'K4200', 'V100'}, self.products(server))


class TestPlacementOnlyMixingHost(base.GpuServersTestBase):
    PLACEMENT = True

    def test_the_filter_is_what_refuses_the_mix(self):
        self.start_gpu_host('pair', [(K4200, 0), (V100, 0)])
        server = self.boot(self.gpu_flavor('gpu:2'), expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        self.assertIn('would get mixed models', self.scheduler_log.output)
