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

"""load_catalog: oslo.config sections to a validated Catalog."""

import testscenarios
import testtools

from nova_gpu_ext.tooling import catalog
from nova_gpu_ext.tooling import catalog_file
from tests.unit import catalog_files

MINIMAL = catalog_files.MINIMAL


class TestLoad(testtools.TestCase):

    def test_good_catalog_loads_with_defaults_and_overrides(self):
        got = catalog_file.load_catalog(
            [catalog_files.write(self, catalog_files.GOOD)])
        k4200 = got.model('k4200')
        self.assertEqual(('10de', '11b4', 'type-PCI', ('10de:0e0a',)),
                         (k4200.vendor_id, k4200.product_id,
                          k4200.device_type, k4200.companions))
        self.assertEqual(('k4200', 'CUSTOM_GPU_K4200', None, None),
                         (k4200.alias, k4200.resource_class,
                          k4200.managed, k4200.numa_policy))
        l40s = got.model('l40s')
        self.assertEqual(('l40s-48g', True, False),
                         (l40s.alias, l40s.managed, l40s.live_migratable))
        self.assertEqual(('0000:81:*.*', '0000:82:*.*'),
                         got.model('v100').addresses)
        self.assertEqual(('NVLINK',), got.model('a100').traits)
        self.assertEqual(['pcie', 'dc'], [c.name for c in got.classes])
        self.assertEqual('CUSTOM_GPU_DATACENTER',
                         got.classes[1].resource_class)

    def test_later_files_win(self):
        override = catalog_files.write(
            self, '[gpu:k4200]\nalias = quadro\n', 'override.conf')
        got = catalog_file.load_catalog(
            [catalog_files.write(self, MINIMAL), override])
        self.assertEqual('quadro', got.model('k4200').alias)

    def test_missing_file_is_a_catalog_file_error(self):
        self.assertRaises(catalog_file.CatalogFileError,
                          catalog_file.load_catalog, ['/nonexistent.conf'])

    def test_empty_catalog_has_no_models(self):
        got = catalog_file.load_catalog([catalog_files.write(self, '')])
        self.assertEqual((), got.models)


class TestBadInput(testscenarios.WithScenarios, testtools.TestCase):
    """Each bad input names its section, option and value."""

    scenarios = [
        ('unknown model', {
            'text': MINIMAL.replace('= k4200', '= k4200, v100'),
            'where': ('nova_gpu_ext', 'gpu_models', 'v100')}),
        ('bad hex', {
            'text': MINIMAL.replace('11b4', '11bx'),
            'where': ('gpu:k4200', 'product_id', '11bx')}),
        ('missing id', {
            'text': MINIMAL.replace('vendor_id = 10de\n', ''),
            'where': ('gpu:k4200', 'vendor_id', None)}),
        ('bad device type', {
            'text': MINIMAL + 'device_type = type-VF\n',
            'where': ('gpu:k4200', 'device_type', 'type-VF')}),
        ('bad boolean', {
            'text': MINIMAL + 'managed = maybe\n',
            'where': ('gpu:k4200', 'managed', 'maybe')}),
        ('alias with colon', {
            'text': MINIMAL + 'alias = k:4200\n',
            'where': ('gpu:k4200', 'alias', 'k:4200')}),
        ('alias with comma', {
            'text': MINIMAL + 'alias = k,4200\n',
            'where': ('gpu:k4200', 'alias', 'k,4200')}),
        ('companion is the gpu', {
            'text': MINIMAL + 'companions = 10de:11b4\n',
            'where': ('gpu:k4200', 'companions', ('10de:11b4',))}),
        ('same ids twice', {
            'text': MINIMAL.replace('= k4200', '= k4200, twin')
            + '[gpu:twin]\nvendor_id = 10de\nproduct_id = 11B4\n',
            'where': ('gpu:twin', 'product_id', '11b4')}),
        ('class names unknown model', {
            'text': MINIMAL.replace('[gpu:', 'gpu_classes = any\n[gpu:')
            + '[gpu_class:any]\nmodels = k4200, v100\n',
            'where': ('gpu_class:any', 'models', 'v100')}),
    ]

    def test_error_names_section_option_value(self):
        exc = self.assertRaises(
            catalog.CatalogError, catalog_file.load_catalog,
            [catalog_files.write(self, self.text)])
        self.assertEqual(self.where, (exc.section, exc.option, exc.value))
        self.assertIn(f'[{self.where[0]}] {self.where[1]}', str(exc))
