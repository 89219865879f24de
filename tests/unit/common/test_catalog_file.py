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

import os

import fixtures
import testscenarios

from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import catalog_file
from nova_gpu_ext import exception
from tests import base as test_base
from tests.unit.common import catalog_files
from tests.unit.common import unreadable

MINIMAL = catalog_files.MINIMAL


class TestLoad(test_base.TestCase):

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


class TestBadInput(testscenarios.WithScenarios, test_base.TestCase):
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


class TestUnusableFile(test_base.TestCase):
    """A file that is no catalog text is one BadInput line naming it."""

    def test_directory(self):
        path = self.useFixture(fixtures.TempDir()).path
        exc = self.assertRaises(catalog_file.CatalogFileError,
                                catalog_file.load_catalog, [path])
        self.assertIsInstance(exc, exception.BadInput)
        self.assertEqual(f'cannot read {path}: Is a directory; give the path '
                         'of a readable GPU catalog file', str(exc))

    def test_non_utf8_file(self):
        path = catalog_files.write(self, '')
        with open(path, 'wb') as out:
            out.write(MINIMAL.encode().replace(b'11b4', b'11b4\xff'))
        exc = self.assertRaises(catalog_file.CatalogFileError,
                                catalog_file.load_catalog, [path])
        self.assertIn(f'cannot read {path}: not UTF-8 text (byte 0xff',
                      str(exc))

    def test_file_only_root_can_read(self):
        path = catalog_files.write(self, MINIMAL)
        unreadable.open_up(os.path.dirname(path))
        unreadable.forbid(path)
        exc = self.assertRaises(
            catalog_file.CatalogFileError, unreadable.as_nobody,
            catalog_file.load_catalog, [path])
        self.assertIn('Permission denied', str(exc))


class TestStrictSections(test_base.TestCase):
    """What oslo.config would ignore in the catalog's sections is refused."""

    def load(self, text):
        self.path = catalog_files.write(self, text)
        return catalog_file.load_catalog([self.path])

    def refused(self, text):
        exc = self.assertRaises(catalog_file.CatalogFileError, self.load,
                                text)
        return str(exc)

    def test_misspelt_option_is_named_with_its_line_and_the_fix(self):
        message = self.refused(MINIMAL.replace('product_id', 'prodcut_id'))
        self.assertEqual(
            f'{self.path} line 6: [gpu:k4200] has no option "prodcut_id"; '
            'did you mean product_id?', message)

    def test_unknown_option_of_a_class_and_of_the_main_section(self):
        text = MINIMAL.replace('[gpu:', 'gpu_classes = c\n[gpu:') + (
            '[gpu_class:c]\nmodels = k4200\nvendor_id = 10de\n')
        self.assertIn('[gpu_class:c] has no option "vendor_id"',
                      self.refused(text))
        self.assertIn('[nova_gpu_ext] has no option "gpu_model"',
                      self.refused(MINIMAL.replace('[gpu:',
                                                   'gpu_model = x\n[gpu:')))

    def test_scheduler_options_and_other_sections_are_accepted(self):
        got = self.load('[DEFAULT]\ndebug = true\n[pci]\nalias = {}\n'
                        + MINIMAL.replace('gpu_models', 'gpu_weight_multiplier'
                                          ' = 2.0\ngpu_models'))
        self.assertEqual(['k4200'], [m.name for m in got.models])

    def test_section_twice_in_one_file_names_both_lines(self):
        message = self.refused(MINIMAL + '[gpu:k4200]\nalias = quadro\n')
        self.assertEqual(
            f'{self.path} line 7: [gpu:k4200] again (first at line 4); '
            'oslo.config would merge the two silently: keep one', message)

    def test_model_section_not_listed_is_refused(self):
        message = self.refused(
            MINIMAL + '[gpu:v100]\nvendor_id = 10de\nproduct_id = 1db4\n')
        self.assertEqual(
            f'{self.path} line 7: [gpu:v100] is ignored: "v100" is not in '
            '[nova_gpu_ext] gpu_models; add it there or remove the section',
            message)

    def test_bad_value_is_located_in_the_file(self):
        exc = self.assertRaises(catalog.CatalogError, self.load,
                                MINIMAL.replace('11b4', '11bx'))
        self.assertTrue(str(exc).startswith(
            f'{self.path} line 6: [gpu:k4200] product_id = 11bx:'), exc)

    def test_missing_option_is_located_at_its_section(self):
        exc = self.assertRaises(catalog.CatalogError, self.load,
                                MINIMAL.replace('vendor_id = 10de\n', ''))
        self.assertTrue(str(exc).startswith(
            f'{self.path} line 4: [gpu:k4200] vendor_id = None:'), exc)

    def test_dollar_sign_is_explained(self):
        exc = self.assertRaises(catalog.CatalogError, self.load,
                                MINIMAL + 'description = costs $price\n')
        self.assertIn('[gpu:k4200] description = costs $price', str(exc))
        self.assertIn('write $$ for a literal $', str(exc))


