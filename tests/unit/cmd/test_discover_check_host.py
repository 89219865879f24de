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

import os

from tests import base as test_base
from tests.unit.cmd import cli
from tests.unit.host import sysfs_tree


class CliTestCase(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        self.tree.set_cpu(sysfs_tree.INTEL)
        sysfs_tree.ready_modules(self.tree)

    def run_cli(self, *argv):
        return cli.run(*argv)

    def records(self, *argv):
        return cli.records(*argv)

    def write_catalog(self, text):
        path = os.path.join(self.tree.root, 'catalog.conf')
        with open(path, 'w') as out:
            out.write(text)
        return path


class TestCheckHostCommand(CliTestCase):

    def test_ready_host_exits_0(self):
        sysfs_tree.k4200(self.tree)
        code, checks, err = self.records('check-host', '--root',
                                         self.tree.root)
        self.assertEqual(0, code)
        self.assertEqual({'ok'}, {c['status'] for c in checks})
        self.assertTrue(err.startswith('ready: 0 problem(s)'), err)

    def test_problem_exits_1_with_the_fix(self):
        sysfs_tree.k4200(self.tree, audio_driver='snd_hda_intel')
        code, checks, err = self.records('check-host', '--root',
                                         self.tree.root)
        self.assertEqual(1, code)
        self.assertTrue(err.startswith('NOT READY: 1 problem(s)'), err)
        [problem] = [c for c in checks if c['status'] == 'problem']
        self.assertEqual(('binding', '0000:03:00.1'),
                         (problem['check'], problem['subject']))
        self.assertIn('driverctl set-override 0000:03:00.1 vfio-pci',
                      problem['fix'])
        self.assertEqual({''}, {c['fix'] for c in checks
                                if c['status'] == 'ok'})

    def test_columns_are_the_check_fields(self):
        sysfs_tree.k4200(self.tree)
        _, checks, _ = self.records('check-host', '--root', self.tree.root)
        self.assertEqual(['status', 'check', 'subject', 'message', 'fix'],
                         list(checks[0]))

    def test_catalog_compared(self):
        sysfs_tree.a100(self.tree)
        path = self.write_catalog(
            '[nova_gpu_ext]\ngpu_models = a100\n'
            '[gpu:a100]\nvendor_id = 10de\nproduct_id = 20b0\n')
        code, out, _ = self.run_cli('check-host', '--root', self.tree.root,
                                    '--catalog', path, '-f', 'value',
                                    '-c', 'Fix')
        self.assertEqual(1, code)
        self.assertIn('set device_type = type-PF in [gpu:a100]', out)

    def test_bad_catalog_exits_2_naming_the_option(self):
        path = self.write_catalog(
            '[nova_gpu_ext]\ngpu_models = a100\n'
            '[gpu:a100]\nvendor_id = nvidia\nproduct_id = 20b0\n')
        code, out, err = self.run_cli('check-host', '--root',
                                      self.tree.root, '--catalog', path)
        self.assertEqual((2, ''), (code, out))
        self.assertIn('[gpu:a100] vendor_id = nvidia', err)

    def test_missing_catalog_file_exits_2(self):
        code, _, err = self.run_cli('check-host', '--root', self.tree.root,
                                    '--catalog', '/nonexistent.conf')
        self.assertEqual(2, code)
        self.assertIn('/nonexistent.conf', err)

    def test_unreadable_root_exits_2(self):
        code, out, err = self.run_cli('check-host', '--root',
                                      self.tree.root + '/missing')
        self.assertEqual((2, ''), (code, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('missing/sys/bus/pci/devices', err)


class TestDiscoverCommand(CliTestCase):

    def test_ini_catalog_section(self):
        sysfs_tree.k4200(self.tree)
        code, out, _ = self.run_cli('discover', '--root', self.tree.root,
                                    '--ini')
        self.assertEqual(0, code)
        self.assertIn('[nova_gpu_ext]\ngpu_models = 10de_11b4\n', out)
        self.assertIn('[gpu:10de_11b4]\nvendor_id = 10de\nproduct_id = 11b4'
                      '\ndevice_type = type-PCI\ncompanions = 10de:0e0a\n',
                      out)

    def test_one_record_per_gpu(self):
        sysfs_tree.a100(self.tree)
        code, gpus, _ = self.records('discover', '--root', self.tree.root)
        [gpu] = gpus
        self.assertEqual((0, 'type-PF', 1, '10de', '20b0'),
                         (code, gpu['device_type'], gpu['numa_node'],
                          gpu['vendor_id'], gpu['product_id']))

    def test_records_show_group_members_card_functions_and_bridge(self):
        sysfs_tree.k4200(self.tree)
        _, [gpu], _ = self.records('discover', '--root', self.tree.root)
        self.assertEqual(
            ('0000:03:00.0', '13', '0000:03:00.0, 0000:03:00.1',
             '0000:00:02.0', '10de:0e0a'),
            (gpu['address'], gpu['iommu_group'], gpu['iommu_group_members'],
             gpu['parent'], gpu['companions']))
        self.assertTrue(gpu['card_functions'].startswith(
            '0000:03:00.1 10de:0e0a ('), gpu['card_functions'])

    def test_records_show_root_port_and_pcie_switch(self):
        sysfs_tree.switch_server(self.tree, 2, 1)
        sysfs_tree.Board(self.tree).on_root_port(2)
        _, gpus, _ = self.records('discover', '--root', self.tree.root)
        self.assertEqual(
            [('0000:03:00.0', '0000:00:01.1', '0000:01:00.0'),
             ('0000:43:00.0', '0000:40:01.1', '0000:41:00.0'),
             ('0000:81:00.0', '0000:80:01.1', None)],
            [(g['address'], g['root_port'], g['pcie_switch']) for g in gpus])

    def test_unreadable_root_exits_2(self):
        code, out, _ = self.run_cli('discover', '--root',
                                    self.tree.root + '/missing')
        self.assertEqual((2, ''), (code, out))


class TestHostKeptGpuCommand(CliTestCase):

    def test_host_gpu_on_vfio_pci_exits_1_naming_it(self):
        for address, driver in (('0000:81:00.0', 'vfio-pci'),
                                ('0000:03:00.0', 'vfio-pci')):
            self.tree.add_function(address, '10de', '1db4',
                                   sysfs_tree.DISPLAY_3D, driver=driver,
                                   group=int(address[5:7], 16))
        path = self.write_catalog(
            '[nova_gpu_ext]\ngpu_models = v100\n[gpu:v100]\n'
            'vendor_id = 10de\nproduct_id = 1db4\n'
            'addresses = 0000:81:*.*\n')
        code, checks, _ = self.records('check-host', '--root',
                                       self.tree.root, '--catalog', path)
        self.assertEqual(1, code)
        self.assertEqual([('host-kept', '0000:03:00.0')],
                         [(c['check'], c['subject']) for c in checks
                          if c['status'] == 'problem'])


class TestThisMachine(CliTestCase):
    """This machine (a CI runner) has no GPU: both commands still finish."""

    def test_check_host_on_real_root_finishes_reporting_no_gpu(self):
        code, checks, err = self.records('check-host')
        self.assertIn(code, (0, 1))
        self.assertTrue(err.startswith(('ready', 'NOT READY')), err)
        [gpus] = [c for c in checks if c['check'] == 'gpus']
        self.assertIn('no GPU', gpus['message'])

    def test_discover_on_real_root_finishes_reporting_no_gpu(self):
        code, gpus, err = self.records('discover')
        self.assertEqual((0, []), (code, gpus))
        self.assertIn('no GPU', err)
