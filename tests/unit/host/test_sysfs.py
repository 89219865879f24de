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

"""Reading host facts from synthetic trees with the real sysfs layout."""

import os

import testscenarios

from nova_gpu_ext.host import sysfs
from tests import base as test_base
from tests.unit.common import unreadable
from tests.unit.host import sysfs_tree


class TestReadHost(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())

    def read(self):
        return sysfs.read_host(self.tree.root)

    def test_reads_ids_class_driver_numa_group_and_bridge(self):
        sysfs_tree.k4200(self.tree)
        gpu = self.read().function('0000:03:00.0')
        self.assertEqual(
            ('10de', '11b4', '030000', 'vfio-pci', 0, '13', '0000:00:02.0'),
            (gpu.vendor_id, gpu.product_id, gpu.class_code, gpu.driver,
             gpu.numa_node, gpu.iommu_group, gpu.parent))
        self.assertTrue(gpu.is_gpu)

    def test_function_on_root_bus_has_no_parent_bridge(self):
        sysfs_tree.k4200(self.tree)
        self.assertIsNone(self.read().function('0000:00:02.0').parent)

    def test_iommu_group_members_from_kernel_groups(self):
        sysfs_tree.k4200(self.tree)
        facts = self.read()
        members = facts.group_members(facts.function('0000:03:00.1'))
        self.assertEqual(['0000:03:00.0', '0000:03:00.1'],
                         [m.address for m in members])

    def test_sriov_capable_gpu_is_type_pf(self):
        sysfs_tree.a100(self.tree)
        gpu = self.read().function('0000:41:00.0')
        self.assertEqual((16, 'type-PF', 1),
                         (gpu.sriov_totalvfs, gpu.device_type,
                          gpu.numa_node))

    def test_gpu_without_sriov_is_type_pci(self):
        sysfs_tree.k4200(self.tree)
        self.assertEqual('type-PCI',
                         self.read().function('0000:03:00.0').device_type)

    def test_names_from_pci_ids_when_present(self):
        sysfs_tree.k4200(self.tree)
        self.tree.add_pci_ids()
        gpu = self.read().function('0000:03:00.0')
        self.assertEqual(('NVIDIA Corporation', 'GK104GL [Quadro K4200]'),
                         (gpu.vendor_name, gpu.device_name))

    def test_ids_as_label_without_pci_ids(self):
        sysfs_tree.k4200(self.tree)
        self.assertEqual('10de:11b4',
                         self.read().function('0000:03:00.0').label)

    def test_no_numa_information_reads_as_none(self):
        self.tree.add_function('0000:01:00.0', '10de', '11b4',
                               sysfs_tree.VGA, numa=-1)
        self.assertIsNone(self.read().function('0000:01:00.0').numa_node)

    def test_iommu_off_leaves_no_groups(self):
        self.tree.add_function('0000:07:00.0', '10de', '11b4',
                               sysfs_tree.VGA)
        facts = self.read()
        self.assertIsNone(facts.function('0000:07:00.0').iommu_group)
        self.assertEqual({}, facts.iommu_groups)

    def test_kernel_line_cpu_vendor_and_loaded_modules(self):
        self.tree.write('proc/cmdline', 'ro intel_iommu=on iommu=pt\n')
        self.tree.set_cpu(sysfs_tree.INTEL)
        self.tree.set_modules('vfio_pci', 'snd_hda_intel')
        self.tree.write('sys/module/vfio/parameters/enable_unsafe', 'N')
        facts = self.read()
        self.assertEqual(('ro', 'intel_iommu=on', 'iommu=pt'),
                         facts.cmdline)
        self.assertEqual('GenuineIntel', facts.cpu_vendor)
        self.assertEqual({'vfio_pci', 'snd_hda_intel', 'vfio'},
                         facts.loaded_modules)

    def test_blacklists_from_modprobe_dirs_and_kernel_line(self):
        self.tree.write('etc/modprobe.d/gpu.conf',
                        'blacklist nouveau  # host must not use it\n'
                        '# blacklist radeon\n'
                        'install nvidia /bin/false\n')
        self.tree.write('usr/lib/modprobe.d/x.conf', 'blacklist amdgpu\n')
        self.tree.write('lib/modprobe.d/ignored.txt', 'blacklist i915\n')
        self.tree.write('proc/cmdline', 'modprobe.blacklist=nvidia-drm,xe')
        self.assertEqual(
            {'nouveau', 'nvidia', 'amdgpu', 'nvidia_drm', 'xe'},
            self.read().blacklisted_modules)

    def test_available_modules_from_running_kernel_index(self):
        self.tree.write('proc/sys/kernel/osrelease', '6.8.0-45-generic\n')
        self.tree.write(
            'lib/modules/6.8.0-45-generic/modules.dep',
            'kernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/x.ko\n')
        self.tree.write('lib/modules/6.8.0-45-generic/modules.builtin',
                        'kernel/drivers/vfio/vfio.ko\n')
        self.assertEqual({'vfio_pci', 'vfio'},
                         self.read().available_modules)

    def test_builtin_modules_count_as_loaded(self):
        self.tree.write('proc/sys/kernel/osrelease', '6.8.0\n')
        self.tree.write('lib/modules/6.8.0/modules.builtin',
                        'kernel/drivers/vfio/vfio_iommu_type1.ko\n')
        self.assertIn('vfio_iommu_type1', self.read().loaded_modules)

    def test_available_modules_unknown_without_module_index(self):
        self.assertIsNone(self.read().available_modules)

    def test_unreadable_root_raises_naming_the_path(self):
        exc = self.assertRaises(sysfs.HostReadError, sysfs.read_host,
                                self.tree.root + '/nothing')
        self.assertIn('nothing/sys/bus/pci/devices', str(exc))


