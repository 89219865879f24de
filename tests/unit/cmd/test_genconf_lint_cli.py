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

import contextlib
import io
import os

import testscenarios
import testtools

from nova_gpu_ext.cmd import main
from nova_gpu_ext.tooling import releases
from tests.unit import catalog_files

MINIMAL = catalog_files.MINIMAL

EXAMPLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))),
    'etc', 'nova-gpu-ext', 'gpu-catalog.conf.example')


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


class TestGenconf(testtools.TestCase):

    def genconf(self, text, *args):
        return run('genconf', '--config-file',
                   catalog_files.write(self, text), *args)

    def test_compute_role_prints_the_release_option_names(self):
        rc, out, err = self.genconf(MINIMAL, '--role', 'compute',
                                    '--nova-release', 'ocata')
        self.assertEqual((0, ''), (rc, err))
        self.assertIn('\n[pci]\n# k4200 (10de:11b4)\npassthrough_whitelist = '
                      '{"vendor_id": "10de", "product_id": "11b4"}\n', out)
        self.assertIn('nova ocata, legacy PCI mode', out.splitlines()[0])

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
        self.assertIn('unknown nova release "mitaka"', err)

    def test_empty_catalog_is_bad_input(self):
        rc, out, err = self.genconf('', '--role', 'host')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('gpu_models', err)

    def test_missing_catalog_file_is_bad_input(self):
        rc, out, err = run('genconf', '--config-file', '/nonexistent.conf',
                           '--role', 'compute')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('/nonexistent.conf', err)

    def test_shipped_example_renders_for_every_role_and_mode(self):
        for role in ('compute', 'controller', 'scheduler', 'host'):
            for mode in ([], ['--placement']):
                rc, out, err = run('genconf', '--config-file', EXAMPLE,
                                   '--role', role, *mode)
                self.assertEqual((0, ''), (rc, err), (role, mode))

    def test_lint_conf_finds_nothing_in_genconf_output(self):
        for mode in ([], ['--placement']):
            for role in ('compute', 'controller', 'scheduler'):
                rc, out, err = run('genconf', '--config-file', EXAMPLE,
                                   '--role', role, *mode)
                path = catalog_files.write(self, out, f'{role}.conf')
                rc, out, err = run('lint-conf', path)
                self.assertEqual(0, rc, out)

    def test_default_release_is_the_newest(self):
        rc, out, err = self.genconf(MINIMAL, '--role', 'controller')
        self.assertIn(f'nova {releases.NEWEST}', out.splitlines()[0])


class TestGenconfBadCatalog(testscenarios.WithScenarios, testtools.TestCase):
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
            rc, out, err = run('genconf', '--role', role, '--config-file',
                               catalog_files.write(self, self.text))
            self.assertEqual((2, ''), (rc, out))
            self.assertIn(self.named, err)
            self.assertTrue(err.startswith('nova-gpu-ext genconf: error:'))


class TestLintConf(testtools.TestCase):

    def test_clean_file_exits_0(self):
        path = catalog_files.write(
            self, '[pci]\ndevice_spec = {"vendor_id": "10de", '
                  '"product_id": "11b4"}\n', 'nova.conf')
        rc, out, err = run('lint-conf', path)
        self.assertEqual((0, ''), (rc, err))
        self.assertIn('0 finding(s)', out)

    def test_findings_exit_1_with_fix(self):
        path = catalog_files.write(
            self, '[filter_scheduler]\nenabled_filters = ComputeFilter\n',
            'nova.conf')
        rc, out, err = run('lint-conf', path)
        self.assertEqual(1, rc)
        self.assertIn('pci-filter-not-enabled', out)
        self.assertIn('fix: add PciPassthroughFilter', out)

    def test_findings_across_files_of_one_node(self):
        spec = catalog_files.write(
            self, '[pci]\ndevice_spec = {"vendor_id": "10de", '
                  '"product_id": "11b4"}\n', 'nova.conf')
        alias = catalog_files.write(
            self, '[pci]\nalias = {"name": "a", "vendor_id": "10de", '
                  '"product_id": "1db4"}\n', 'alias.conf')
        rc, out, err = run('lint-conf', spec, alias)
        self.assertEqual(1, rc)
        self.assertIn(f'{alias}: [pci] alias', out)

    def test_unreadable_file_exits_2(self):
        rc, out, err = run('lint-conf', '/nonexistent/nova.conf')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('cannot read /nonexistent/nova.conf', err)

    def test_unparsable_file_exits_2(self):
        path = catalog_files.write(self, 'no section\n', 'nova.conf')
        rc, out, err = run('lint-conf', path)
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('cannot parse', err)
