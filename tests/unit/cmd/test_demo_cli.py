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

"""The demo command: the report on stdout, bad options in one line."""
import os

import fixtures

from tests import base as test_base
from tests.unit.cmd import cli


class TestDemoCommand(test_base.TestCase):

    def test_objects_engine_prints_the_report_and_nothing_else(self):
        rc, out, err = cli.run('demo', '--engine', 'objects')
        self.assertEqual((0, ''), (rc, err))
        self.assertIn('\nWhere each server landed\n', out)
        self.assertIn('\nGPU slots at the end\n', out)

    def test_placement_needs_the_cloud_engine(self):
        rc, out, err = cli.run('demo', '--engine', 'objects', '--placement')
        self.assertEqual((2, ''), (rc, out))
        self.assertEqual('--placement needs --engine cloud\n', err)

    def test_keep_needs_the_cloud_engine(self):
        folder = self.useFixture(fixtures.TempDir()).path
        rc, out, err = cli.run('demo', '--engine', 'objects', '--keep',
                               folder)
        self.assertEqual((2, ''), (rc, out))
        self.assertEqual('--keep needs --engine cloud (the objects engine '
                         'has no database)\n', err)

    def test_keep_refuses_a_folder_that_is_not_empty(self):
        folder = self.useFixture(fixtures.TempDir()).path
        open(os.path.join(folder, 'cell1.sqlite'), 'w').close()
        rc, out, err = cli.run('demo', '--keep', folder)
        self.assertEqual((2, ''), (rc, out))
        self.assertEqual(f'--keep {folder}: not empty; give a new or empty '
                         f'directory\n', err)
