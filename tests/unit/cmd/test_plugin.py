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

"""``openstack gpu``: the plugin as openstackclient loads it.

The functional tests run its commands against nova and Placement; here,
what openstackclient itself decides: that it finds the commands, and
that a cloud that does not answer ends in one line within the cloud's
``api_timeout``.
"""

import json
import time

from tests import base as test_base
from tests.unit.admin.audit import nova_db
from tests.unit.admin.cloud import servers
from tests.unit.admin.fleet import fleetdb
from tests.unit.cmd import cli


class TestPlugin(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.clouds_yaml = self.useFixture(cli.Clouds()).write

    def test_openstack_lists_the_gpu_commands(self):
        status, out, _ = cli.openstack('help', 'gpu')
        self.assertEqual(0, status)
        self.assertIn('gpu capacity', out)
        self.assertIn('gpu flavor sync', out)
        for words in ('gpu cordon', 'gpu uncordon', 'gpu release',
                      'gpu list'):
            self.assertIn(words, out)

    def test_command_help_shows_the_shared_options(self):
        status, out, _ = cli.openstack('help', 'gpu', 'flavor', 'sync')
        self.assertEqual(0, status)
        for option in ('--catalog FILE', '--dry-run', '--prune',
                       '-f {csv,json,table,value,yaml}'):
            self.assertIn(option, out)

    def test_capacity_from_a_cell_database_needs_no_credentials(self):
        # No clouds.yaml entry, no OS_AUTH_URL: the database is enough.
        db = self.useFixture(nova_db.Database('sqlite'))
        fleetdb.FleetCell(db.engine).gpu_host('gpu-v100', [
            fleetdb.device('0000:81:00.0', fleetdb.V100, 0)])
        status, out, err = cli.openstack('gpu', 'capacity', '--connection',
                                         db.url, '-f', 'json')
        self.assertEqual(0, status, err)
        self.assertEqual([('gpu-v100', 1)], [
            (row['host'], row['free']) for row in json.loads(out)])

    def test_capacity_from_placement_still_needs_credentials(self):
        status, out, err = cli.openstack('gpu', 'capacity')
        self.assertNotEqual(0, status)
        self.assertIn('auth', err.lower())

    def test_silent_placement_is_one_line_within_api_timeout(self):
        server = self.useFixture(servers.SilentServer())
        self.clouds_yaml(server.clouds_yaml())
        start = time.monotonic()
        status, out, err = cli.openstack('--os-cloud', 'silent', 'gpu',
                                         'capacity')
        self.assertLess(time.monotonic() - start, 10)
        self.assertTrue(server.accepted.is_set())
        self.assertEqual((1, ''), (status, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(f'no complete answer from {server.url}/placement '
                      'within 0.5 s', err)
