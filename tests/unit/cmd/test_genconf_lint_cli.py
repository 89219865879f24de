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

"""The genconf and lint-conf commands: output, exit codes, bad input."""

import os

import fixtures
import testscenarios

from nova_gpu_ext.admin import releases
from tests import base as test_base
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

MINIMAL = catalog_files.MINIMAL

EXAMPLE = os.path.join(test_base.ETC, 'gpu-catalog.conf.example')

run = cli.run


class TestGenconf(test_base.TestCase):

    def genconf(self, text, *args):
        return run('genconf', '--catalog',
                   catalog_files.write(self, text), *args)

    def test_compute_role_prints_the_release_option_names(self):
        rc, out, err = self.genconf(MINIMAL, '--role', 'compute',
                                    '--nova-release', 'ocata')
        self.assertEqual((0, ''), (rc, err))
        self.assertIn('\n[pci]\n# k4200 (10de:11b4)\npassthrough_whitelist = '
                      '{"vendor_id": "10de", "product_id": "11b4"}\n', out)
        self.assertIn('nova ocata, legacy PCI mode', out.splitlines()[0])

    def test_catalog_files_are_repeatable_later_wins(self):
        later = catalog_files.write(
            self, '[gpu:k4200]\nproduct_id = 11b5\n', 'later.conf')
        rc, out, err = self.genconf(MINIMAL, '--catalog', later,
                                    '--role', 'compute')
        self.assertEqual((0, ''), (rc, err))
        self.assertIn('"product_id": "11b5"', out)

    def test_host_role_prints_vfio_settings(self):
        rc, out, err = self.genconf(MINIMAL, '--role', 'host')
        self.assertEqual(0, rc)
        self.assertIn('intel_iommu=on iommu=pt vfio-pci.ids=10de:11b4\n',
                      out)

    def test_feature_the_release_lacks_is_refused_with_nothing_printed(self):
        rc, out, err = self.genconf(MINIMAL, '--role', 'compute',
                                    '--placement', '--nova-release', 'zed')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('nova zed lacks PCI in placement (first in 2023.1)',
                      err)

    def test_unknown_release_is_bad_input(self):
        rc, out, err = self.genconf(MINIMAL, '--role', 'compute',
                                    '--nova-release', 'mitaka')
        self.assertEqual((2, ''), (rc, out))
        self.assertEqual(
            '--nova-release: unknown nova release "mitaka"',
            err.split(';')[0])

    def test_empty_catalog_is_bad_input(self):
        rc, out, err = self.genconf('', '--role', 'host')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('gpu_models', err)

    def test_missing_catalog_file_is_bad_input(self):
        rc, out, err = run('genconf', '--catalog', '/nonexistent.conf',
                           '--role', 'compute')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('/nonexistent.conf', err)

    def test_shipped_example_renders_for_every_role_and_mode(self):
        for role in ('compute', 'controller', 'scheduler', 'host'):
            for mode in ([], ['--placement']):
                rc, out, err = run('genconf', '--catalog', EXAMPLE,
                                   '--role', role, *mode)
                self.assertEqual((0, ''), (rc, err), (role, mode))

    def test_example_host_role_keeps_the_host_v100_on_its_driver(self):
        rc, out, err = run('genconf', '--catalog', EXAMPLE, '--role', 'host')
        self.assertEqual((0, ''), (rc, err))
        self.assertNotIn('10de:1db4', out)
        self.assertNotIn('blacklist nvidia', out)
        self.assertIn('KERNEL=="0000:81:*.*", ATTR{vendor}=="0x10de", '
                      'ATTR{device}=="0x1db4", '
                      'ATTR{driver_override}="vfio-pci"', out)

    def test_lint_conf_finds_nothing_in_genconf_output(self):
        for mode in ([], ['--placement']):
            for role in ('compute', 'controller', 'scheduler'):
                rc, out, err = run('genconf', '--catalog', EXAMPLE,
                                   '--role', role, *mode)
                path = catalog_files.write(self, out, f'{role}.conf')
                rc, out, err = run('lint-conf', '--nova-conf', path)
                self.assertEqual(0, rc, out)

    def test_default_release_is_the_newest(self):
        rc, out, err = self.genconf(MINIMAL, '--role', 'controller')
        self.assertIn(f'nova {releases.NEWEST}', out.splitlines()[0])


