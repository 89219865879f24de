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

"""lint across services: the nova.conf files of each role, as genconf
renders them, with one cross-service mistake each, and the clean set."""

import json
import os

import fixtures
from tests import base as test_base

from nova_gpu_ext.admin import lint_services
from nova_gpu_ext.admin import releases
from tests.unit.cmd import cli

NEWEST = releases.parse(releases.NEWEST)

CATALOG = """
[nova_gpu_ext]
gpu_models = k4200
[gpu:k4200]
vendor_id = 10de
product_id = 11b4
flavor_counts = 1, 4
"""
K4200_ALIAS = ('{"name": "k4200", "device_type": "type-PCI", "vendor_id": '
               '"10de", "product_id": "11b4"')
K4200_SPEC = '{"vendor_id": "10de", "product_id": "11b4"'
AVAILABLE_LINE = ('available_filters = '
                  'nova_gpu_ext.scheduler.filters.all_filters\n')


def codes(findings):
    return sorted(f.code for f in findings)


class ServicesTestCase(test_base.TestCase):
    """Files of every role rendered by genconf into a temporary directory."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.catalog = self.write('catalog.conf', CATALOG)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as out:
            out.write(text)
        return path

    def rendered(self, role, placement):
        args = ['genconf', '--catalog', self.catalog, '--role', role]
        rc, out, err = cli.run(*args + (['--placement'] if placement else []))
        self.assertEqual((0, ''), (rc, err))
        return out

    def role_files(self, placement, **edits):
        """role -> path; ``edits`` maps a role to a text -> text function."""
        texts = {'api': self.rendered('controller', placement),
                 'scheduler': self.rendered('scheduler', placement),
                 'compute': self.rendered('compute', placement)}
        return {role: self.write(f'{role}.conf',
                                 edits.get(role, lambda t: t)(text))
                for role, text in texts.items()}

    def lint(self, files, **kwargs):
        sources = [lint_services.Source(role, '', path)
                   for role, path in files.items()]
        return lint_services.check(lint_services.read_services(sources),
                                   NEWEST, **kwargs)


def drop(fragment):
    """An edit removing every line holding ``fragment``."""
    return lambda text: ''.join(line for line in text.splitlines(True)
                                if fragment not in line)


def replace(old, new):
    return lambda text: text.replace(old, new)


class TestCleanSets(ServicesTestCase):

    def test_genconf_roles_lint_clean_together_in_both_modes(self):
        for placement in (False, True):
            self.assertEqual([], self.lint(self.role_files(placement)),
                             placement)

    def test_all_in_one_lints_clean_as_one_file_and_as_every_role(self):
        for placement in (False, True):
            path = self.write('aio.conf',
                              self.rendered('all-in-one', placement))
            self.assertEqual(
                (0, f'0 finding(s) in {path}\n'),
                cli.run('lint-conf', '--nova-conf', path)[::2])
            self.assertEqual([], self.lint({'node': path}))

    def test_compute_and_controller_files_on_one_node_repeat_aliases(self):
        """Why all-in-one exists: the two role files pasted on one node."""
        files = self.role_files(True)
        rc, found, _ = cli.records('lint-conf', '--nova-conf',
                                   files['compute'], '--nova-conf',
                                   files['api'])
        self.assertEqual(1, rc)
        self.assertEqual({'multi-spec-alias-in-placement'},
                         {f['finding'] for f in found})


class TestAliases(ServicesTestCase):

    def test_alias_missing_on_api_names_both_files(self):
        files = self.role_files(False, api=drop('alias ='),
                                scheduler=drop('alias ='))
        [finding] = self.lint(files)
        self.assertEqual('alias-missing', finding.code)
        self.assertEqual((files['compute'], files['api']),
                         (finding.entry.path, finding.other))
        self.assertIn('nova-api refuses every flavor', finding.problem)

    def test_alias_missing_on_a_compute(self):
        files = self.role_files(False, compute=drop('alias ='))
        [finding] = self.lint(files)
        self.assertEqual('alias-missing', finding.code)
        self.assertEqual((files['api'], files['compute']),
                         (finding.entry.path, finding.other))

    def test_alias_different_on_a_compute(self):
        files = self.role_files(False, compute=replace(
            K4200_ALIAS, K4200_ALIAS + ', "numa_policy": "required"'))
        [finding] = self.lint(files)
        self.assertEqual(('alias-differs', files['compute'], files['api']),
                         (finding.code, finding.entry.path, finding.other))

    def test_scheduler_in_placement_mode_needs_the_aliases(self):
        files = self.role_files(True, scheduler=drop('alias ='))
        [finding] = self.lint(files)
        self.assertEqual(('alias-missing', files['api'], files['scheduler']),
                         (finding.code, finding.entry.path, finding.other))

    def test_scheduler_in_legacy_mode_may_omit_them(self):
        self.assertEqual([], self.lint(self.role_files(
            False, scheduler=drop('alias ='))))

    def test_repeated_alias_with_placement_on_the_scheduler_only(self):
        """The compute file alone is fine; the scheduler says placement.

        (A compute file without pci_in_placement, as before genconf wrote
        it there too.)
        """
        files = self.role_files(True, compute=lambda t: drop(
            'pci_in_placement')(t.replace(
                'alias = ', 'alias = ' + K4200_ALIAS + ', "resource_class": '
                '"CUSTOM_GPU_K4200"}\nalias = ')))
        findings = self.lint(files)
        self.assertIn('multi-spec-alias-in-placement', codes(findings))
        [repeated] = [f for f in findings
                      if f.code == 'multi-spec-alias-in-placement']
        self.assertEqual((files['compute'], files['scheduler']),
                         (repeated.entry.path, repeated.other))
        self.assertEqual([], lint_services.check(
            lint_services.read_services(
                [lint_services.Source('compute', '', files['compute'])]),
            NEWEST))


class TestPlacementMode(ServicesTestCase):

    def test_scheduler_in_placement_without_compute_reporting(self):
        files = self.role_files(True, compute=drop('report_in_placement'))
        [finding] = self.lint(files)
        self.assertEqual(('placement-not-reported', files['scheduler'],
                          files['compute']),
                         (finding.code, finding.entry.path, finding.other))
        self.assertIn('set [pci] report_in_placement = True in '
                      + files['compute'], finding.fix)

    def test_compute_reporting_to_a_legacy_scheduler(self):
        files = self.role_files(
            True, scheduler=drop('pci_in_placement'),
            api=drop('pci_in_placement'))
        findings = self.lint(files)
        self.assertEqual(['placement-not-used'], codes(findings))
        self.assertEqual((files['compute'], files['scheduler']),
                         (findings[0].entry.path, findings[0].other))

    def test_api_without_pci_in_placement(self):
        files = self.role_files(True, api=drop('pci_in_placement'))
        findings = self.lint(files)
        self.assertIn('placement-mode-differs', codes(findings))


class TestSchedulerFilters(ServicesTestCase):

    def test_scheduler_without_enabled_filters(self):
        files = self.role_files(False, scheduler=drop('enabled_filters'))
        [finding] = self.lint(files)
        self.assertEqual(('gpu-filter-not-enabled', files['scheduler'],
                          'enabled_filters', ''),
                         (finding.code, finding.entry.path,
                          finding.entry.option, finding.entry.value))
        self.assertIn('GpuPassthroughFilter in ' + files['scheduler'],
                      finding.fix)

    def test_scheduler_with_nova_filter_only(self):
        files = self.role_files(False, scheduler=replace(
            ',GpuPassthroughFilter', ',PciPassthroughFilter'))
        [finding] = self.lint(files)
        self.assertEqual('gpu-filter-not-enabled', finding.code)
        self.assertIn('replace PciPassthroughFilter', finding.fix)

    def test_both_filters(self):
        files = self.role_files(False, scheduler=replace(
            ',GpuPassthroughFilter', ',PciPassthroughFilter,'
            'GpuPassthroughFilter'))
        self.assertEqual(['pci-filters-both-enabled'],
                         codes(self.lint(files)))

    def test_gpu_filter_not_reachable_through_available_filters(self):
        files = self.role_files(False, scheduler=drop(
            'nova_gpu_ext.scheduler.filters.all_filters'))
        [finding] = self.lint(files)
        self.assertEqual(('gpu-filter-not-available', files['scheduler']),
                         (finding.code, finding.entry.path))


class TestPlacementResults(ServicesTestCase):
    """8 K4200 per host by address, the catalog's largest flavor 4."""

    def eight_gpus(self, text):
        specs = ''.join(
            f'device_spec = {K4200_SPEC}, "resource_class": '
            f'"CUSTOM_GPU_K4200", "address": "0000:{0x81 + i:02x}:00.0"}}\n'
            for i in range(8))
        return drop('device_spec =')(text).replace('[pci]\n',
                                                   '[pci]\n' + specs)

    def test_default_limit_is_below_one_hosts_candidates(self):
        files = self.role_files(True, compute=self.eight_gpus)
        [finding] = self.lint(files, largest_request=4)
        self.assertEqual(('placement-results-too-low', files['scheduler'],
                          'max_placement_results', files['compute']),
                         (finding.code, finding.entry.path,
                          finding.entry.option, finding.other))
        # 8 * 7 * 6 * 5 ordered choices of 4 request groups.
        self.assertIn('1680 allocation candidates', finding.problem)
        self.assertIn('max_placement_results = 1680', finding.fix)

    def test_a_high_enough_limit_is_clean(self):
        files = self.role_files(True, compute=self.eight_gpus, scheduler=(
            lambda t: t + '\n[scheduler]\nmax_placement_results = 1680\n'))
        self.assertEqual([], self.lint(files, largest_request=4))

    def test_whole_host_flavor_without_catalog_and_given_count(self):
        files = self.role_files(True)
        [finding] = self.lint(files, gpus_per_host=7)
        self.assertIn('5040 allocation candidates', finding.problem)
        self.assertEqual('', finding.other)

    def test_legacy_mode_is_not_checked(self):
        self.assertEqual([], self.lint(self.role_files(False),
                                       gpus_per_host=8))

    def test_cli_takes_the_largest_flavor_from_the_catalog(self):
        files = self.role_files(True, compute=self.eight_gpus)
        rc, found, _ = cli.records(
            'lint-conf', '--catalog', self.catalog,
            *[f'--nova-conf={role}={path}' for role, path in files.items()])
        self.assertEqual(1, rc)
        self.assertEqual([('placement-results-too-low', 'scheduler',
                           files['compute'])],
                         [(f['finding'], f['service'], f['other_file'])
                          for f in found])


