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

"""The reader against this machine's own /proc and /sys.

Synthetic trees are regular files; the kernel's are not. On Linux 6.x a
single read of 4 MiB or more from /proc/sys fails with ENOMEM, which a
tree of regular files never shows. Every Linux machine the tests run on
has /proc/sys/kernel/osrelease and PCI devices with a config space.
"""

import glob
import os

from tests import base as test_base

from nova_gpu_ext.host import health
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs
from tests.unit.cmd import cli

OSRELEASE = '/proc/sys/kernel/osrelease'
DEVICES = '/sys/bus/pci/devices'


class TestThisMachine(test_base.TestCase):

    def test_osrelease_reads_whole_with_the_largest_limit(self):
        data = sysfs.read_bounded(OSRELEASE, 16 * 1024 * 1024)
        self.assertEqual(os.uname().release, data.decode().strip())

    def test_config_space_of_every_pci_device_starts_with_its_vendor(self):
        devices = sorted(glob.glob(os.path.join(DEVICES, '*')))
        self.assertTrue(devices, 'this machine shows no PCI device')
        for device in devices:
            config = sysfs.read_bounded(os.path.join(device, 'config'),
                                        4096)
            with open(os.path.join(device, 'vendor')) as vendor:
                self.assertEqual(int(vendor.read(), 16),
                                 int.from_bytes(config[:2], 'little'),
                                 device)

    def test_host_reads_without_problems(self):
        facts = sysfs.read_host('/')
        self.assertEqual([], [str(p) for p in facts.problems])
        self.assertEqual(len(os.listdir(DEVICES)), len(facts.functions))

    def test_health_reads_config_space_of_every_function(self):
        facts = sysfs.read_host('/')
        for function in facts.functions:
            [found] = [h for h in health.read_health(facts, [function])
                       if h.function == function]
            self.assertEqual(int(function.vendor_id, 16), found.vendor)

    def test_check_host_reports_no_read_problem(self):
        status, checks, err = cli.records('check-host')
        self.assertEqual([], [c for c in checks if c['check'] == 'read'])
        gpus = hostcheck.passthrough_gpus(sysfs.read_host('/'))
        if not gpus:
            [found] = [c for c in checks if c['check'] == 'gpus']
            self.assertEqual('warning', found['status'])
            self.assertIn('no GPU for passthrough', found['message'])
