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

"""gpu:switch in the real nova-scheduler and compute claims.

Two hosts of K4200 on one NUMA node, their GPUs tagged ``pcie_switch`` by
the compute's ``[pci] device_spec``: on 'split' the four GPUs alternate
between two switches, so a 4-GPU server fills it exactly but splits; on
'one' the first four sit below one switch, two more below another.
GpuWeigher's best fit prefers 'split', so the policy decides:

* any: 'split' (switches do not filter, the fit wins);
* single: 'one', the four GPUs the compute claims below one switch.
"""

from nova import objects

from tests.functional import base
from tests.functional.base import K4200

SW_A = '0000:80:00.0'
SW_B = '0000:90:00.0'


class SwitchMixin:

    def setUp(self):
        super().setUp()
        self.start_gpu_host('split', [(K4200, 0)] * 4,
                            switches=[SW_A, SW_B, SW_A, SW_B])
        self.start_gpu_host('one', [(K4200, 0)] * 6,
                            switches=[SW_A] * 4 + [SW_B] * 2)

    def boot_x4(self, mode):
        server = self.boot(self.gpu_flavor('k4200:4',
                                           **{'gpu:switch': mode}))
        devices = objects.PciDeviceList.get_by_instance_uuid(
            self.ctxt, server['id'])
        return server['OS-EXT-SRV-ATTR:host'], sorted(
            int(d.address.split(':')[2].split('.')[0], 16)
            for d in devices)

    def test_single_lands_below_one_switch(self):
        self.assertEqual(('one', [0, 1, 2, 3]), self.boot_x4('single'))
        self.assertIn('split over PCIe switches', self.scheduler_log.output)

    def test_any_takes_the_best_fit(self):
        self.assertEqual(('split', [0, 1, 2, 3]), self.boot_x4('any'))


class TestSwitchLegacy(SwitchMixin, base.GpuServersTestBase):
    pass


class TestSwitchPlacement(SwitchMixin, base.GpuServersTestBase):
    PLACEMENT = True