class TestUnusedDeviceSpecs(ServicesTestCase):

    def test_device_spec_no_alias_uses(self):
        files = self.role_files(False, compute=replace(
            '[pci]\n', '[pci]\ndevice_spec = {"vendor_id": "10de", '
            '"product_id": "1db4"}\n'))
        [finding] = self.lint(files)
        self.assertEqual(('device-spec-unused', files['compute'],
                          files['api']),
                         (finding.code, finding.entry.path, finding.other))
        self.assertIn('1db4', finding.entry.value)

    def test_port_device_specs_are_for_neutron(self):
        files = self.role_files(False, compute=replace(
            '[pci]\n', '[pci]\ndevice_spec = {"vendor_id": "8086", '
            '"product_id": "1572", "physical_network": "physnet1"}\n'))
        self.assertEqual([], self.lint(files))


class TestKollaTree(ServicesTestCase):

    def kolla(self, root, placement=False, **edits):
        files = self.role_files(placement, **edits)
        for service, role in (('nova-api', 'api'),
                              ('nova-conductor', 'api'),
                              ('nova-scheduler', 'scheduler'),
                              ('nova-compute', 'compute')):
            with open(files[role]) as text:
                self.write(f'{root}/{service}/nova.conf', text.read())
        self.write(f'{root}/placement-api/placement.conf', '[DEFAULT]\n')
        return os.path.join(self.dir, root)

    def test_clean_tree_of_one_node(self):
        tree = self.kolla('kolla', placement=True)
        rc, found, err = cli.records('lint-conf', '--nova-conf-tree', tree)
        self.assertEqual((0, []), (rc, found))
        self.assertEqual(4, err.count('nova.conf'))

    def test_tree_per_host_names_both_files(self):
        self.kolla('cloud/ctl1', placement=True)
        self.kolla('cloud/gpu1', placement=True,
                   compute=drop('report_in_placement'))
        tree = os.path.join(self.dir, 'cloud')
        rc, found, _ = cli.records('lint-conf', '--nova-conf-tree', tree)
        self.assertEqual(1, rc)
        self.assertEqual(
            [('placement-not-reported', 'scheduler@ctl1',
              f'{tree}/ctl1/nova-scheduler/nova.conf',
              f'{tree}/gpu1/nova-compute/nova.conf'),
             ('placement-not-reported', 'scheduler@gpu1',
              f'{tree}/gpu1/nova-scheduler/nova.conf',
              f'{tree}/gpu1/nova-compute/nova.conf')],
            [(f['finding'], f['service'], f['file'], f['other_file'])
             for f in found])


