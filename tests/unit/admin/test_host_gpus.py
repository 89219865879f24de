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

"""Which device_spec entry selects a GPU: address globs judged as nova does.

Every case is also given to nova's own ``PciAddressGlobSpec``: the two
must agree.
"""

from nova.pci import devspec
from tests import base as test_base
import testscenarios

from nova_gpu_ext.admin import host_gpus

GPU = host_gpus.HostGpu('0000:43:00.0', '10de', '26b9', '0000:41:00.0')


class TestAddressMatches(testscenarios.WithScenarios, test_base.TestCase):

    scenarios = [(glob, {'glob': glob, 'expected': expected}) for glob,
                 expected in [
                     ('0000:43:00.0', True), ('0000:43:00.1', False),
                     ('0000:43:*.*', True), ('0000:44:*.*', False),
                     ('*:43:00.*', True), ('43:00.', True), ('43:00.0', True),
                     (':43:00.', True), ('00.', True), ('01.', False),
                     ('*:*:*.*', True), ('0001:43:00.0', False),
                     ('0:43:0.0', True), ('0000:43:00.', True)]]

    def test_agrees_with_nova(self):
        nova = devspec.PciAddressGlobSpec(self.glob).match(
            devspec.PhysicalPciAddress(GPU.address))
        self.assertEqual((self.expected, self.expected),
                         (host_gpus.address_matches(self.glob, GPU.address),
                          nova))


class TestSpecSelects(test_base.TestCase):

    def test_ids_and_address(self):
        self.assertEqual(
            [True, True, False, False, True],
            [host_gpus.spec_selects(spec, GPU) for spec in [
                {'vendor_id': '10de', 'product_id': '26b9'},
                {'vendor_id': '10DE', 'product_id': '*',
                 'address': '0000:43:*.*'},
                {'vendor_id': '10de', 'product_id': '26b5'},
                {'vendor_id': '10de', 'address': '0000:44:00.0'},
                {}]])

    def test_regex_address_and_devname_cannot_be_told(self):
        self.assertEqual(
            [None, None],
            [host_gpus.spec_selects(spec, GPU) for spec in [
                {'address': {'domain': '.*', 'bus': '43', 'slot': '00',
                             'function': '0'}},
                {'devname': 'eth0'}]])
