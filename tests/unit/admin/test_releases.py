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

"""Release names: option names and features per nova release."""

import testscenarios

from nova_gpu_ext.admin import releases
from tests import base as test_base

OLD_DEFAULT = (('DEFAULT', 'pci_passthrough_whitelist'),
               ('DEFAULT', 'pci_alias'))
WHITELIST = (('pci', 'passthrough_whitelist'), ('pci', 'alias'))
DEVICE_SPEC = (('pci', 'device_spec'), ('pci', 'alias'))
# Release -> (device spec option, alias option), one row per release.
EXPECTED_NAMES = {
    'newton': OLD_DEFAULT,
    **{name: WHITELIST for name in (
        'ocata', 'pike', 'queens', 'rocky', 'stein', 'train', 'ussuri',
        'victoria', 'wallaby', 'xena', 'yoga')},
    **{name: DEVICE_SPEC for name in (
        'zed', '2023.1', '2023.2', '2024.1', '2024.2', '2025.1', '2025.2',
        '2026.1', '2026.2')},
}
FIRST = {'numa_policy': 'queens', 'numa_policy_socket': 'wallaby',
         'resource_class': 'zed', 'traits': 'zed', 'placement': '2023.1',
         'managed': '2025.1', 'live_migratable': '2025.1',
         'gpu_scheduler': '2026.2'}


class TestOptionNames(testscenarios.WithScenarios, test_base.TestCase):

    scenarios = [(name, {'release': name, 'expected': expected})
                 for name, expected in EXPECTED_NAMES.items()]

    def test_option_names(self):
        release = releases.parse(self.release)
        self.assertEqual(self.expected, (release.device_spec_option,
                                         release.alias_option))

    def test_features_start_at_their_first_release(self):
        release = releases.parse(self.release)
        for feature, first in FIRST.items():
            self.assertEqual(release >= releases.parse(first),
                             release.has(feature), feature)


class TestParse(test_base.TestCase):

    def test_table_covers_every_release(self):
        self.assertEqual(set(releases.RELEASES), set(EXPECTED_NAMES))
        self.assertEqual(set(releases.FEATURES), set(FIRST))

    def test_code_names_and_case(self):
        self.assertEqual(releases.parse('2023.1'), releases.parse('Antelope'))
        self.assertEqual('2026.2', releases.parse('HIBISCUS').name)

    def test_unknown_release_lists_the_known_ones(self):
        exc = self.assertRaises(releases.ReleaseError, releases.parse,
                                'mitaka')
        self.assertIn('newton', str(exc))

    def test_require_names_each_missing_feature_and_first_release(self):
        exc = self.assertRaises(
            releases.ReleaseError, releases.require, releases.parse('yoga'),
            {'placement', 'resource_class', 'numa_policy'})
        self.assertIn('PCI in placement (first in 2023.1)', str(exc))
        self.assertIn('resource_class tag (first in zed)', str(exc))
        self.assertNotIn('numa_policy', str(exc))

    def test_knows_a_name_from_its_first_release_on(self):
        spec = releases.DEVICE_SPEC_NAMES
        self.assertTrue(releases.parse('zed').knows(
            spec, 'pci', 'device_spec'))
        self.assertFalse(releases.parse('yoga').knows(
            spec, 'pci', 'device_spec'))
        self.assertTrue(releases.parse('2026.2').knows(
            spec, 'DEFAULT', 'pci_passthrough_whitelist'))
        self.assertFalse(releases.parse('2026.2').knows(
            releases.ALIAS_NAMES, 'pci', 'device_spec'))

    def test_require_passes_when_all_present(self):
        releases.require(releases.parse('2025.1'), {'managed', 'placement'})
