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

"""The examples of doc/source/pcie-switches.rst, run as printed.

Each literal block that starts with ``$ nova-gpu-ext`` is run on the
synthetic server the page describes (two switches of four L40S, a NIC on
each), with ``--root`` added where the command reads the host; what it
prints (stderr first, as a terminal shows it) must be the block.
"""

import os
import re
import shlex
import textwrap

from tests import base as test_base

from tests.unit.cmd import cli
from tests.unit.common import catalog_files
from tests.unit.host import sysfs_tree

DOC = os.path.join(test_base.DOC, 'pcie-switches.rst')
CATALOG = '/etc/nova/nova-gpu-ext.conf'
NOVA_CONF = '/etc/nova/nova.conf'
L40S = """
[nova_gpu_ext]
gpu_models = l40s
[gpu:l40s]
vendor_id = 10de
product_id = 26b9
device_type = type-PF
"""


def documented_examples():
    """(command line, expected output) of each command block."""
    with open(DOC, encoding='utf-8') as f:
        blocks = re.findall(r'\n::\n\n((?:    .*\n|\n)+)', f.read())
    examples = []
    for block in blocks:
        command, _, output = textwrap.dedent(block).strip('\n').partition(
            '\n')
        if command.startswith('$ nova-gpu-ext '):
            examples.append((command[2:], output + '\n'))
    return examples


class TestDocumentedExamples(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        sysfs_tree.switch_server(self.tree, 2, 4, nics=1)
        self.paths = {CATALOG: catalog_files.write(self, L40S)}
        _, plain, _ = cli.run('genconf', '--role', 'compute', '--catalog',
                              self.paths[CATALOG])
        self.paths[NOVA_CONF] = catalog_files.write(self, plain, 'nova.conf')

    def run_documented(self, command):
        argv = [self.paths.get(word, word)
                for word in shlex.split(command)[1:]]
        if argv[0] == 'discover' or '--topology' in argv:
            argv += ['--root', self.tree.root]
        rc, out, err = cli.run(*argv)
        text = err + out
        for documented, path in self.paths.items():
            text = text.replace(path, documented)
        return rc, text.replace(f'under {self.tree.root};', 'under /;')

    def test_every_example_prints_what_the_page_shows(self):
        examples = documented_examples()
        self.assertEqual(['discover', 'genconf', 'lint-conf'],
                         [shlex.split(c)[1] for c, _ in examples])
        for command, expected in examples:
            rc, printed = self.run_documented(command)
            self.assertIn(rc, (0, 1), printed)
            self.assertEqual(expected, printed, command)
