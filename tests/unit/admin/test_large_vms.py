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

"""Large multi-GPU VMs: RAM plus BARs against the guest address space.

The case that made the check: 4 x H100 PCIe (BAR1 128 GiB, BAR3 32 MiB
each) with 1 TiB of RAM, which saw fewer GPUs as its RAM grew.
"""

from tests import base as test_base

from nova_gpu_ext.admin import address_space
from nova_gpu_ext.admin import flavors
from nova_gpu_ext.admin import large_vms
from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import catalog_file
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

GIB = 2 ** 30
H100_BAR_BYTES = 128 * GIB + 32 * 2 ** 20
TIB_MB = 1024 * 1024
H100 = catalog.GpuModel('h100', '10de', '2331', device_type='type-PF',
                        alias='h100', bar_bytes=H100_BAR_BYTES)
K4200 = catalog.GpuModel('k4200', '10de', '11b4', alias='k4200')
CATALOG = catalog.build([H100, K4200], [])
H100_CATALOG = f"""
[nova_gpu_ext]
gpu_models = h100
[gpu:h100]
vendor_id = 10de
product_id = 2331
device_type = type-PF
bar_bytes = {H100_BAR_BYTES}
flavor_counts = 4
flavor_ram_mb_per_gpu = {TIB_MB // 4}
"""


def flavor(ram_mb, alias='h100:4', **specs):
    return flavors.Flavor('gpu.h100.x4', 64, ram_mb, 40, extra_specs={
        flavors.ALIAS_SPEC: alias, **specs})


class TestAddressSpace(test_base.TestCase):

    def test_four_h100_with_1_tib_need_43_bits(self):
        """40 bits: 1 TiB of RAM alone fills the space.

        43 bits give 7 TiB below a 1 TiB window for the 512 GiB of BARs.
        """
        self.assertFalse(address_space.fits(TIB_MB, 4 * H100_BAR_BYTES, 40))
        self.assertEqual(43, address_space.needed_bits(TIB_MB,
                                                       4 * H100_BAR_BYTES))

    def test_small_vm_fits_the_default(self):
        self.assertTrue(address_space.fits(16384, 288 * 2 ** 20, 40))
        self.assertEqual({}, address_space.properties(16384, 288 * 2 ** 20))

    def test_beyond_the_firmware_is_none(self):
        self.assertIsNone(address_space.needed_bits(64 * TIB_MB, GIB))


class TestCheckFlavor(test_base.TestCase):

    def check(self, item, **hosts):
        return large_vms.check_flavor(item, CATALOG,
                                      large_vms.Hosts(**hosts))

    def test_four_h100_with_1_tb_get_the_finding_and_the_line(self):
        [finding] = self.check(flavor(TIB_MB))
        self.assertEqual('address-space-too-small', finding.code)
        self.assertIn('1048576 MiB of RAM and 512.12 GiB of 64-bit GPU '
                      'BARs do not fit in 40 address bits', finding.problem)
        self.assertEqual(
            'openstack flavor set --property hw:maxphysaddr_mode=emulate '
            '--property hw:maxphysaddr_bits=43 gpu.h100.x4', finding.fix)

    def test_the_fix_line_fixes_it(self):
        fixed = flavor(TIB_MB, **{'hw:maxphysaddr_mode': 'emulate',
                                  'hw:maxphysaddr_bits': '43'})
        self.assertEqual([], self.check(fixed, phys_bits=46))

    def test_bits_above_the_hosts_are_refused(self):
        item = flavor(TIB_MB, **{'hw:maxphysaddr_mode': 'emulate',
                                 'hw:maxphysaddr_bits': '46'})
        [finding] = self.check(item, phys_bits=44)
        self.assertEqual('maxphysaddr-above-host', finding.code)
        self.assertTrue(finding.fix.endswith(
            'hw:maxphysaddr_bits=43 gpu.h100.x4'), finding.fix)

    def test_hosts_too_small_for_it_get_no_line_to_paste(self):
        [finding] = self.check(flavor(TIB_MB), phys_bits=42)
        self.assertEqual('address-space-too-small', finding.code)
        self.assertIn('make a flavor with less RAM', finding.fix)

    def test_host_passthrough_takes_the_hosts_bits(self):
        self.assertEqual([], self.check(flavor(TIB_MB),
                                        cpu_mode='host-passthrough',
                                        phys_bits=46))
        [unknown] = self.check(flavor(TIB_MB), cpu_mode='host-passthrough')
        self.assertEqual('host-phys-bits-unknown', unknown.code)

    def test_emulate_without_bits(self):
        [finding] = self.check(flavor(TIB_MB,
                                      **{'hw:maxphysaddr_mode': 'emulate'}))
        self.assertEqual('maxphysaddr-bits-missing', finding.code)

    def test_unknown_bar_size_is_a_finding_not_a_pass(self):
        [finding] = self.check(flavor(16384, alias='k4200:1'))
        self.assertEqual('bar-size-unknown', finding.code)

    def test_flavor_without_gpus_is_not_checked(self):
        self.assertEqual([], self.check(flavor(TIB_MB, alias='')))


class TestImages(test_base.TestCase):

    def test_q35_and_uefi(self):
        self.assertEqual([], large_vms.check_image(
            'ubuntu', {'hw_machine_type': 'pc-q35-8.2',
                       'hw_firmware_type': 'uefi'}))
        found = large_vms.check_image('ubuntu', {'hw_machine_type': 'pc'})
        self.assertEqual(
            [('image-not-q35',
              'openstack image set --property hw_machine_type=q35 ubuntu'),
             ('image-not-uefi',
              'openstack image set --property hw_firmware_type=uefi '
              'ubuntu')], [(f.code, f.fix) for f in found])


class TestSyncedFlavors(test_base.TestCase):

    def test_catalog_flavor_carries_the_properties_and_lints_clean(self):
        path = catalog_files.write(self, H100_CATALOG)
        [item] = flavors.desired(catalog_file.load_catalog([path]))
        self.assertEqual(('emulate', '43'),
                         (item.extra_specs['hw:maxphysaddr_mode'],
                          item.extra_specs['hw:maxphysaddr_bits']))
        self.assertEqual((0, [], '0 finding(s)\n'), cli.records(
            'lint-flavors', '--catalog', path, '--host-phys-bits', '46'))

    def test_synced_bits_above_the_hosts_are_found(self):
        path = catalog_files.write(self, H100_CATALOG)
        rc, found, _ = cli.records('lint-flavors', '--catalog', path,
                                   '--host-phys-bits', '40')
        self.assertEqual(1, rc)
        self.assertEqual({'maxphysaddr-above-host'},
                         {f['finding'] for f in found})

    def test_bad_host_bits_and_image_without_cloud(self):
        path = catalog_files.write(self, H100_CATALOG)
        for argv, said in ((('--host-phys-bits', '0'), '--host-phys-bits 0'),
                           (('--image', 'ubuntu'), '--image needs --cloud')):
            rc, out, err = cli.run('lint-flavors', '--catalog', path, *argv)
            self.assertEqual((2, ''), (rc, out))
            self.assertIn(said, err)


class TestDocExample(test_base.TestCase):

    def test_the_pages_example_fix_is_what_the_check_prints(self):
        with open(f'{test_base.DOC}/cli/lint-flavors.rst') as page:
            text = page.read()
        [finding] = large_vms.check_flavor(
            flavor(TIB_MB), CATALOG, large_vms.Hosts(phys_bits=46))
        self.assertIn(f'\n    {finding.fix}\n', text)