class TestGenconfBadCatalog(testscenarios.WithScenarios, test_base.TestCase):
    """Bad catalog: section, option and value on stderr, exit 2, no stdout."""

    scenarios = [
        ('unknown model', {
            'text': MINIMAL.replace('= k4200', '= k4200, v100'),
            'named': '[nova_gpu_ext] gpu_models = v100'}),
        ('bad hex', {'text': MINIMAL.replace('10de', '10dx'),
                     'named': '[gpu:k4200] vendor_id = 10dx'}),
        ('duplicate ids', {
            'text': MINIMAL.replace('= k4200', '= k4200, twin')
            + '[gpu:twin]\nvendor_id = 10de\nproduct_id = 11b4\n',
            'named': '[gpu:twin] product_id = 11b4'}),
        ('alias with colon', {'text': MINIMAL + 'alias = k:1\n',
                              'named': '[gpu:k4200] alias = k:1'}),
        ('alias with comma', {'text': MINIMAL + 'alias = k,1\n',
                              'named': '[gpu:k4200] alias = k,1'}),
        ('companion is the gpu', {
            'text': MINIMAL + 'companions = 10de:11b4\n',
            'named': '[gpu:k4200] companions = 10de:11b4'}),
        ('class names unknown model', {
            'text': MINIMAL.replace('[gpu:', 'gpu_classes = c\n[gpu:')
            + '[gpu_class:c]\nmodels = k4200, v100\n',
            'named': '[gpu_class:c] models = v100'}),
    ]

    def test_error_on_stderr_exit_2_nothing_on_stdout(self):
        for role in ('compute', 'host'):
            rc, out, err = run('genconf', '--role', role, '--catalog',
                               catalog_files.write(self, self.text))
            self.assertEqual((2, ''), (rc, out))
            self.assertIn(self.named, err)
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertTrue(err.startswith('bad catalog: '), err)


class TestLintConf(test_base.TestCase):

    def nova_conf(self, text, name='nova.conf'):
        return catalog_files.write(self, text, name)

    def test_clean_file_exits_0_with_no_records(self):
        path = self.nova_conf('[pci]\ndevice_spec = {"vendor_id": "10de", '
                              '"product_id": "11b4"}\n')
        self.assertEqual((0, [], f'0 finding(s) in {path}\n'),
                         cli.records('lint-conf', '--nova-conf', path))

    def test_findings_exit_1_as_records_with_their_fix(self):
        path = self.nova_conf(
            '[filter_scheduler]\nenabled_filters = ComputeFilter\n')
        rc, found, _ = cli.records('lint-conf', '--nova-conf', path)
        self.assertEqual(1, rc)
        [finding] = found
        self.assertEqual(
            (path, 'filter_scheduler', 'enabled_filters', 'ComputeFilter',
             'pci-filter-not-enabled'),
            (finding['file'], finding['section'], finding['option'],
             finding['value'], finding['finding']))
        self.assertIn('add GpuPassthroughFilter', finding['fix'])

    def test_value_format_prints_one_fix_per_line(self):
        path = self.nova_conf(
            '[filter_scheduler]\nenabled_filters = ComputeFilter\n')
        rc, out, _ = run('lint-conf', '--nova-conf', path, '-f', 'value',
                         '-c', 'fix')
        self.assertEqual((1, 'add GpuPassthroughFilter (it replaces '
                             'PciPassthroughFilter) to [filter_scheduler] '
                             'enabled_filters\n'), (rc, out))

    def test_findings_across_files_of_one_node(self):
        spec = self.nova_conf('[pci]\ndevice_spec = {"vendor_id": "10de", '
                              '"product_id": "11b4"}\n')
        alias = self.nova_conf(
            '[pci]\nalias = {"name": "a", "vendor_id": "10de", '
            '"product_id": "1db4"}\n', 'alias.conf')
        rc, found, _ = cli.records('lint-conf', '--nova-conf', spec,
                                   '--nova-conf', alias)
        self.assertEqual(1, rc)
        self.assertEqual([(alias, 'pci', 'alias')],
                         [(f['file'], f['section'], f['option'])
                          for f in found])


class TestLintConfBadInput(testscenarios.WithScenarios, test_base.TestCase):
    """One line on stderr naming the file, exit 2, nothing on stdout."""

    scenarios = [
        ('missing', {'content': None,
                     'said': 'cannot read {path}: No such file'}),
        ('unparsable', {'content': b'no section\n',
                        'said': 'cannot parse {path}'}),
        ('binary', {'content': b'\x89PNG\r\n\x1a\n\xff\xfe\x00',
                    'said': 'cannot read {path}: not UTF-8 text'}),
        ('directory', {'content': 'dir',
                       'said': 'cannot read {path}: Is a directory'}),
    ]

    def test_one_line_exit_2(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        if self.content == 'dir':
            os.mkdir(path)
        elif self.content is not None:
            with open(path, 'wb') as f:
                f.write(self.content)
        rc, out, err = run('lint-conf', '--nova-conf', path)
        self.assertEqual((2, ''), (rc, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(self.said.format(path=path), err)


class TestLintConfUsage(test_base.TestCase):

    def test_positional_files_are_a_usage_error(self):
        rc, out, err = run('lint-conf', '/etc/nova/nova.conf')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('--nova-conf', err)
