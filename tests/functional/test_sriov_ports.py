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

"""GpuPassthroughFilter alone judges neutron SR-IOV ports, as nova's did.

PciPassthroughFilter is not enabled (the harness's OURS set-up, as genconf
renders the scheduler role); servers with SR-IOV VF ports, with and
without GPUs, are booted through nova's fake neutron the way nova's own
``SRIOVServersTest`` boots them.
"""

import json

import nova.conf
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base as libvirt_base

from tests.functional import base
from tests.functional.base import K4200

PHYSNET = 'physnet4'
NIC_SPECS = [json.dumps({'vendor_id': fakelibvirt.PCI_VEND_ID,
                         'product_id': product,
                         'physical_network': PHYSNET})
             for product in (fakelibvirt.PF_PROD_ID, fakelibvirt.VF_PROD_ID)]
# nova's fake SR-IOV NIC sits on bus 0x81; the GPUs go on the next bus.
GPU_BUS = 0x82


class SriovPortsMixin:

    def setUp(self):
        super().setUp()
        self.neutron = self.useFixture(
            libvirt_base.LibvirtNeutronFixture(self))

    def test_pci_passthrough_filter_is_not_enabled(self):
        enabled = nova.conf.CONF.filter_scheduler.enabled_filters
        self.assertIn('GpuPassthroughFilter', enabled)
        self.assertNotIn('PciPassthroughFilter', enabled)

    def device_spec(self):
        return super().device_spec() + NIC_SPECS

    def start_host(self, hostname, gpus=(), num_vfs=0):
        """A compute with ``(model, numa_node)`` GPUs and a NIC.

        The NIC is nova's fake SR-IOV one, with one PF and ``num_vfs`` VFs,
        if ``num_vfs``.
        """
        info = fakelibvirt.HostPCIDevicesInfo(
            num_pci=0, num_pfs=1 if num_vfs else 0, num_vfs=num_vfs,
            numa_node=0)
        for slot, (model, numa) in enumerate(gpus):
            info.add_device(
                dev_type='PCI', bus=GPU_BUS, slot=slot, function=0,
                iommu_group=60 + slot, numa_node=numa,
                vend_id=model.key.vendor_id, vend_name='NVIDIA Corporation',
                prod_id=model.key.product_id, prod_name=model.product_name,
                driver_name='vfio-pci')
        return self.start_compute(hostname=hostname, pci_info=info)

    def port(self, template):
        return self.neutron.create_port({'port': template})['port']['id']

    def boot_with_ports(self, ports, flavor=None, expected_state='ACTIVE'):
        return self._create_server(
            flavor_id=flavor or self._create_flavor(),
            networks=[{'port': port} for port in ports],
            expected_state=expected_state)

    def claimed_types(self, server):
        return sorted((d.dev_type, d.product_id)
                      for d in objects.PciDeviceList.get_by_instance_uuid(
                          self.ctxt, server['id']))

    def test_vf_port_gets_a_vf_and_keeps_off_gpu_hosts(self):
        self.start_host('gpu-nic', [(K4200, 0), (K4200, 0)], num_vfs=2)
        self.start_host('nic', num_vfs=2)
        server = self.boot_with_ports(
            [self.port(self.neutron.network_4_port_1)])
        self.assertEqual('nic', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual([('type-VF', fakelibvirt.VF_PROD_ID)],
                         self.claimed_types(server))
        profile = self.neutron.show_port(
            self.neutron.network_4_port_1['id'])['port']['binding:profile']
        self.assertEqual(PHYSNET, profile['physical_network'])

    def test_port_and_gpus_in_one_server(self):
        self.start_host('gpu-nic', [(K4200, 0), (K4200, 0)], num_vfs=2)
        self.start_host('gpu', [(K4200, 0), (K4200, 0)])
        self.start_host('nic', num_vfs=2)
        server = self.boot_with_ports(
            [self.port(self.neutron.network_4_port_1)],
            flavor=self.gpu_flavor('k4200:2'))
        self.assertEqual('gpu-nic', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual([('type-PCI', K4200.key.product_id)] * 2 +
                         [('type-VF', fakelibvirt.VF_PROD_ID)],
                         self.claimed_types(server))

    def test_port_without_a_free_vf_is_refused_and_explained(self):
        self.start_host('gpu', [(K4200, 0)])
        self.start_host('nic', num_vfs=1)
        self.boot_with_ports([self.port(self.neutron.network_4_port_1)])
        server = self.boot_with_ports(
            [self.port(self.neutron.network_4_port_2)],
            expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        log = self.scheduler_log.output
        self.assertIn('no host for instance', log)
        self.assertIn('port:1', log)
        self.assertIn('2 not enough matching free devices', log)

    def test_pf_port_takes_the_whole_nic(self):
        self.start_host('nic', num_vfs=2)
        server = self.boot_with_ports(
            [self.port(self.neutron.network_4_port_pf)])
        self.assertEqual([('type-PF', fakelibvirt.PF_PROD_ID)],
                         self.claimed_types(server))
        # The PF's VFs are gone with it, as nova's filter would say.
        refused = self.boot_with_ports(
            [self.port(self.neutron.network_4_port_1)],
            expected_state='ERROR')
        self.assertIn('No valid host', refused['fault']['message'])


class TestSriovPortsLegacy(SriovPortsMixin, base.GpuServersTestBase):
    pass


class TestSriovPortsPlacement(SriovPortsMixin, base.GpuServersTestBase):
    PLACEMENT = True
