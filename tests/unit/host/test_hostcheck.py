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

"""Host readiness checks on the synthetic hosts of the issue."""

import os


from nova_gpu_ext.common import catalog
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs
from tests import base as test_base
from tests.unit.common import unreadable
from tests.unit.host import sysfs_tree

OK = hostcheck.Status.OK
WARNING = hostcheck.Status.WARNING
PROBLEM = hostcheck.Status.PROBLEM


class HostCheckTestCase(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        self.tree.set_cpu(sysfs_tree.INTEL)
        sysfs_tree.ready_modules(self.tree)

    def checks(self, gpu_catalog=None):
        facts = sysfs.read_host(self.tree.root)
        checks = hostcheck.check_host(
            facts, hostcheck.passthrough_gpus(facts, gpu_catalog),
            hostcheck.host_kept_gpus(facts, gpu_catalog))
        if gpu_catalog is not None:
            checks += hostcheck.check_catalog(facts, gpu_catalog)
        return checks

    def find(self, checks, name, subject):
        [check] = [c for c in checks
                   if c.name == name and c.subject == subject]
        return check

    def not_ok(self, checks):
        return [(c.name, c.subject, c.status) for c in checks
                if c.status != OK]


class TestCheckHost(HostCheckTestCase):

    def test_k4200_with_audio_on_vfio_pci_is_ready(self):
        sysfs_tree.k4200(self.tree)
        checks = self.checks()
        self.assertEqual([], self.not_ok(checks))
        self.assertEqual(OK, hostcheck.worst(checks))

    def test_k4200_audio_on_snd_hda_intel_is_a_problem_with_the_fix(self):
        sysfs_tree.k4200(self.tree, audio_driver='snd_hda_intel')
        checks = self.checks()
        check = self.find(checks, 'binding', '0000:03:00.1')
        self.assertEqual(PROBLEM, check.status)
        self.assertIn('snd_hda_intel', check.message)
        self.assertIn('group 13 is not viable', check.message)
        self.assertIn('driverctl set-override 0000:03:00.1 vfio-pci',
                      check.remedy)
        self.assertIn('softdep snd_hda_intel pre: vfio-pci', check.remedy)
        self.assertIn('options vfio-pci ids=10de:11b4,10de:0e0a',
                      check.remedy)
        self.assertEqual(PROBLEM, hostcheck.worst(checks))

    def test_bridge_in_the_gpu_group_is_neither_bound_nor_unrelated(self):
        sysfs_tree.k4200(self.tree)
        self.tree.add_function('0000:00:03.0', '8086', '6f09',
                               sysfs_tree.BRIDGE, driver='pcieport',
                               group=13)
        self.assertEqual([], self.not_ok(self.checks()))

    def test_a100_with_sriov_passes_as_a_gpu(self):
        sysfs_tree.a100(self.tree)
        checks = self.checks()
        self.assertEqual([], self.not_ok(checks))
        self.assertIn('0000:41:00.0', self.find(checks, 'gpus',
                                                'host').message)

    def test_vfio_variant_driver_is_bound_to_vfio(self):
        self.tree.add_function('0000:41:00.0', '10de', '2342',
                               sysfs_tree.DISPLAY_3D,
                               driver='nvgrace_gpu_vfio_pci', group=40)
        check = self.find(self.checks(), 'binding', '0000:41:00.0')
        self.assertEqual(OK, check.status)
        self.assertIn('on nvgrace_gpu_vfio_pci', check.message)

    def test_turing_all_four_functions_on_vfio_pci_is_ready(self):
        sysfs_tree.turing(self.tree)
        checks = self.checks()
        self.assertEqual([], self.not_ok(checks))
        self.assertEqual(
            ['0000:65:00.0', '0000:65:00.1', '0000:65:00.2', '0000:65:00.3'],
            [c.subject for c in checks if c.name == 'binding'])

    def test_turing_usb_and_ucsi_on_host_drivers_are_problems(self):
        sysfs_tree.turing(self.tree, usb_driver='xhci_hcd',
                          ucsi_driver='nvidia-gpu')
        self.assertEqual(
            [('binding', '0000:65:00.2', PROBLEM),
             ('binding', '0000:65:00.3', PROBLEM)],
            self.not_ok(self.checks()))

    def test_amd_card_on_amdgpu_is_a_problem_and_amdgpu_checked(self):
        sysfs_tree.amd_wx7100(self.tree, driver='amdgpu')
        self.tree.set_modules('vfio', 'vfio_pci', 'vfio_iommu_type1',
                              'amdgpu')
        checks = self.checks()
        self.assertEqual(
            [('binding', '0000:0a:00.0', PROBLEM),
             ('binding', '0000:0a:00.1', PROBLEM),
             ('host-driver', 'amdgpu', WARNING)],
            self.not_ok(checks))
        self.assertEqual(['amdgpu', 'radeon'],
                         [c.subject for c in checks
                          if c.name == 'host-driver'])

    def test_group_shared_with_a_nic_is_flagged_as_no_acs(self):
        sysfs_tree.gpu_sharing_group_with_nic(self.tree)
        checks = self.checks()
        check = self.find(checks, 'isolation', 'iommu_group 30')
        self.assertEqual(PROBLEM, check.status)
        self.assertIn('0000:06:00.0', check.message)
        self.assertIn('ACS', check.remedy)
        self.assertNotIn('0000:06:00.0',
                         [c.subject for c in checks if c.name == 'binding'])

    def test_iommu_off_on_intel_names_intel_iommu(self):
        self.tree.add_function('0000:03:00.0', '10de', '11b4',
                               sysfs_tree.VGA, driver='vfio-pci')
        check = self.find(self.checks(), 'iommu', 'host')
        self.assertEqual(PROBLEM, check.status)
        self.assertIn('VT-d', check.remedy)
        self.assertIn('intel_iommu=on', check.remedy)

    def test_iommu_off_on_amd_names_amd_vi_and_off_switch(self):
        self.tree.set_cpu(sysfs_tree.AMD)
        self.tree.write('proc/cmdline', 'ro amd_iommu=off\n')
        check = self.find(self.checks(), 'iommu', 'host')
        self.assertEqual(PROBLEM, check.status)
        self.assertIn('AMD-Vi', check.remedy)
        self.assertIn('remove amd_iommu=off', check.remedy)
        self.assertNotIn('intel_iommu', check.remedy)

    def test_no_gpu_is_reported(self):
        self.tree.add_function('0000:06:00.0', '8086', '1572',
                               sysfs_tree.ETHERNET, driver='i40e', group=3)
        checks = self.checks()
        self.assertEqual(WARNING, self.find(checks, 'gpus', 'host').status)
        self.assertIn('no GPU', self.find(checks, 'gpus', 'host').message)
        self.assertEqual([], [c for c in checks if c.name == 'binding'])

    def test_boot_vga_console_is_not_a_passthrough_gpu(self):
        sysfs_tree.k4200(self.tree)
        self.tree.add_function('0000:02:00.0', '1a03', '2000',
                               sysfs_tree.VGA, driver='ast', group=1,
                               boot_vga=True)
        self.assertEqual([], self.not_ok(self.checks()))

    def test_gpu_without_driver_is_a_warning(self):
        self.tree.add_function('0000:03:00.0', '10de', '11b4',
                               sysfs_tree.VGA, group=13)
        check = self.find(self.checks(), 'binding', '0000:03:00.0')
        self.assertEqual(WARNING, check.status)
        self.assertNotIn('softdep', check.remedy)


class TestTopology(HostCheckTestCase):

    def topology(self):
        return [(c.subject, c.status, c.message) for c in self.checks()
                if c.name == 'topology']

    def test_one_line_per_switch_with_its_gpus(self):
        sysfs_tree.switch_server(self.tree, 2, 2, nics=1, audio=True)
        self.assertEqual([
            ('pcie_switch 0000:01:00.0', OK,
             '2 GPU(s) behind PCIe switch 0000:01:00.0 (root port '
             '0000:00:01.1): 0000:03:00.0, 0000:04:00.0'),
            ('pcie_switch 0000:41:00.0', OK,
             '2 GPU(s) behind PCIe switch 0000:41:00.0 (root port '
             '0000:40:01.1): 0000:43:00.0, 0000:44:00.0')],
            self.topology())

    def test_gpus_without_switch_are_one_line_after_the_switches(self):
        board = sysfs_tree.Board(self.tree)
        board.switch(0, 1)
        lone = board.on_root_port(1)
        self.assertEqual(
            ('no pcie_switch', OK,
             f'1 GPU(s) behind no PCIe switch, each its own domain: {lone} '
             '(root port 0000:40:01.1)'), self.topology()[-1])

    def test_gpu_below_an_unreadable_bridge_is_a_warning(self):
        sysfs_tree.switch_server(self.tree, 1, 2)
        self.tree.replace('0000:02:01.0', 'class', b'\x00\n')
        subject, status, message = self.topology()[0]
        self.assertEqual(('0000:04:00.0', WARNING), (subject, status))
        self.assertIn('0000:02:01.0 above it could not be read', message)


class TestModules(HostCheckTestCase):

    def test_vfio_modules_not_loaded_are_warnings_with_modprobe(self):
        self.tree.set_modules()
        check = self.find(self.checks(), 'module', 'vfio_pci')
        self.assertEqual(WARNING, check.status)
        self.assertIn('modprobe vfio_pci', check.remedy)

    def test_vfio_module_missing_from_kernel_is_a_problem(self):
        self.tree.set_modules()
        self.tree.write('proc/sys/kernel/osrelease', '6.8.0\n')
        self.tree.write('lib/modules/6.8.0/modules.dep',
                        'kernel/drivers/vfio/vfio.ko:\n')
        checks = self.checks()
        self.assertEqual(PROBLEM,
                         self.find(checks, 'module', 'vfio_pci').status)
        self.assertEqual(WARNING, self.find(checks, 'module', 'vfio').status)

    def test_blacklisted_vfio_module_is_a_problem(self):
        self.tree.write('etc/modprobe.d/x.conf', 'blacklist vfio_pci\n')
        check = self.find(self.checks(), 'module', 'vfio_pci')
        self.assertEqual(PROBLEM, check.status)
        self.assertIn('blacklist vfio_pci', check.remedy)

    def test_host_driver_not_blacklisted_is_a_warning(self):
        sysfs_tree.k4200(self.tree)
        self.tree.write('etc/modprobe.d/blacklist-gpu.conf', '')
        check = self.find(self.checks(), 'host-driver', 'nouveau')
        self.assertEqual(WARNING, check.status)
        self.assertIn('blacklist nouveau', check.remedy)

    def test_host_driver_loaded_despite_blacklist_needs_initramfs(self):
        sysfs_tree.k4200(self.tree)
        self.tree.set_modules('vfio', 'vfio_pci', 'vfio_iommu_type1',
                              'nouveau')
        check = self.find(self.checks(), 'host-driver', 'nouveau')
        self.assertEqual(WARNING, check.status)
        self.assertIn('still loaded', check.message)
        self.assertIn('update-initramfs -u', check.remedy)


def model(name, vendor_id, product_id, **kwargs):
    return catalog.GpuModel(name=name, vendor_id=vendor_id,
                            product_id=product_id, **kwargs)


class TestHostKeptGpus(HostCheckTestCase):
    """V100s at 0000:81:*.* for instances, the one at 03:00.0 the host's.

    As the example catalog has it; the host's V100 needs the nvidia
    driver, so nothing blacklists it.
    """

    V100 = catalog.GpuModel('v100', '10de', '1db4',
                            addresses=('0000:81:*.*',))

    def setUp(self):
        super().setUp()
        self.tree.write('etc/modprobe.d/blacklist-gpu.conf',
                        'blacklist nouveau\n')
        self.tree.set_modules('vfio_pci', 'vfio_iommu_type1', 'vfio',
                              'nvidia')
        self.tree.add_function('0000:81:00.0', '10de', '1db4',
                               sysfs_tree.DISPLAY_3D, driver='vfio-pci',
                               group=81)

    def check(self, host_driver):
        self.tree.add_function('0000:03:00.0', '10de', '1db4',
                               sysfs_tree.DISPLAY_3D, driver=host_driver,
                               group=3)
        return self.checks(catalog.Catalog(models=(self.V100,)))

    def test_host_gpu_on_its_driver_is_ready(self):
        checks = self.check('nvidia')
        self.assertEqual([], self.not_ok(checks))
        self.assertIn('kept for the host, on nvidia',
                      self.find(checks, 'host-kept', '0000:03:00.0').message)
        self.assertIn('1 GPU(s) for passthrough: 0000:81:00.0',
                      self.find(checks, 'gpus', 'host').message)
        self.assertIn('can use it',
                      self.find(checks, 'host-driver', 'nvidia').message)

    def test_host_gpu_bound_to_vfio_pci_is_a_problem(self):
        check = self.find(self.check('vfio-pci'), 'host-kept',
                          '0000:03:00.0')
        self.assertEqual(PROBLEM, check.status)
        self.assertIn('kept for the host', check.message)
        self.assertIn('driverctl unset-override 0000:03:00.0', check.remedy)

    def test_binding_remedy_of_a_shared_model_is_by_address_only(self):
        # vfio-pci ids=10de:1db4 would take the host's V100 at 03:00.0 too.
        self.tree.add_function('0000:81:01.0', '10de', '1db4',
                               sysfs_tree.DISPLAY_3D, driver='nvidia',
                               group=82)
        check = self.find(self.check('nvidia'), 'binding', '0000:81:01.0')
        self.assertEqual(PROBLEM, check.status)
        self.assertEqual(
            'driverctl set-override 0000:81:01.0 vfio-pci (binds now and at '
            'every boot); not by ids at boot: "options vfio-pci '
            'ids=10de:1db4" would also take 0000:03:00.0, kept for the host',
            check.remedy)

    def test_blacklisted_driver_of_a_host_gpu_is_a_warning(self):
        self.tree.write('etc/modprobe.d/blacklist-gpu.conf',
                        'blacklist nouveau\nblacklist nvidia\n')
        check = self.find(self.check('nvidia'), 'host-driver', 'nvidia')
        self.assertEqual(WARNING, check.status)
        self.assertIn('remove the blacklist nvidia line', check.remedy)

    def test_address_globs_as_nova_reads_them(self):
        for glob, address, matches in (
                ('0000:81:*.*', '0000:81:00.0', True),
                ('0000:81:*.*', '0000:82:00.0', False),
                ('81:00.', '0000:81:00.3', True),
                ('00.1', '0001:41:00.1', True),
                ('*:*:1f.*', '0000:41:1e.0', False)):
            self.assertEqual(matches,
                             catalog.address_matches(glob, address),
                             (glob, address))


class TestCatalogComparison(HostCheckTestCase):

    def test_matching_catalog_is_ready(self):
        sysfs_tree.k4200(self.tree)
        sysfs_tree.a100(self.tree)
        checks = self.checks(catalog.Catalog(models=(
            model('k4200', '10de', '11b4', companions=('10de:0e0a',)),
            model('a100', '10de', '20b0', device_type='type-PF'))))
        self.assertEqual([], self.not_ok(checks))
        self.assertIn('1 on this host',
                      self.find(checks, 'catalog', '[gpu:a100]').message)

    def test_type_pci_declared_for_sriov_gpu_is_a_problem(self):
        sysfs_tree.a100(self.tree)
        check = self.find(
            self.checks(catalog.Catalog(models=(
                model('a100', '10de', '20b0'),))),
            'catalog', '[gpu:a100]')
        self.assertEqual(PROBLEM, check.status)
        self.assertEqual('set device_type = type-PF in [gpu:a100]',
                         check.remedy)

    def test_model_absent_from_host_is_a_warning(self):
        sysfs_tree.k4200(self.tree)
        checks = self.checks(catalog.Catalog(models=(
            model('k4200', '10de', '11b4', companions=('10de:0e0a',)),
            model('a100', '10de', '20b0', device_type='type-PF'))))
        self.assertEqual([('catalog', '[gpu:a100]', WARNING)],
                         self.not_ok(checks))

    def test_undeclared_companions_are_named(self):
        sysfs_tree.turing(self.tree)
        check = self.find(
            self.checks(catalog.Catalog(models=(
                model('rtx2080ti', '10de', '1e07',
                      companions=('10de:10f7',)),))),
            'catalog', '[gpu:rtx2080ti]')
        self.assertEqual(WARNING, check.status)
        self.assertEqual('set companions = 10de:10f7, 10de:1ad6, 10de:1ad7 '
                         'in [gpu:rtx2080ti]', check.remedy)

    def test_second_gpu_of_one_card_is_not_a_missing_companion(self):
        for fn in '01':
            self.tree.add_function(f'0000:03:00.{fn}', '10de', '11b4',
                                   sysfs_tree.VGA, driver='vfio-pci',
                                   group=13)
        check = self.find(self.checks(catalog.Catalog(models=(
            model('k4200', '10de', '11b4'),))), 'catalog', '[gpu:k4200]')
        self.assertEqual(OK, check.status, check.message)

    def test_gpu_outside_the_catalog_is_a_warning_and_not_checked(self):
        sysfs_tree.k4200(self.tree, audio_driver='snd_hda_intel')
        sysfs_tree.a100(self.tree)
        checks = self.checks(catalog.Catalog(models=(
            model('a100', '10de', '20b0', device_type='type-PF'),)))
        self.assertEqual([('catalog', '0000:03:00.0', WARNING)],
                         self.not_ok(checks))


class TestWhatCannotBeRead(HostCheckTestCase):
    """A host is not "ready" while something that decides it is unread."""

    GPU = '0000:03:00.0'

    def setUp(self):
        super().setUp()
        sysfs_tree.k4200(self.tree)

    def relink_group(self, make):
        path = self.tree.attribute(self.GPU, 'iommu_group')
        os.unlink(path)
        make(path)

    def assertIsolationProblem(self, checks):
        self.assertEqual([], [c for c in checks if c.name == 'isolation'
                              and c.status == OK])
        self.assertEqual(PROBLEM,
                         self.find(checks, 'isolation', self.GPU).status)
        self.assertEqual(PROBLEM, self.find(checks, 'read', self.GPU).status)
        self.assertEqual(PROBLEM, hostcheck.worst(checks))

    def test_dangling_iommu_group_link_is_no_isolation(self):
        self.relink_group(unreadable.dangling)
        self.assertIsolationProblem(self.checks())

    def test_looping_iommu_group_link_is_no_isolation(self):
        self.relink_group(unreadable.looping)
        checks = self.checks()
        self.assertIsolationProblem(checks)
        self.assertIn('the link loops',
                      self.find(checks, 'read', self.GPU).message)

    def test_gpu_unreadable_to_the_user_is_a_problem_not_a_vanishing(self):
        unreadable.open_up(self.tree.root)
        unreadable.forbid(self.tree.attribute(self.GPU, 'class'))
        facts = unreadable.as_nobody(sysfs.read_host, self.tree.root)
        checks = hostcheck.check_host(facts,
                                      hostcheck.passthrough_gpus(facts))
        check = self.find(checks, 'read', self.GPU)
        self.assertEqual(PROBLEM, check.status)
        self.assertIn('class: Permission denied; whether this function is '
                      'a GPU is unknown', check.message)
        self.assertIn('run check-host as root', check.remedy)
        self.assertEqual(PROBLEM, hostcheck.worst(checks))

    def test_unreadable_companion_is_a_problem(self):
        self.tree.replace('0000:03:00.1', 'numa_node', b'x\n')
        checks = self.checks()
        self.assertEqual(PROBLEM,
                         self.find(checks, 'read', '0000:03:00.1').status)

    def test_unreadable_attribute_of_an_unrelated_device_is_a_warning(self):
        self.tree.add_function('0000:06:00.0', '8086', '1572',
                               sysfs_tree.ETHERNET, driver='i40e', group=31)
        self.tree.replace('0000:06:00.0', 'numa_node', b'x\n')
        checks = self.checks()
        self.assertEqual(WARNING,
                         self.find(checks, 'read', '0000:06:00.0').status)
        self.assertNotEqual(PROBLEM, hostcheck.worst(checks))

    def test_unreadable_modprobe_file_is_a_problem(self):
        os.makedirs(os.path.join(self.tree.root, 'etc/modprobe.d/x.conf'))
        self.assertEqual(PROBLEM, self.find(self.checks(), 'read',
                                            'host').status)

    def test_messages_are_single_printable_lines(self):
        self.tree.write('usr/share/misc/pci.ids',
                        '10de  NV\x1b[2J\n\t11b4  K\x0c4200\n')
        self.tree.replace('0000:03:00.1', 'numa_node', b'\n[evil]\n')
        for check in self.checks():
            for text in (check.subject, check.message, check.remedy):
                self.assertTrue(text.isprintable(), text)
