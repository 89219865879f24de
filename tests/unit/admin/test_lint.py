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

"""lint: one test per finding, a clean configuration, unusable files."""

import os

import fixtures
import testscenarios

from nova_gpu_ext.admin import lint
from nova_gpu_ext.admin import releases
from nova_gpu_ext import exception
from tests import base as test_base
from tests.unit.common import unreadable

NEWEST = releases.parse(releases.NEWEST)
SPEC = '{"vendor_id": "10de", "product_id": "11b4"}'
AVAILABLE = 'nova_gpu_ext.scheduler.filters.all_filters'
ALIAS = ('{"name": "k4200", "device_type": "type-PCI", '
         '"vendor_id": "10de", "product_id": "11b4"}')


def entries(*lines):
    return [lint.Entry('nova.conf', s, o, v) for s, o, v in lines]


def codes(findings):
    return [f.code for f in findings]


class TestLint(test_base.TestCase):

    def lint(self, *lines, release=NEWEST):
        return lint.check(entries(*lines), release)

    def test_clean_configuration_has_no_findings(self):
        self.assertEqual([], self.lint(
            ('pci', 'device_spec', SPEC), ('pci', 'alias', ALIAS),
            ('filter_scheduler', 'available_filters', AVAILABLE),
            ('filter_scheduler', 'enabled_filters',
             'ComputeFilter,GpuPassthroughFilter')))

    def test_deprecated_names(self):
        findings = self.lint(
            ('DEFAULT', 'pci_passthrough_whitelist', SPEC),
            ('pci', 'passthrough_whitelist', SPEC),
            ('DEFAULT', 'pci_alias', ALIAS))
        self.assertEqual(['deprecated-name'] * 3, codes(findings))
        self.assertEqual('rename it to [pci] device_spec', findings[0].fix)
        self.assertEqual('rename it to [pci] alias', findings[2].fix)

    def test_whitelist_name_is_right_before_zed(self):
        self.assertEqual([], self.lint(
            ('pci', 'passthrough_whitelist', SPEC), ('pci', 'alias', ALIAS),
            release=releases.parse('yoga')))

    def test_capability_type_in_alias(self):
        alias = ALIAS[:-1] + ', "capability_type": "pci"}'
        self.assertEqual(['alias-capability-type'], codes(self.lint(
            ('pci', 'device_spec', SPEC), ('pci', 'alias', alias))))

    def test_alias_twice_without_device_type(self):
        other = '{"name": "k4200", "vendor_id": "10de", "product_id": "11b4"}'
        self.assertEqual(['alias-without-device-type'], codes(self.lint(
            ('pci', 'device_spec', SPEC), ('pci', 'alias', ALIAS),
            ('pci', 'alias', other))))

    def test_alias_twice_with_different_numa_policy(self):
        other = ALIAS[:-1] + ', "numa_policy": "required"}'
        self.assertEqual(['alias-numa-policy-mismatch'], codes(self.lint(
            ('pci', 'device_spec', SPEC), ('pci', 'alias', ALIAS),
            ('pci', 'alias', other))))

    def test_multi_spec_alias_in_placement_mode(self):
        self.assertEqual(['multi-spec-alias-in-placement'], codes(self.lint(
            ('pci', 'device_spec', SPEC), ('pci', 'alias', ALIAS),
            ('pci', 'alias', ALIAS),
            ('filter_scheduler', 'pci_in_placement', 'True'))))

    def test_multi_spec_alias_is_fine_in_legacy_mode(self):
        self.assertEqual([], self.lint(
            ('pci', 'device_spec', SPEC), ('pci', 'alias', ALIAS),
            ('pci', 'alias', ALIAS),
            ('filter_scheduler', 'pci_in_placement', 'False')))

    def test_alias_matching_no_device_spec(self):
        findings = self.lint(('pci', 'device_spec', SPEC), (
            'pci', 'alias', ALIAS.replace('11b4', '1db4')))
        self.assertEqual(['alias-matches-no-device-spec'], codes(findings))

    def test_alias_matches_wildcard_and_list_device_specs(self):
        wildcard = '[{"vendor_id": "10de", "product_id": "*"}]'
        self.assertEqual([], self.lint(('pci', 'device_spec', wildcard),
                                       ('pci', 'alias', ALIAS)))

    def test_resource_class_alias_matches_by_resource_class(self):
        spec = SPEC[:-1] + ', "resource_class": "GPU_ANY"}'
        alias = '{"name": "any", "resource_class": "CUSTOM_GPU_ANY"}'
        self.assertEqual([], self.lint(('pci', 'device_spec', spec),
                                       ('pci', 'alias', alias),
                                       ('pci', 'report_in_placement', 'True')))

    def test_aliases_alone_are_not_checked_against_device_specs(self):
        self.assertEqual([], self.lint(('pci', 'alias', ALIAS)))

    def test_pci_filter_missing_from_enabled_filters(self):
        findings = self.lint(('filter_scheduler', 'enabled_filters',
                              'ComputeFilter,NUMATopologyFilter'))
        self.assertEqual(['pci-filter-not-enabled'], codes(findings))
        self.assertIn('add GpuPassthroughFilter', findings[0].fix)

    def test_either_pci_filter_alone_is_enough(self):
        for enabled in ('ComputeFilter,GpuPassthroughFilter',
                        'ComputeFilter, PciPassthroughFilter'):
            self.assertEqual([], self.lint(
                ('filter_scheduler', 'available_filters', AVAILABLE),
                ('filter_scheduler', 'enabled_filters', enabled)), enabled)

    def test_both_pci_filters_enabled(self):
        findings = self.lint(
            ('filter_scheduler', 'available_filters', AVAILABLE),
            ('filter_scheduler', 'enabled_filters',
             'ComputeFilter,PciPassthroughFilter,GpuPassthroughFilter'))
        self.assertEqual(['pci-filters-both-enabled'], codes(findings))
        self.assertEqual('remove PciPassthroughFilter from '
                         '[filter_scheduler] enabled_filters',
                         findings[0].fix)

    def test_gpu_filter_enabled_but_not_available(self):
        for available in ((), (('filter_scheduler', 'available_filters',
                                'nova.scheduler.filters.all_filters'),)):
            findings = self.lint(
                *available, ('filter_scheduler', 'enabled_filters',
                             'ComputeFilter,GpuPassthroughFilter'))
            self.assertEqual(['gpu-filter-not-available'], codes(findings))
            self.assertIn('nova_gpu_ext.scheduler.filters.all_filters',
                          findings[0].fix)

    def test_gpu_filter_class_path_makes_it_available(self):
        self.assertEqual([], self.lint(
            ('filter_scheduler', 'available_filters',
             'nova_gpu_ext.scheduler.filters.gpu_passthrough.'
             'GpuPassthroughFilter'),
            ('filter_scheduler', 'enabled_filters', 'GpuPassthroughFilter')))

    def test_type_pci_alias_for_sriov_capable_gpu(self):
        a100 = '{"name": "a100", "vendor_id": "10de", "product_id": "20B5"}'
        spec = '{"vendor_id": "10de", "product_id": "20b5"}'
        findings = self.lint(('pci', 'device_spec', spec),
                             ('pci', 'alias', a100))
        self.assertEqual(['alias-type-pci-for-sriov-gpu'], codes(findings))
        self.assertIn('type-PF', findings[0].fix)

    def test_type_pf_alias_for_sriov_capable_gpu_is_fine(self):
        a100 = ('{"name": "a100", "device_type": "type-PF", '
                '"vendor_id": "10de", "product_id": "20b5"}')
        self.assertEqual([], self.lint(('pci', 'alias', a100)))

    def test_name_newer_than_the_release(self):
        findings = self.lint(('pci', 'device_spec', SPEC),
                             release=releases.parse('yoga'))
        self.assertEqual(['unknown-name'], codes(findings))
        self.assertIn('nova yoga does not know this name', findings[0].problem)
        self.assertEqual('rename it to [pci] passthrough_whitelist',
                         findings[0].fix)

    def test_device_spec_that_is_not_an_object(self):
        for value in ('42', '[1, 2]', '"10de"', '[{"vendor_id": "10de"}, 3]'):
            findings = self.lint(('pci', 'device_spec', value),
                                 ('pci', 'alias', ALIAS))
            self.assertEqual(['bad-device-spec'], codes(findings), value)

    def test_empty_alias_is_an_alias_without_name(self):
        findings = self.lint(('pci', 'device_spec', SPEC),
                             ('pci', 'alias', '{}'))
        self.assertEqual(['alias-without-name'], codes(findings))
        self.assertIn('needs a "name"', findings[0].problem)

    def test_values_nova_refuses_are_reported_with_nova_reason(self):
        findings = self.lint(
            ('pci', 'device_spec', '{"vendor_id": "10de", "address": '
                                   '"0000:zz:00.0"}'),
            ('pci', 'alias', ALIAS[:-1] + ', "numa_policy": "never"}'))
        self.assertEqual(['nova-refuses', 'nova-refuses'], codes(findings))
        self.assertIn("property bus ('zz') does not parse as a hex number",
                      findings[0].problem)
        self.assertIn("'never' is not one of", findings[1].problem)

    def test_alias_with_only_resource_class_outside_placement_mode(self):
        alias = '{"name": "any", "resource_class": "CUSTOM_GPU_ANY"}'
        findings = self.lint(('pci', 'alias', alias))
        self.assertEqual(['nova-refuses'], codes(findings))
        self.assertIn('does not have vendor_id and product_id',
                      findings[0].problem)

    def test_value_that_is_not_json(self):
        self.assertEqual(['bad-json', 'bad-json'], codes(self.lint(
            ('pci', 'alias', "{'name': 'x'}"), ('pci', 'alias', '[]'))))

    def test_finding_text_names_file_option_value_and_fix(self):
        (finding,) = self.lint(('pci', 'alias', ALIAS[:-1]
                                + ', "capability_type": "pci"}'))
        text = str(finding)
        self.assertTrue(text.startswith('nova.conf: [pci] alias = {'))
        self.assertIn('\n  fix: remove "capability_type"', text)


