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

"""``nova-gpu-ext discover`` and ``check-host`` end to end."""

import contextlib
import io
import json
import os

import testtools

from nova_gpu_ext.cmd import main
from tests.unit.tooling import sysfs_tree


class CliTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        self.tree.set_cpu(sysfs_tree.INTEL)
        sysfs_tree.ready_modules(self.tree)

    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main.main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def write_catalog(self, text):
        path = os.path.join(self.tree.root, 'catalog.conf')
        with open(path, 'w') as out:
            out.write(text)
        return path


class TestCheckHostCommand(CliTestCase):

    def test_ready_host_exits_0(self):
        sysfs_tree.k4200(self.tree)
        code, out, _ = self.run_cli('check-host', '--root', self.tree.root)
        self.assertEqual(0, code)
        self.assertIn('ready: 0 problem(s)', out)

    def test_problem_exits_1_and_prints_the_fix(self):
        sysfs_tree.k4200(self.tree, audio_driver='snd_hda_intel')
        code, out, _ = self.run_cli('check-host', '--root', self.tree.root)
        self.assertEqual(1, code)
        self.assertIn('[PROBLEM] binding 0000:03:00.1', out)
        self.assertIn('fix: driverctl set-override 0000:03:00.1 vfio-pci',
                      out)

    def test_json_output(self):
        sysfs_tree.k4200(self.tree, audio_driver='snd_hda_intel')
        code, out, _ = self.run_cli('check-host', '--root', self.tree.root,
                                    '--format', 'json')
        doc = json.loads(out)
        self.assertFalse(doc['ready'])
        self.assertIn({'check', 'subject', 'status', 'message', 'remedy'},
                      [set(c) for c in doc['checks']])
        self.assertEqual(
            ['0000:03:00.1'],
            [c['subject'] for c in doc['checks']
             if c['status'] == 'problem'])

    def test_catalog_compared(self):
        sysfs_tree.a100(self.tree)
        path = self.write_catalog(
            '[nova_gpu_ext]\ngpu_models = a100\n'
            '[gpu:a100]\nvendor_id = 10de\nproduct_id = 20b0\n')
        code, out, _ = self.run_cli('check-host', '--root', self.tree.root,
                                    '--config-file', path)
        self.assertEqual(1, code)
        self.assertIn('fix: set device_type = type-PF in [gpu:a100]', out)

    def test_bad_catalog_exits_2_naming_the_option(self):
        path = self.write_catalog(
            '[nova_gpu_ext]\ngpu_models = a100\n'
            '[gpu:a100]\nvendor_id = nvidia\nproduct_id = 20b0\n')
        code, out, err = self.run_cli('check-host', '--root',
                                      self.tree.root, '--config-file', path)
        self.assertEqual((2, ''), (code, out))
        self.assertIn('[gpu:a100] vendor_id = nvidia', err)

    def test_missing_catalog_file_exits_2(self):
        code, _, err = self.run_cli('check-host', '--root', self.tree.root,
                                    '--config-file', '/nonexistent.conf')
        self.assertEqual(2, code)
        self.assertIn('/nonexistent.conf', err)

    def test_unreadable_root_exits_2(self):
        code, _, err = self.run_cli('check-host', '--root',
                                    self.tree.root + '/missing')
        self.assertEqual(2, code)
        self.assertIn('missing/sys/bus/pci/devices', err)


class TestDiscoverCommand(CliTestCase):

    def test_ini_catalog_section(self):
        sysfs_tree.k4200(self.tree)
        code, out, _ = self.run_cli('discover', '--root', self.tree.root)
        self.assertEqual(0, code)
        self.assertIn('[nova_gpu_ext]\ngpu_models = 10de_11b4\n', out)
        self.assertIn('[gpu:10de_11b4]\nvendor_id = 10de\nproduct_id = 11b4'
                      '\ndevice_type = type-PCI\ncompanions = 10de:0e0a\n',
                      out)

    def test_json(self):
        sysfs_tree.a100(self.tree)
        code, out, _ = self.run_cli('discover', '--root', self.tree.root,
                                    '--format', 'json')
        [model] = json.loads(out)['models']
        self.assertEqual((0, 'type-PF', 1, [1]),
                         (code, model['device_type'], model['count'],
                          model['numa_nodes']))

    def test_unreadable_root_exits_2(self):
        code, out, _ = self.run_cli('discover', '--root',
                                    self.tree.root + '/missing')
        self.assertEqual((2, ''), (code, out))


class TestThisMachine(CliTestCase):
    """This machine (a CI runner) has no GPU: both commands still finish."""

    def test_check_host_on_real_root_finishes_reporting_no_gpu(self):
        code, out, err = self.run_cli('check-host', '--format', 'json')
        doc = json.loads(out)
        self.assertIn(code, (0, 1))
        self.assertEqual('', err)
        [gpus] = [c for c in doc['checks'] if c['check'] == 'gpus']
        self.assertIn('no GPU', gpus['message'])

    def test_discover_on_real_root_finishes_reporting_no_gpu(self):
        code, out, err = self.run_cli('discover')
        self.assertEqual((0, ''), (code, err))
        self.assertIn('no GPU', out)
