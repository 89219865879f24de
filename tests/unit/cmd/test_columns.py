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

"""One column style for every command's records: snake_case, declared.

The ``-f json`` keys of a command are its columns: an interface. Every
Lister of ``nova-gpu-ext`` and of ``openstack gpu`` declares every column
it can print (``COLUMNS``), and printing an undeclared one fails.
"""

import importlib.metadata
import io

from nova_gpu_ext.cmd import base
from nova_gpu_ext.cmd import main
from tests import base as test_base

NAMESPACES = ('nova_gpu_ext.cli', 'openstack.gpu.v1')


def commands():
    for namespace in NAMESPACES:
        for entry in importlib.metadata.entry_points(group=namespace):
            yield entry.name, entry.load()


class TestColumns(test_base.TestCase):

    def test_every_lister_declares_snake_case_columns(self):
        listers = {name: cls for name, cls in commands()
                   if issubclass(cls, base.Lister)}
        self.assertGreaterEqual(len(listers), 9)
        for name, cls in listers.items():
            self.assertTrue(cls.COLUMNS, name)
            for column in cls.COLUMNS:
                self.assertRegex(column, base.COLUMN_NAME.pattern + '$',
                                 f'{name}: {column}')

    def test_every_command_is_a_cliff_command_of_ours(self):
        for name, cls in commands():
            self.assertTrue(issubclass(cls, (base.Lister, base.Command)),
                            name)

    def test_a_printed_column_must_be_declared(self):
        class Odd(base.Lister):
            COLUMNS = ('host',)

            def take_action(self, parsed_args):
                return ('host', 'Free GPUs'), [('h1', 1)]
        app = main.NovaGpuExt(stdout=io.StringIO(), stderr=io.StringIO())
        command = Odd(app, None)
        error = self.assertRaises(
            AssertionError, command.run,
            command.get_parser('odd').parse_args([]))
        self.assertIn("'Free GPUs'", str(error))
