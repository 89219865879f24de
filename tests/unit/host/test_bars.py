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

"""BAR sizes from sysfs ``resource`` files, discover's ``bar_bytes`` and
the host's physical address bits, on synthetic trees and on this machine."""

import glob
import os
import re

from nova_gpu_ext.common import catalog_file
from nova_gpu_ext.host import bars
from nova_gpu_ext.host import discovery
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs
from tests import base as test_base
from tests.unit.common import catalog_files
from tests.unit.host import sysfs_tree

H100_BAR_BYTES = 128 * sysfs_tree.GIB + 32 * sysfs_tree.MIB


class TestResource(test_base.TestCase):

    def test_h100_counts_its_two_64bit_prefetchable_bars(self):
        parsed = bars.parse_resource(sysfs_tree.resource(
            sysfs_tree.h100_bars(0)))
        self.assertEqual([16 * sysfs_tree.MIB, 128 * sysfs_tree.GIB, 0,
                          32 * sysfs_tree.MIB, 0, 0, 0],
                         [b.size for b in parsed])
        self.assertEqual(H100_BAR_BYTES, bars.large_bar_bytes(parsed))

    def test_vf_bars_after_the_rom_are_not_the_gpus(self):
        regions = sysfs_tree.h100_bars(0) + [
            (0x300000000000, 64 * sysfs_tree.GIB, sysfs_tree.MEM64_PREFETCH)]
        self.assertEqual(H100_BAR_BYTES, bars.large_bar_bytes(
            bars.parse_resource(sysfs_tree.resource(regions))))

    def test_malformed_lines_are_refused(self):
        for text in ('0x0 0x1', '0x10 0x1 0x200', 'zz 0x1 0x200'):
            self.assertRaises(ValueError, bars.parse_resource, text)

    def test_this_machines_resource_files_parse(self):
        files = glob.glob('/sys/bus/pci/devices/*/resource')
        for path in files:
            address = os.path.basename(os.path.dirname(path))
            size = bars.read_bar_bytes('/', address)
            self.assertIsInstance(size, int, path)
            self.assertGreaterEqual(size, 0)


class TestDiscoverBars(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        self.tree.set_cpu(sysfs_tree.INTEL, phys_bits=46)
        sysfs_tree.h100s(self.tree)

    def test_discover_records_bar_bytes_in_a_catalog_that_loads(self):
        facts = sysfs.read_host(self.tree.root)
        [model] = discovery.found_models(facts)
        self.assertEqual(H100_BAR_BYTES, model.bar_bytes)
        text = discovery.render_ini(facts, (model,))
        self.assertIn(f'bar_bytes = {H100_BAR_BYTES}\n', text)
        self.assertIn('(128.03 GiB) per GPU', text)
        loaded = catalog_file.load_catalog(
            [catalog_files.write(self, text)])
        self.assertEqual(H100_BAR_BYTES, loaded.models[0].bar_bytes)

    def test_unreadable_resource_leaves_bar_bytes_out(self):
        self.tree.replace('0000:41:00.0', 'resource', b'garbage\n')
        for address in ('0000:42:00.0', '0000:43:00.0', '0000:44:00.0'):
            os.unlink(self.tree.attribute(address, 'resource'))
        facts = sysfs.read_host(self.tree.root)
        [model] = discovery.found_models(facts)
        self.assertIsNone(model.bar_bytes)
        self.assertNotIn('bar_bytes', discovery.render_ini(facts, (model,)))

    def test_check_host_reports_the_phys_bits(self):
        facts = sysfs.read_host(self.tree.root)
        self.assertEqual(46, facts.phys_bits)
        check = hostcheck.check_phys_bits(facts)
        self.assertEqual((hostcheck.Status.OK, 'phys-bits'),
                         (check.status, check.name))
        self.assertIn('--host-phys-bits 46', check.message)

    def test_no_address_sizes_is_a_warning(self):
        self.tree.write('proc/cpuinfo', 'processor\t: 0\n')
        check = hostcheck.check_phys_bits(sysfs.read_host(self.tree.root))
        self.assertEqual(hostcheck.Status.WARNING, check.status)


class TestThisMachine(test_base.TestCase):

    def test_phys_bits_of_this_machines_cpuinfo(self):
        with open('/proc/cpuinfo') as cpuinfo:
            said = re.search(r'address sizes\s*:\s*(\d+) bits physical',
                             cpuinfo.read())
        facts = sysfs.read_host('/')
        self.assertEqual(int(said.group(1)) if said else None,
                         facts.phys_bits)
        if said:
            self.assertIn(f'--host-phys-bits {said.group(1)}',
                          hostcheck.check_phys_bits(facts).message)
