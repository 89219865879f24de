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

"""The host's GPUs as catalog models."""

import os


from nova_gpu_ext.common import catalog_file
from nova_gpu_ext.host import discovery
from nova_gpu_ext.host import sysfs
from tests import base as test_base
from tests.unit.host import sysfs_tree


class TestDiscovery(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())

    def models(self):
        facts = sysfs.read_host(self.tree.root)
        return facts, discovery.found_models(facts)

    def test_k4200_model_with_audio_companion(self):
        sysfs_tree.k4200(self.tree)
        _, [model] = self.models()
        self.assertEqual(('10de_11b4', ('10de:0e0a',), 'type-PCI'),
                         (model.name, model.companions, model.device_type))

    def test_model_named_after_pci_ids_marketing_name(self):
        sysfs_tree.k4200(self.tree)
        self.tree.add_pci_ids()
        _, [model] = self.models()
        self.assertEqual('quadro_k4200', model.name)

    def test_turing_companions_are_audio_usb_and_ucsi(self):
        sysfs_tree.turing(self.tree)
        _, [model] = self.models()
        self.assertEqual(('10de:10f7', '10de:1ad6', '10de:1ad7'),
                         model.companions)

    def test_gpus_grouped_per_model_in_address_order(self):
        sysfs_tree.a100(self.tree)
        self.tree.add_function('0000:c1:00.0', '10de', '20b0',
                               sysfs_tree.DISPLAY_3D, driver='vfio-pci',
                               group=90, numa=3, totalvfs=16)
        sysfs_tree.amd_wx7100(self.tree)
        _, models = self.models()
        self.assertEqual(
            [('1002_67c4', 1, (0,), 'type-PCI'),
             ('10de_20b0', 2, (1, 3), 'type-PF')],
            [(m.name, len(m.gpus), m.numa_nodes, m.device_type)
             for m in models])

    def test_ini_output_loads_as_the_same_catalog(self):
        sysfs_tree.k4200(self.tree)
        sysfs_tree.a100(self.tree)
        self.tree.add_pci_ids()
        facts, models = self.models()
        path = os.path.join(self.tree.root, 'catalog.conf')
        with open(path, 'w') as out:
            out.write(discovery.render_ini(facts, models))
        loaded = catalog_file.load_catalog([path])
        self.assertEqual(
            [('quadro_k4200', '10de:11b4', 'type-PCI', ('10de:0e0a',)),
             ('a100_sxm4_40gb', '10de:20b0', 'type-PF', ())],
            [(m.name, m.ids, m.device_type, m.companions)
             for m in loaded.models])

    def test_two_gpus_of_one_card_are_not_each_others_companions(self):
        for fn in '01':
            self.tree.add_function(f'0000:03:00.{fn}', '10de', '11b4',
                                   sysfs_tree.VGA, driver='vfio-pci',
                                   group=13)
        facts, [model] = self.models()
        self.assertEqual((2, ()), (len(model.gpus), model.companions))

    def test_ini_without_gpu_says_so_and_declares_nothing(self):
        text = discovery.render_ini(*self.models())
        self.assertIn('no GPU', text)
        self.assertNotIn('gpu_models', text)


class TestNothingReadChangesTheOutput(test_base.TestCase):
    """Text from sysfs and pci.ids cannot add sections or options."""

    def test_vendor_with_a_section_header_adds_no_section(self):
        tree = self.useFixture(sysfs_tree.SysfsTree())
        sysfs_tree.k4200(tree)
        sysfs_tree.a100(tree)
        tree.replace('0000:03:00.0', 'vendor', b'\n[evil]\nx = 1\n')
        tree.write('usr/share/misc/pci.ids',
                   '10de  NVIDIA\n\t20b0  A100\x0bSXM\n')
        facts = sysfs.read_host(tree.root)
        text = discovery.render_ini(facts, discovery.found_models(facts))
        sections = [line for line in text.splitlines()
                    if line.startswith('[')]
        self.assertEqual(['[nova_gpu_ext]', '[gpu:a100_sxm]'], sections)
        self.assertIn('# NVIDIA A100?SXM: 1 on this host', text)
        self.assertIn('# WARNING: cannot read ', text)
        self.assertIn("vendor: '[evil]\\nx = 1' is not 4 hex digits; GPUs "
                      'may be missing below', text)
        self.assertTrue(all(line.isprintable()
                            for line in text.splitlines()), text)
