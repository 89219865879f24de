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

"""``flavor sync`` and ``capacity``: exit statuses and one-line errors.

Against no cloud, a refusing port and a server that never answers; the
functional tests run both against the in-process nova and Placement.
"""

import time
from unittest import mock

import fixtures

from tests import base as test_base
from tests.unit.admin.cloud import servers
from tests.unit.cmd import cli
from tests.unit.common import catalog_files


class CliTest(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.clouds_yaml = self.useFixture(cli.Clouds()).write

    def environ(self, **values):
        for name, value in values.items():
            self.useFixture(fixtures.EnvironmentVariable(name, value))

    def placement_at(self, url):
        """Placement and the compute API at ``url``, without keystone."""
        self.environ(OS_AUTH_TYPE='none',
                     OS_PLACEMENT_ENDPOINT_OVERRIDE=f'{url}/placement',
                     OS_PLACEMENT_API_VERSION='1',
                     OS_COMPUTE_ENDPOINT_OVERRIDE=f'{url}/compute')

    def keystone_at(self, url):
        self.environ(OS_AUTH_URL=f'{url}/v3', OS_USERNAME='admin',
                     OS_PASSWORD='s3cret', OS_PROJECT_NAME='admin',
                     OS_USER_DOMAIN_NAME='Default',
                     OS_PROJECT_DOMAIN_NAME='Default')

    def catalog(self, text=catalog_files.MINIMAL + 'flavor_counts = 1\n'):
        return catalog_files.write(self, text)

    def assertOneLine(self, status, expected_status, out, err):
        self.assertEqual((expected_status, ''), (status, out), err)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertNotIn('Traceback', err)


class TestFlavorSync(CliTest):

    def test_bad_catalog_is_bad_input(self):
        status, out, err = cli.run('flavor', 'sync', '--catalog', self.catalog(
            catalog_files.MINIMAL + 'flavor_counts = none\n'))
        self.assertOneLine(status, 2, out, err)
        self.assertIn('[gpu:k4200] flavor_counts = none', err)

    def test_catalog_without_models_is_bad_input(self):
        status, out, err = cli.run('flavor', 'sync', '--catalog',
                                   self.catalog(''))
        self.assertOneLine(status, 2, out, err)
        self.assertIn('lists no GPU models', err)

    def test_catalog_is_required(self):
        status, out, err = cli.run('flavor', 'sync')
        self.assertEqual((2, ''), (status, out))
        self.assertIn('--catalog', err)

    def test_unknown_cloud_is_bad_input(self):
        status, out, err = cli.run('--os-cloud', 'nope', 'flavor', 'sync',
                                   '--catalog', self.catalog())
        self.assertOneLine(status, 2, out, err)
        self.assertEqual('Cloud nope was not found.\n', err)


class TestCloudFaults(CliTest):
    """Each fault: one line naming the endpoint, the status of its class."""

    def test_refused_keystone_is_one_short_line_exit_3(self):
        url = servers.refused_url()
        self.keystone_at(url)
        status, out, err = cli.run('capacity')
        self.assertOneLine(status, 3, out, err)
        self.assertTrue(err.startswith(
            f'cannot reach {url}/v3/auth/tokens: Connection refused;'), err)
        self.assertLess(len(err), 200, err)

    def test_refused_placement_is_one_line_exit_3(self):
        url = servers.refused_url()
        self.placement_at(url)
        status, out, err = cli.run('capacity')
        self.assertOneLine(status, 3, out, err)
        self.assertIn(f'cannot reach {url}/placement', err)

    def test_silent_keystone_times_out_naming_it(self):
        server = self.useFixture(servers.SilentServer())
        self.keystone_at(server.url)
        start = time.monotonic()
        status, out, err = cli.run('--timeout', '0.5', 'capacity')
        self.assertLess(time.monotonic() - start, 10)
        self.assertOneLine(status, 3, out, err)
        self.assertIn(f'no complete answer from {server.url}/v3/auth/tokens '
                      'within 0.5 s', err)
        self.assertIn('--timeout', err)

    def test_silent_placement_times_out_naming_it(self):
        server = self.useFixture(servers.SilentServer())
        self.placement_at(server.url)
        start = time.monotonic()
        status, out, err = cli.run('--timeout', '0.5', 'flavor', 'sync',
                                   '--catalog', self.catalog())
        self.assertLess(time.monotonic() - start, 10)
        self.assertTrue(server.accepted.is_set())
        self.assertOneLine(status, 3, out, err)
        self.assertIn(f'{server.url}/compute', err)

    def test_api_timeout_of_clouds_yaml_is_used(self):
        server = self.useFixture(servers.SilentServer())
        self.clouds_yaml(server.clouds_yaml())
        start = time.monotonic()
        status, out, err = cli.run('--os-cloud', 'silent', 'capacity')
        self.assertLess(time.monotonic() - start, 10)
        self.assertOneLine(status, 3, out, err)

    def test_auth_that_is_not_a_mapping_names_file_and_key(self):
        path = self.clouds_yaml(
            'clouds:\n  mine:\n    auth: http://keystone:5000/v3\n')
        status, out, err = cli.run('--os-cloud', 'mine', 'capacity')
        self.assertOneLine(status, 2, out, err)
        self.assertIn(f'{path}: clouds.mine.auth is a str, not a mapping',
                      err)

    def test_cloud_that_is_not_a_mapping_names_file_and_key(self):
        path = self.clouds_yaml('clouds:\n  mine: [a, b]\n')
        status, out, err = cli.run('--os-cloud', 'mine', 'capacity')
        self.assertOneLine(status, 2, out, err)
        self.assertIn(f'{path}: clouds.mine is a list', err)

    def test_bad_timeout_is_a_usage_error(self):
        for value in ('0', '-1', 'soon', 'nan', 'inf', '٣'):
            status, out, err = cli.run('--timeout', value, 'capacity')
            self.assertEqual((2, ''), (status, out), value)
            self.assertIn('not a number of seconds above 0', err)


class TestWithoutOpenstacksdk(CliTest):

    def test_missing_sdk_is_one_line_naming_the_extra(self):
        with mock.patch.dict('sys.modules', {'openstack': None}):
            status, out, err = cli.run('capacity')
        self.assertOneLine(status, 2, out, err)
        self.assertIn("pip install 'nova_gpu_ext[cloud]'", err)
