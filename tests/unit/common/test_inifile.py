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

"""Reading INI files: every unusable file is one line naming it."""

import os

import fixtures
import testscenarios

from nova_gpu_ext.common import inifile
from nova_gpu_ext import exception
from tests import base as test_base
from tests.unit.common import unreadable


class TestUnusableFiles(testscenarios.WithScenarios, test_base.TestCase):
    """Given a path that is no INI text, read raises IniFileError."""

    scenarios = unreadable.UNUSABLE_FILES + [
        ('option before section', {
            'make': unreadable.writing(b'# x\nkey = value\n'),
            'says': 'line 2: an option before any [section]'}),
        ('not INI', {'make': unreadable.writing(b'[a]\nno equals sign\n'),
                     'says': "cannot parse"}),
    ]

    def test_one_line_naming_the_file_and_why(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'x')
        self.make(path)
        exc = self.assertRaises(inifile.IniFileError, inifile.read, path,
                                'GPU catalog')
        self.assertIsInstance(exc, exception.BadInput)
        self.assertIn(path, str(exc))
        self.assertIn(self.says, str(exc))
        self.assertIn('GPU catalog', str(exc))
        self.assertEqual(1, len(str(exc).splitlines()))


class TestRead(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.root, 'nova.conf')

    def test_file_readable_only_by_root_is_refused_for_others(self):
        unreadable.writing(b'[pci]\nalias = {}\n')(self.path)
        unreadable.open_up(self.root)
        unreadable.forbid(self.path)
        exc = self.assertRaises(inifile.IniFileError, unreadable.as_nobody,
                                inifile.read, self.path, 'nova.conf')
        self.assertIn(f'cannot read {self.path}: Permission denied', str(exc))

    def test_values_keep_their_section_and_line(self):
        unreadable.writing(b'[pci]\n# c\nalias = a\n  continued\n'
                           b'alias = b\r\n[pci]\nalias = c\n')(self.path)
        ini = inifile.read(self.path, 'nova.conf')
        self.assertEqual((('pci', 1), ('pci', 6)), ini.sections)
        self.assertEqual(
            [('pci', 'alias', 'a\ncontinued', 3), ('pci', 'alias', 'b', 5),
             ('pci', 'alias', 'c', 7)],
            [(v.section, v.option, v.value, v.line) for v in ini.values])

    def test_tabs_and_utf8_text_are_fine(self):
        unreadable.writing('[gpu:x]\ndescription =\tQuadro — K4200\n'
                           .encode())(self.path)
        (value,) = inifile.read(self.path, 'GPU catalog').values
        self.assertEqual('Quadro — K4200', value.value)
