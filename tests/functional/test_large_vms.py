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

"""nova-api at the latest microversion takes hw:maxphysaddr_* with us.

The flavor of a large multi-GPU VM, set through the real API of the
in-process nova, whose extra-spec validators are nova's registry with
ours loaded through the ``nova.api.extra_spec_validators`` entry point.
"""

import fixtures
from nova.api.validation.extra_specs import validators
from nova.tests.functional.api import client

from tests.functional import base

LARGE_VM_SPECS = {'hw:maxphysaddr_mode': 'emulate',
                  'hw:maxphysaddr_bits': '46'}


class TestMaxPhysAddrFlavor(base.GpuServersTestBase):

    def extra_specs(self, flavor_id):
        return self.api_fixture.admin_api.api_get(
            f'/flavors/{flavor_id}/os-extra_specs').body['extra_specs']

    def test_latest_microversion_accepts_them(self):
        self.assertEqual('latest', self.api_fixture.admin_api.microversion)
        flavor_id = self._create_flavor(memory_mb=1048576,
                                        extra_spec=LARGE_VM_SPECS)
        self.assertEqual(LARGE_VM_SPECS, self.extra_specs(flavor_id))

    def test_a_bad_value_is_a_400(self):
        flavor_id = self._create_flavor()
        exc = self.assertRaises(
            client.OpenStackApiException,
            self.api_fixture.admin_api.post_extra_spec, flavor_id,
            {'extra_specs': {'hw:maxphysaddr_bits': '0'}})
        self.assertEqual(400, exc.response.status_code)
        self.assertEqual({}, self.extra_specs(flavor_id))

    def test_without_our_validators_nova_refuses_them(self):
        """What an operator sees without nova_gpu_ext in nova-api's venv."""
        registry = {k: v for k, v in validators.VALIDATORS.items()
                    if not k.startswith('hw:maxphysaddr')}
        self.useFixture(fixtures.MonkeyPatch(
            'nova.api.validation.extra_specs.validators.VALIDATORS',
            registry))
        flavor_id = self._create_flavor()
        exc = self.assertRaises(
            client.OpenStackApiException,
            self.api_fixture.admin_api.post_extra_spec, flavor_id,
            {'extra_specs': LARGE_VM_SPECS})
        self.assertEqual(400, exc.response.status_code)
        self.assertIn('does not appear to be a valid extra spec',
                      exc.response.text)
