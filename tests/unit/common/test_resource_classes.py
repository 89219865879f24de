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

"""Resource class names: the same as nova's own translator makes them."""

from nova.compute import pci_placement_translator as translator

from nova_gpu_ext.common import resource_classes
from tests import base as test_base


NAMES = ('CUSTOM_GPU_A', 'custom_gpu_a', 'GPU_A', 'gpu-a', 'a--b',
         'a b', 'é', 'CUSTOM_PCI_10DE_11B4', 'x_')


class TestAsNova(test_base.TestCase):

    def test_normalize_is_nova_normalization(self):
        for name in NAMES:
            self.assertEqual(translator.get_resource_class(name, None, None),
                             resource_classes.normalize(name), name)

    def test_pci_default_is_nova_default(self):
        self.assertEqual(translator.get_resource_class(None, '10de', '11b4'),
                         resource_classes.pci_default('10de', '11b4'))

    def test_pci_ids_read_back_the_default(self):
        self.assertEqual(('10de', '11b4'), resource_classes.pci_ids(
            resource_classes.pci_default('10de', '11b4')))
        self.assertIsNone(resource_classes.pci_ids('CUSTOM_GPU_A100'))


class TestGpuDefault(test_base.TestCase):

    def test_placement_name_of_a_catalog_name(self):
        self.assertEqual('CUSTOM_GPU_L40S_48G',
                         resource_classes.gpu_default('l40s-48g'))

    def test_alike_names_give_one_class(self):
        self.assertEqual(resource_classes.gpu_default('a-1'),
                         resource_classes.gpu_default('a_1'))
