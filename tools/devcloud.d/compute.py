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

"""nova-compute on nova's fake libvirt, with this host's fake GPUs.

Run as ``python compute.py GPUS --config-file ...``: GPUS is a comma list
of ``MODEL@NUMA`` (``k4200@0,v100@1``), one PCI slot each, in PCI address
order; a K4200 also gets its HDMI audio function as nova would see it on
a real card. Everything after GPUS goes to nova-compute's own main, so
the process is the real nova-compute service with its own nova.conf; only
the hypervisor connection is nova's fake libvirt, set up with the same
fixtures nova's functional tests use.
"""

# nova's eventlet monkey patching must come before any other import.
import nova.cmd.compute  # noqa: I100

import io  # noqa: I100
import sys
from unittest import mock

import fixtures
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt

# model -> (product id, product name); vendor 10de for all.
MODELS = {
    'k4200': ('11b4', 'GK104GL [Quadro K4200]'),
    'v100': ('1db4', 'GV100GL [Tesla V100 PCIe 16GB]'),
    'a100': ('20f1', 'GA100 [A100 PCIe 40GB]'),
}
AUDIO = {'k4200': ('0e0a', 'GK104 HDMI Audio Controller')}
NVIDIA = ('10de', 'NVIDIA Corporation')


def pci_info(gpus: str):
    """The fake host's PCI devices for ``MODEL@NUMA,...``."""
    info = fakelibvirt.HostPCIDevicesInfo(num_pci=0, num_pfs=0, num_vfs=0)
    for slot, item in enumerate(filter(None, gpus.split(','))):
        model, numa = item.split('@')
        bus = 0x81 if int(numa) == 0 else 0xc1
        functions = [(0, MODELS[model], 'vfio-pci')]
        if model in AUDIO:
            functions.append((1, AUDIO[model], 'snd_hda_intel'))
        for function, (prod_id, prod_name), driver in functions:
            info.add_device(
                dev_type='PCI', bus=bus, slot=slot, function=function,
                iommu_group=40 + slot, numa_node=int(numa),
                vend_id=NVIDIA[0], vend_name=NVIDIA[1], prod_id=prod_id,
                prod_name=prod_name, driver_name=driver)
    return info


def fake_hypervisor(gpus: str, hostname: str):
    """Apply nova's fake-libvirt fixtures; return them to keep them alive."""
    applied = [
        nova_fixtures.LibvirtImageBackendFixture(),
        nova_fixtures.CGroupsFixture(),
        nova_fixtures.LibvirtFixture(),
        nova_fixtures.OSBrickFixture(),
        fixtures.MockPatch('nova.virt.libvirt.LibvirtDriver._create_image',
                           return_value=(False, False)),
        fixtures.MockPatch(
            'nova.virt.libvirt.LibvirtDriver._get_local_gb_info',
            return_value={'total': 1024, 'used': 0, 'free': 1024}),
        fixtures.MockPatch(
            'nova.virt.libvirt.driver.libvirt_utils.is_valid_hostname',
            return_value=True),
        fixtures.MockPatch(
            'nova.virt.libvirt.driver.libvirt_utils.file_open',
            side_effect=lambda *a, **k: io.BytesIO(b'')),
        fixtures.MockPatch('nova.privsep.utils.supports_direct_io',
                           return_value=True),
        fixtures.MockPatch('nova.virt.libvirt.host.Host.get_online_cpus',
                           return_value=set(range(8))),
    ]
    for fixture in applied:
        fixture.setUp()
    connection = fakelibvirt.Connection(
        'qemu:///system', version=fakelibvirt.FAKE_LIBVIRT_VERSION,
        hv_version=fakelibvirt.FAKE_QEMU_VERSION,
        host_info=fakelibvirt.HostInfo(cpu_nodes=2, cpu_sockets=1,
                                       cpu_cores=2, cpu_threads=2,
                                       kB_mem=64 * 1024 * 1024),
        pci_info=pci_info(gpus), hostname=hostname)
    patcher = mock.patch('nova.virt.libvirt.host.Host.get_connection',
                         return_value=connection)
    patcher.start()
    return applied, patcher


def main():
    gpus, hostname = sys.argv[1], sys.argv[2]
    sys.argv[1:] = sys.argv[3:]
    kept = fake_hypervisor(gpus, hostname)  # noqa: F841
    nova.cmd.compute.main()


if __name__ == '__main__':
    main()