class TestReadEntries(testscenarios.WithScenarios, test_base.TestCase):
    """A nova.conf that cannot be read is one BadInput line naming it."""

    scenarios = unreadable.UNUSABLE_FILES

    def test_one_line_naming_the_file(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        self.make(path)
        exc = self.assertRaises(lint.LintInputError, lint.read_entries, path)
        self.assertIsInstance(exc, exception.BadInput)
        self.assertIn(path, str(exc))
        self.assertIn(self.says, str(exc))
        self.assertEqual(1, len(str(exc).splitlines()))


class TestReadEntriesAsNobody(test_base.TestCase):

    def test_file_only_root_can_read(self):
        root = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(root, 'nova.conf')
        unreadable.writing(b'[pci]\nalias = {}\n')(path)
        unreadable.open_up(root)
        unreadable.forbid(path)
        exc = self.assertRaises(lint.LintInputError, unreadable.as_nobody,
                                lint.read_entries, path)
        self.assertIn(f'cannot read {path}: Permission denied', str(exc))

    def test_entries_in_file_order(self):
        root = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(root, 'nova.conf')
        unreadable.writing(b'[pci]\nalias = a\n[DEFAULT]\nx = 1\n[pci]\n'
                           b'alias = b\n')(path)
        self.assertEqual(
            [('pci', 'alias', 'a'), ('DEFAULT', 'x', '1'),
             ('pci', 'alias', 'b')],
            [(e.section, e.option, e.value)
             for e in lint.read_entries(path)])
