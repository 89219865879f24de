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

"""The flavor options of the catalog sections."""


from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import catalog_file
from nova_gpu_ext.common import catalog_opts
from tests import base as test_base
from tests.unit.common import catalog_files

WITH_CLASS = catalog_files.MINIMAL.replace(
    'gpu_models = k4200', 'gpu_models = k4200\ngpu_classes = ws') + """
[gpu_class:ws]
models = k4200
"""


def load(test, text):
    return catalog_file.load_catalog([catalog_files.write(test, text)])


class TestFlavorOpts(test_base.TestCase):

    def test_defaults_make_no_flavors(self):
        got = load(self, catalog_files.MINIMAL)
        self.assertEqual(catalog.FlavorSettings(), got.model('k4200').flavor)
        self.assertEqual((), got.model('k4200').flavor.counts)

    def test_model_and_class_options_are_read(self):
        text = WITH_CLASS.replace('product_id = 11b4', """product_id = 11b4
flavor_counts = 4, 1, 2, 1
flavor_vcpus_per_gpu = 6
flavor_ram_mb_per_gpu = 4096
flavor_disk_gb = 0
flavor_ephemeral_gb_per_gpu = 50
flavor_hide_hypervisor_id = true
""") + 'flavor_counts = 8\nflavor_gpu_numa = single\n' + (
            'flavor_gpu_switch = prefer\n')
        got = load(self, text)
        self.assertEqual(catalog.FlavorSettings(
            counts=(1, 2, 4), vcpus_per_gpu=6, ram_mb_per_gpu=4096,
            disk_gb=0, ephemeral_gb_per_gpu=50, hide_hypervisor_id=True),
            got.model('k4200').flavor)
        self.assertEqual(((8,), 'single', 'prefer'),
                         (got.classes[0].flavor.counts,
                          got.classes[0].flavor.gpu_numa,
                          got.classes[0].flavor.gpu_switch))

    def test_bad_count_names_section_option_and_value(self):
        exc = self.assertRaises(
            catalog.CatalogError, load, self,
            catalog_files.MINIMAL + 'flavor_counts = 1, 0\n')
        self.assertEqual(('gpu:k4200', 'flavor_counts', '1, 0'),
                         (exc.section, exc.option, exc.value))

    def test_bad_numa_in_a_class_names_the_class_section(self):
        exc = self.assertRaises(catalog.CatalogError, load, self,
                                WITH_CLASS + 'flavor_gpu_numa = near\n')
        self.assertEqual(('gpu_class:ws', 'flavor_gpu_numa'),
                         (exc.section, exc.option))

    def test_bad_switch_names_section_option_and_value(self):
        exc = self.assertRaises(catalog.CatalogError, load, self,
                                WITH_CLASS + 'flavor_gpu_switch = near\n')
        self.assertEqual(('gpu_class:ws', 'flavor_gpu_switch', 'near'),
                         (exc.section, exc.option, exc.value))

    def test_options_are_listed_for_the_sample(self):
        groups = {getattr(g, 'name', g): [o.name for o in opts]
                  for g, opts in catalog_opts.list_opts().items()}
        for group in ('gpu:name', 'gpu_class:name'):
            self.assertIn('flavor_counts', groups[group])
            self.assertIn('flavor_hide_hypervisor_id', groups[group])