class TestUntrustedContent(testscenarios.WithScenarios, test_base.TestCase):
    """Ids and numbers are parsed strictly; what does not parse is a problem.

    A GPU whose vendor, device or class does not parse is left out of the
    facts and named by a problem, never kept with a made-up id.
    """

    scenarios = [
        ('vendor garbage', {'attr': 'vendor', 'data': b'\x8f\xff\n'}),
        ('vendor with a section', {'attr': 'vendor',
                                   'data': b'0x10de\n[evil]\n'}),
        ('vendor too long', {'attr': 'vendor', 'data': b'0x10de0\n'}),
        ('device empty', {'attr': 'device', 'data': b''}),
        ('class not hex', {'attr': 'class', 'data': b'0x03000g\n'}),
        ('class short', {'attr': 'class', 'data': b'0x0300\n'}),
    ]

    def test_function_is_dropped_and_named(self):
        tree = self.useFixture(sysfs_tree.SysfsTree())
        sysfs_tree.k4200(tree)
        tree.replace('0000:03:00.0', self.attr, self.data)
        facts = sysfs.read_host(tree.root)
        self.assertIsNone(facts.function('0000:03:00.0'))
        (problem,) = facts.problems
        self.assertEqual('0000:03:00.0', problem.address)
        path = os.path.join(tree.root, 'sys/bus/pci/devices/0000:03:00.0',
                            self.attr)
        self.assertTrue(str(problem).startswith(f'cannot read {path}: '),
                        problem)
        self.assertEqual(1, len(str(problem).splitlines()))


class TestUnreadable(test_base.TestCase):
    """Files and links that exist but cannot be read become problems."""

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        sysfs_tree.k4200(self.tree)
        self.gpu = '0000:03:00.0'

    def problems(self, facts=None):
        facts = facts or sysfs.read_host(self.tree.root)
        return [(p.address, p.reason) for p in facts.problems]

    def relink(self, name, make):
        path = self.tree.attribute(self.gpu, name)
        os.unlink(path)
        make(path)

    def test_attribute_that_is_a_directory(self):
        path = self.tree.attribute(self.gpu, 'numa_node')
        os.unlink(path)
        os.mkdir(path)
        facts = sysfs.read_host(self.tree.root)
        self.assertIsNone(facts.function(self.gpu).numa_node)
        self.assertEqual([(self.gpu, 'Is a directory')],
                         self.problems(facts))

    def test_dangling_iommu_group_link_is_no_group_and_a_problem(self):
        self.relink('iommu_group', unreadable.dangling)
        facts = sysfs.read_host(self.tree.root)
        self.assertIsNone(facts.function(self.gpu).iommu_group)
        [(address, reason)] = self.problems(facts)
        self.assertEqual(self.gpu, address)
        self.assertTrue(reason.startswith('the link dangles (to '), reason)

    def test_looping_iommu_group_link(self):
        self.relink('iommu_group', unreadable.looping)
        self.assertEqual([(self.gpu, 'the link loops')], self.problems())

    def test_iommu_group_link_to_an_odd_name(self):
        self.relink('iommu_group', lambda p: os.symlink(
            os.path.join(self.tree.root, 'sys'), p))
        self.assertEqual([(self.gpu, "leads to 'sys', not a iommu_group "
                                     'name')], self.problems())

    def test_dangling_driver_link(self):
        self.relink('driver', unreadable.dangling)
        facts = sysfs.read_host(self.tree.root)
        self.assertIsNone(facts.function(self.gpu).driver)
        self.assertEqual(1, len(facts.problems))

    def test_dangling_device_link_drops_the_function(self):
        link = os.path.join(self.tree.root, 'sys/bus/pci/devices', self.gpu)
        os.unlink(link)
        unreadable.dangling(link)
        facts = sysfs.read_host(self.tree.root)
        self.assertIsNone(facts.function(self.gpu))
        [(address, reason)] = self.problems(facts)
        self.assertEqual(self.gpu, address)
        self.assertIn('dangles', reason)

    def test_malformed_numbers(self):
        self.tree.replace(self.gpu, 'numa_node', b'zero\n')
        self.tree.replace(self.gpu, 'sriov_totalvfs', b'-1\n')
        facts = sysfs.read_host(self.tree.root)
        gpu = facts.function(self.gpu)
        self.assertEqual((None, 0), (gpu.numa_node, gpu.sriov_totalvfs))
        self.assertEqual([(self.gpu, "'zero' is not a number"),
                          (self.gpu, "'-1' is not a count")],
                         self.problems(facts))

    def test_modprobe_file_that_is_a_directory_is_a_host_problem(self):
        os.makedirs(os.path.join(self.tree.root, 'etc/modprobe.d/gpu.conf'))
        self.assertEqual([(None, 'Is a directory')], self.problems())

    def test_attribute_only_root_can_read_as_nobody(self):
        unreadable.open_up(self.tree.root)
        unreadable.forbid(self.tree.attribute(self.gpu, 'vendor'))
        facts = unreadable.as_nobody(sysfs.read_host, self.tree.root)
        self.assertIsNone(facts.function(self.gpu))
        self.assertEqual([(self.gpu, 'Permission denied')],
                         self.problems(facts))

    def test_pci_ids_names_lose_control_characters(self):
        self.tree.write('usr/share/misc/pci.ids',
                        '10de  NVIDIA\x1b[31m\n\t11b4  K4200\x0b[evil]\n')
        gpu = sysfs.read_host(self.tree.root).function(self.gpu)
        self.assertEqual(('NVIDIA?[31m', 'K4200?[evil]'),
                         (gpu.vendor_name, gpu.device_name))