class TestAddresses(testscenarios.WithScenarios, test_base.TestCase):
    """``addresses`` takes the PCI address globs nova accepts, no more."""

    scenarios = [
        (text, {'text': text, 'good': good}) for text, good in (
            ('0000:81:00.0', True), ('0000:81:*.*', True),
            ('81:00.', True), ('*:*:*.*', True), ('1f.7', True),
            ('FFFF:ff:1f.7', True),
            ('0000:zz:00.0', False), ('not-an-address', False),
            ('0000:81:00.8', False), ('0000:81:20.0', False),
            ('10000:81:00.0', False), ('0x81:00.0', False),
            ('0000:0000:81:00.0', False), ('0000:81:00.0.1', False))]

    def test_nova_syntax_only(self):
        text = MINIMAL + f'addresses = {self.text}\n'
        if self.good:
            got = catalog_file.load_catalog([catalog_files.write(self, text)])
            self.assertEqual((self.text.lower(),),
                             got.model('k4200').addresses)
            return
        exc = self.assertRaises(catalog.CatalogError,
                                catalog_file.load_catalog,
                                [catalog_files.write(self, text)])
        self.assertIn(f'[gpu:k4200] addresses = {self.text}: not a PCI '
                      'address or glob nova accepts', str(exc))


class TestResourceClassCollisions(test_base.TestCase):
    """Two entries with one resource class are refused, naming both."""

    def load(self, names, classes=None):
        """Models ``names``, with the resource_class in ``classes``."""
        classes = classes or {}
        sections = ''.join(
            f'[gpu:{name}]\nvendor_id = 10de\nproduct_id = 11b{i}\n'
            + (f'resource_class = {classes[name]}\n' if name in classes
               else '')
            for i, name in enumerate(names))
        text = (f'[nova_gpu_ext]\ngpu_models = {", ".join(names)}\n'
                + sections)
        return catalog_file.load_catalog([catalog_files.write(self, text)])

    def assertRefused(self, names, first, second, classes=None):
        exc = self.assertRaises(catalog.CatalogError, self.load, names,
                                classes)
        self.assertIn(f'[{second}] resource_class', str(exc))
        self.assertIn(f'also the resource class of [{first}]', str(exc))

    def test_names_normalizing_alike(self):
        self.assertRefused(['a-1', 'a_1'], 'gpu:a-1', 'gpu:a_1')

    def test_two_non_ascii_names(self):
        self.assertRefused(['é', 'ü'], 'gpu:é', 'gpu:ü')

    def test_explicit_class_with_and_without_custom_prefix(self):
        self.assertRefused(['a', 'b'], 'gpu:a', 'gpu:b',
                           {'a': 'GPU_X', 'b': 'CUSTOM_GPU_X'})

    def test_distinct_classes_load_with_the_custom_prefix(self):
        got = self.load(['a-1', 'a2'], {'a2': 'gpu_a2'})
        self.assertEqual(['CUSTOM_GPU_A_1', 'CUSTOM_GPU_A2'],
                         [m.resource_class for m in got.models])
