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

"""nova's own PCI and SR-IOV functional suites, GpuPassthroughFilter in
place of PciPassthroughFilter.

Each class below is one of nova 34's test classes, run unchanged but for
the scheduler: ``PciPassthroughFilter`` is not enabled and
``GpuPassthroughFilter`` is, with its defaults.  nova's base class wraps
``PciPassthroughFilter.host_passes`` in a mock some tests inspect (was the
PCI filter reached?); here it wraps ``GpuPassthroughFilter.filter_all``.
Only modules are imported from nova, so that the loader finds no class of
nova's to run as is.
"""

import os
import sysconfig

import fixtures
from nova.tests.functional.libvirt import test_pci_in_placement
from nova.tests.functional.libvirt import test_pci_sriov_servers

from nova_gpu_ext.scheduler.filters import gpu_passthrough

FILTER = 'nova_gpu_ext.scheduler.filters.gpu_passthrough.GpuPassthroughFilter'


class InPlaceOfPciPassthroughFilter:

    ADDITIONAL_FILTERS = ['NUMATopologyFilter', 'GpuPassthroughFilter']

    def setUp(self):
        self.flags(available_filters=[
            'nova.scheduler.filters.all_filters',
            'nova_gpu_ext.scheduler.filters.all_filters'],
            group='filter_scheduler')
        super().setUp()
        self.mock_filter = self.useFixture(fixtures.MockPatch(
            f'{FILTER}.filter_all',
            side_effect=gpu_passthrough.GpuPassthroughFilter().filter_all,
        )).mock

    def _setup_services(self):
        # The nova wheel installs api-paste.ini under <venv>/etc/nova, not
        # where nova's test config looks for it.
        self.flags(api_paste_config=os.path.join(
            sysconfig.get_path('data'), 'etc', 'nova', 'api-paste.ini'),
            group='wsgi')
        super()._setup_services()


class TestSRIOVServers(InPlaceOfPciPassthroughFilter,
                       test_pci_sriov_servers.SRIOVServersTest):
    pass


class TestSRIOVAttachDetach(InPlaceOfPciPassthroughFilter,
                            test_pci_sriov_servers.SRIOVAttachDetachTest):
    pass


class TestVDPAServers(InPlaceOfPciPassthroughFilter,
                      test_pci_sriov_servers.VDPAServersTest):
    pass


class TestRemoteManagedServers(
        InPlaceOfPciPassthroughFilter,
        test_pci_sriov_servers.RemoteManagedServersTest):
    pass


class TestPCIServers(InPlaceOfPciPassthroughFilter,
                     test_pci_sriov_servers.PCIServersTest):
    pass


class TestPCIServersWithRequiredNUMA(
        InPlaceOfPciPassthroughFilter,
        test_pci_sriov_servers.PCIServersWithRequiredNUMATest):
    pass


class TestPCIServersWithSRIOVAffinityPolicies(
        InPlaceOfPciPassthroughFilter,
        test_pci_sriov_servers.PCIServersWithSRIOVAffinityPoliciesTest):
    pass


class TestPCIServersWithPortNUMAPolicies(
        InPlaceOfPciPassthroughFilter,
        test_pci_sriov_servers.PCIServersWithPortNUMAPoliciesTest):
    pass


class TestPCIResourceRequestRescheduling(
        InPlaceOfPciPassthroughFilter,
        test_pci_sriov_servers.PCIResourceRequestReschedulingTest):
    pass


class TestPackNUMACellsWithPCIDevices(
        InPlaceOfPciPassthroughFilter,
        test_pci_sriov_servers.TestPackNUMACellsWithPCIDevices):
    pass


class TestPlacementPCIAllocationHealing(
        InPlaceOfPciPassthroughFilter,
        test_pci_in_placement.PlacementPCIAllocationHealingTests):
    pass


class TestSimpleRCAndTraitBasedPCIAlias(
        InPlaceOfPciPassthroughFilter,
        test_pci_in_placement.SimpleRCAndTraitBasedPCIAliasTests):
    pass


class TestRCAndTraitBasedPCIAlias(
        InPlaceOfPciPassthroughFilter,
        test_pci_in_placement.RCAndTraitBasedPCIAliasTests):
    pass