class TestOneFileForSeveralServices(ServicesTestCase):

    def test_each_finding_names_the_service_it_is_of(self):
        files = self.role_files(False, api=drop('alias ='),
                                scheduler=drop('alias ='))
        rc, found, _ = cli.records(
            'lint-conf', '--nova-conf', f'api={files["api"]}',
            '--nova-conf', f'conductor={files["api"]}',
            '--nova-conf', f'compute={files["compute"]}')
        self.assertEqual(1, rc)
        self.assertEqual([('alias-missing', 'compute', files['api'])],
                         [(f['finding'], f['service'], f['other_file'])
                          for f in found])


class TestSourcesBadInput(ServicesTestCase):

    def assert_bad(self, *argv, said):
        rc, out, err = cli.run('lint-conf', *argv)
        self.assertEqual((2, ''), (rc, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(said, err)

    def test_unknown_role(self):
        self.assert_bad('--nova-conf', 'controller=/etc/nova/nova.conf',
                        said='unknown role "controller"')

    def test_role_file_that_is_missing(self):
        self.assert_bad('--nova-conf', 'api=/nonexistent/nova.conf',
                        said='cannot read /nonexistent/nova.conf')

    def test_tree_that_is_not_a_directory(self):
        self.assert_bad('--nova-conf-tree', self.catalog,
                        said=f'--nova-conf-tree {self.catalog}: not a '
                             'directory')

    def test_tree_without_nova_services(self):
        self.write('empty/keystone/keystone.conf', '[DEFAULT]\n')
        self.assert_bad('--nova-conf-tree', os.path.join(self.dir, 'empty'),
                        said='no nova-api/, nova-scheduler/')

    def test_nothing_to_check(self):
        self.assert_bad(said='give --nova-conf FILE')

    def test_gpus_per_host_below_one(self):
        path = self.write('nova.conf', '[pci]\n')
        self.assert_bad('--nova-conf', f'compute={path}',
                        '--gpus-per-host', '0', said='--gpus-per-host 0')

    def test_plain_file_with_equals_in_its_path_is_a_file(self):
        path = self.write('a=b/nova.conf', '[pci]\n')
        self.assertEqual(lint_services.Source('node', '', path),
                         lint_services.parse_source(path))
        self.assertEqual(json.loads('[]'),
                         cli.records('lint-conf', '--nova-conf', path)[1])
