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

"""The pure catalog: field checks, cross-model checks and lookups."""


from nova_gpu_ext.common import catalog
from tests import base as test_base


K4200 = catalog.GpuModel('k4200', '10de', '11b4', alias='k4200')
A100 = catalog.GpuModel('a100', '10de', '20b5', device_type='type-PF',
                        alias='a100')


class TestFieldChecks(test_base.TestCase):

    def test_hex_id_lower_cases(self):
        self.assertEqual('10de', catalog.hex_id('gpu:x', 'vendor_id', '10DE'))

    def test_hex_id_refuses_non_hex_naming_section_option_value(self):
        exc = self.assertRaises(catalog.CatalogError, catalog.hex_id,
                                'gpu:x', 'product_id', '11bz')
        self.assertEqual(('gpu:x', 'product_id', '11bz'),
                         (exc.section, exc.option, exc.value))
        self.assertIn('[gpu:x] product_id = 11bz', str(exc))

    def test_hex_id_refuses_missing_value(self):
        self.assertRaises(catalog.CatalogError, catalog.hex_id,
                          'gpu:x', 'vendor_id', None)

    def test_companions_must_be_vendor_product(self):
        self.assertEqual(('10de:0e0a',), catalog.vendor_products(
            'gpu:x', 'companions', ['10DE:0E0A']))
        self.assertRaises(catalog.CatalogError, catalog.vendor_products,
                          'gpu:x', 'companions', ['0e0a'])

    def test_alias_names_refuse_colon_and_comma(self):
        for bad in ('a:b', 'a,b', ''):
            exc = self.assertRaises(catalog.CatalogError,
                                    catalog.alias_name, 'gpu:x', bad)
            self.assertEqual('alias', exc.option)

    def test_placement_names_upper_case_and_refuse_dashes(self):
        self.assertEqual('CUSTOM_X', catalog.placement_name(
            'gpu:x', 'resource_class', 'custom_x'))
        self.assertRaises(catalog.CatalogError, catalog.placement_name,
                          'gpu:x', 'traits', 'NV-LINK')


class TestBuild(test_base.TestCase):

    def test_same_ids_in_two_models_is_refused(self):
        twin = catalog.GpuModel('twin', '10de', '11b4', alias='twin')
        exc = self.assertRaises(catalog.CatalogError, catalog.build,
                                [K4200, twin], [])
        self.assertEqual(('gpu:twin', 'product_id'),
                         (exc.section, exc.option))

    def test_companion_equal_to_the_gpu_is_refused(self):
        model = catalog.GpuModel('k', '10de', '11b4', alias='k',
                                 companions=('10de:11b4',))
        exc = self.assertRaises(catalog.CatalogError, catalog.build,
                                [model], [])
        self.assertEqual('companions', exc.option)

    def test_class_naming_an_unknown_model_is_refused(self):
        cls = catalog.GpuClass('any', ('k4200', 'nope'), alias='any')
        exc = self.assertRaises(catalog.CatalogError, catalog.build,
                                [K4200], [cls])
        self.assertEqual(('gpu_class:any', 'models', 'nope'),
                         (exc.section, exc.option, exc.value))

    def test_class_mixing_device_types_is_refused(self):
        cls = catalog.GpuClass('any', ('k4200', 'a100'), alias='any')
        exc = self.assertRaises(catalog.CatalogError, catalog.build,
                                [K4200, A100], [cls])
        self.assertIn('device_type', str(exc))

    def test_empty_class_is_refused(self):
        cls = catalog.GpuClass('any', (), alias='any')
        self.assertRaises(catalog.CatalogError, catalog.build, [K4200], [cls])

    def test_alias_used_twice_is_refused(self):
        cls = catalog.GpuClass('any', ('k4200',), alias='k4200')
        exc = self.assertRaises(catalog.CatalogError, catalog.build,
                                [K4200], [cls])
        self.assertEqual(('gpu_class:any', 'alias', 'k4200'),
                         (exc.section, exc.option, exc.value))

    def test_lookups(self):
        cls = catalog.GpuClass('any', ('k4200',), alias='any')
        built = catalog.build([K4200, A100], [cls])
        self.assertIs(A100, built.model_by_ids('10DE', '20B5'))
        self.assertIsNone(built.model_by_ids('10de', 'ffff'))
        self.assertIs(K4200, built.model('k4200'))
        self.assertEqual((cls,), built.classes_of('k4200'))
        self.assertEqual((), built.classes_of('a100'))
