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


class TestGpuExtraSpecs(test.NoDBTestCase):

    def test_valid_values_are_accepted(self):
        for name, value in [('gpu:numa', 'single'), ('gpu:numa', 'prefer'),
                            ('gpu:numa', 'any'), ('gpu:same_model', 'true'),
                            ('gpu:same_model', 'False')]:
            validators.validate(name, value)

    def test_bad_numa_is_refused(self):
        exc = self.assertRaises(exception.ValidationError,
                                validators.validate, 'gpu:numa', 'sideways')
        self.assertIn('any, prefer, single', str(exc))

    def test_bad_same_model_is_refused(self):
        self.assertRaises(exception.ValidationError, validators.validate,
                          'gpu:same_model', 'perhaps')

    def test_unknown_gpu_key_is_refused(self):
        self.assertRaises(exception.ValidationError, validators.validate,
                          'gpu:samemodel', 'true')
