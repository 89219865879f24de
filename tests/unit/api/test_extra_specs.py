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

"""nova's own extra-spec validation sees our ``gpu:`` validators."""

from nova.api.validation.extra_specs import validators
from nova import exception
from nova import test

from nova_gpu_ext.api import extra_specs


class TestGpuExtraSpecs(test.NoDBTestCase):

    def test_valid_values_are_accepted(self):
        for name, value in [('gpu:numa', 'single'), ('gpu:numa', 'prefer'),
                            ('gpu:numa', 'any'), ('gpu:same_model', 'true'),
                            ('gpu:same_model', 'False'),
                            ('gpu:switch', 'single'),
                            ('gpu:switch', 'prefer'), ('gpu:switch', 'any')]:
            validators.validate(name, value)

    def test_bad_numa_is_refused(self):
        exc = self.assertRaises(exception.ValidationError,
                                validators.validate, 'gpu:numa', 'sideways')
        self.assertIn('any, prefer, single', str(exc))

    def test_bad_switch_is_refused(self):
        exc = self.assertRaises(exception.ValidationError,
                                validators.validate, 'gpu:switch', 'one')
        self.assertIn('any, prefer, single', str(exc))

    def test_bad_same_model_is_refused(self):
        self.assertRaises(exception.ValidationError, validators.validate,
                          'gpu:same_model', 'perhaps')

    def test_unknown_gpu_key_is_refused(self):
        self.assertRaises(exception.ValidationError, validators.validate,
                          'gpu:samemodel', 'true')


class TestMaxPhysAddrSpecs(test.NoDBTestCase):
    """nova's loader takes our ``hw:`` validators beside its own."""

    def test_loaded_into_novas_registry_under_the_hw_namespace(self):
        ours = {v.name: v for v in extra_specs.EXTRA_SPEC_VALIDATORS}
        self.assertIn('hw', validators.NAMESPACES)
        for name in ('hw:maxphysaddr_mode', 'hw:maxphysaddr_bits'):
            self.assertIs(ours[name], validators.VALIDATORS[name])

    def test_valid_values_are_accepted(self):
        for name, value in [('hw:maxphysaddr_mode', 'emulate'),
                            ('hw:maxphysaddr_mode', 'passthrough'),
                            ('hw:maxphysaddr_bits', '46'),
                            ('hw:maxphysaddr_bits', '1')]:
            validators.validate(name, value)

    def test_bad_values_are_refused(self):
        for name, value, said in [
                ('hw:maxphysaddr_mode', 'host', 'passthrough, emulate'),
                ('hw:maxphysaddr_bits', '0', "min value of '1'"),
                ('hw:maxphysaddr_bits', '-3', "min value of '1'"),
                ('hw:maxphysaddr_bits', 'lots', 'not a valid integer')]:
            exc = self.assertRaises(exception.ValidationError,
                                    validators.validate, name, value)
            self.assertIn(said, str(exc), (name, value))

    def test_other_unknown_hw_keys_are_still_refused(self):
        self.assertRaises(exception.ValidationError, validators.validate,
                          'hw:maxphysaddr_bitz', '46')
