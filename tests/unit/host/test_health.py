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

"""GPU health found in synthetic trees, one tree per fault."""

import dataclasses

from tests import base as test_base

from nova_gpu_ext.common import catalog
from nova_gpu_ext.host import health
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs
from tests.unit.host import sysfs_tree

GPU = '0000:03:00.0'
AUDIO = '0000:03:00.1'


class HealthTestCase(test_base.TestCase):
    """A K4200 and its HDMI audio, healthy unless a test breaks them."""

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        self.tree.add_pci_ids()

    def k4200(self, audio_driver='vfio-pci', **gpu_health):
        sysfs_tree.k4200(self.tree, audio_driver=audio_driver)
        self.tree.set_health(GPU, **gpu_health)
        self.tree.set_health(AUDIO)

    def healths(self):
        facts = sysfs.read_host(self.tree.root)
        return health.read_health(facts, hostcheck.passthrough_gpus(facts))

    def checks(self):
        return health.check_host(self.healths())

    def problems(self):
        return [(c.name, c.subject) for c in self.checks()
                if c.status != hostcheck.Status.OK]

    def finding(self, name, subject=GPU):
        [found] = [c for c in self.checks()
                   if (c.name, c.subject) == (name, subject)]
        return found


class TestHealthyGpu(HealthTestCase):

    def test_every_check_is_ok(self):
        self.k4200(correctable=3)
        checks = self.checks()
        self.assertEqual(
            {(name, address) for name, _ in health.CHECKS
             for address in (GPU, AUDIO)},
            {(c.name, c.subject) for c in checks})
        self.assertEqual({hostcheck.Status.OK}, {c.status for c in checks})

    def test_correctable_errors_are_shown_not_judged(self):
        self.k4200(correctable=3)
        self.assertIn('0 fatal, 0 non-fatal, 3 correctable',
                      self.finding('aer').message)

    def test_link_speed_below_max_is_no_finding(self):
        # set_health trains the link to 2.5 GT/s of 16 GT/s: an idle GPU.
        self.k4200()
        self.assertEqual('link at x16 of x16',
                         self.finding('link').message.split(': ')[-1])

    def test_findings_name_address_and_model(self):
        self.k4200()
        self.assertTrue(self.finding('reset').message.startswith(
            f'GPU {GPU} (NVIDIA Corporation GK104GL [Quadro K4200])'))
        self.assertIn(f'companion of GPU {GPU}',
                      self.finding('reset', AUDIO).message)


class TestFaults(HealthTestCase):

    def test_dead_config_space(self):
        self.k4200()
        self.tree.kill(GPU)
        self.assertEqual([('config-space', GPU)], self.problems())
        found = self.finding('config-space')
        self.assertIn('reads vendor ffff', found.message)
        self.assertIn(f'gpu cordon HOST {GPU}', found.remedy)
        self.assertIn('reboot', found.remedy)

    def test_fatal_aer(self):
        self.k4200(fatal=2)
        self.assertEqual([('aer', GPU)], self.problems())
        found = self.finding('aer')
        self.assertEqual(hostcheck.Status.PROBLEM, found.status)
        self.assertIn('2 fatal', found.message)
        self.assertIn('dmesg', found.remedy)

    def test_non_fatal_aer(self):
        self.k4200(nonfatal=1)
        self.assertEqual([('aer', GPU)], self.problems())

    def test_x16_device_at_x4(self):
        self.k4200(width=4)
        self.assertEqual([('link', GPU)], self.problems())
        found = self.finding('link')
        self.assertIn('x4 of x16', found.message)
        self.assertIn('reseat', found.remedy)

    def test_no_reset_method_is_a_warning(self):
        self.k4200(reset_method=None)
        found = self.finding('reset')
        self.assertEqual(hostcheck.Status.WARNING, found.status)
        self.assertIn('one_time_use', found.remedy)

    def test_empty_reset_method_is_a_warning(self):
        self.k4200(reset_method='')
        self.assertEqual(hostcheck.Status.WARNING,
                         self.finding('reset').status)

    def test_audio_companion_on_snd_hda_intel(self):
        self.k4200(audio_driver='snd_hda_intel')
        self.assertEqual(
            [('iommu-group', GPU), ('driver', AUDIO), ('iommu-group', AUDIO)],
            self.problems())
        group = self.finding('iommu-group')
        self.assertIn(f'{AUDIO} on snd_hda_intel', group.message)
        self.assertIn(f'driverctl set-override {AUDIO} vfio-pci',
                      group.remedy)
        # vfio-pci keeps only its last ids=: the card's, not the audio's.
        self.assertIn('"options vfio-pci ids=10de:11b4,10de:0e0a"',
                      self.finding('driver', AUDIO).remedy)

    def test_driver_remedy_spares_a_card_the_host_keeps(self):
        self.k4200(audio_driver='snd_hda_intel')
        self.tree.add_function('0000:05:00.0', '10de', '11b4',
                               sysfs_tree.DISPLAY_3D, driver='nvidia',
                               group=5)
        k4200 = catalog.GpuModel('k4200', '10de', '11b4',
                                 addresses=(GPU,))
        facts = sysfs.read_host(self.tree.root)
        gpu_catalog = catalog.Catalog(models=(k4200,))
        [driver] = [c for c in health.check_host(health.read_health(
            facts, hostcheck.passthrough_gpus(facts, gpu_catalog),
            gpu_catalog)) if (c.name, c.subject) == ('driver', AUDIO)]
        self.assertIn('would also take 0000:05:00.0, kept for the host',
                      driver.remedy)

    def test_variant_driver_counts_as_vfio(self):
        sysfs_tree.a100(self.tree)
        facts = sysfs.read_host(self.tree.root)
        gpu = facts.function('0000:41:00.0')
        variant = dataclasses.replace(gpu, driver='nvgrace_gpu_vfio_pci')
        checks = health.findings(health.Health(variant, variant, 'a100',
                                               variant.ids))
        self.assertEqual(
            [hostcheck.Status.OK],
            [c.status for c in checks if c.name == 'driver'])

    def test_reset_file_without_list_is_an_older_kernel(self):
        self.k4200(reset_method=None)
        self.tree.replace(GPU, 'reset', b'')
        self.assertEqual([], [c for c in self.checks()
                              if (c.name, c.subject) == ('reset', GPU)])


class TestStatus(HealthTestCase):

    def test_worst_finding_of_each_function(self):
        self.k4200(width=8, reset_method=None)
        statuses = {h.function.address: health.status(h)
                    for h in self.healths()}
        self.assertEqual({GPU: hostcheck.Status.PROBLEM,
                          AUDIO: hostcheck.Status.OK}, statuses)
