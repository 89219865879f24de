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

"""API and connection failures become one line for the operator."""

import os
import sys
import types
from unittest import mock

import fixtures
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from openstack import connection
from openstack import exceptions as sdk_exc
import requests
import testscenarios

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.cmd import plugin
from nova_gpu_ext import exception
from tests import base as test_base
from tests.unit.admin.cloud import servers


def http_error(status, method='POST', url='http://nova/v2.1/flavors'):
    response = requests.Response()
    response.status_code = status
    response.request = requests.Request(method, url).prepare()
    response.url = url
    return sdk_exc.HttpException(response=response,
                                 details='Policy does\nnot allow it.')


def translated(exc):
    """The nova_gpu_ext exception ``exc`` becomes."""
    try:
        with connect.errors():
            raise exc
    except exception.NovaGpuExtError as error:
        return error
    raise AssertionError('not translated')


def message(exc):
    return str(translated(exc))


class TestHttpErrors(testscenarios.WithScenarios, test_base.TestCase):

    scenarios = [
        ('401', {'status': 401, 'hint': 'credentials were refused',
                 'exit': 2}),
        ('403', {'status': 403, 'hint': 'need the admin role', 'exit': 2}),
        ('404', {'status': 404, 'hint': 'check the endpoints', 'exit': 2}),
        ('409', {'status': 409, 'hint': 'run the command again',
                 'exit': 2}),
        ('503', {'status': 503, 'hint': '', 'exit': 3}),
    ]

    def test_sdk_error_is_one_line_with_a_hint_and_its_status(self):
        error = translated(http_error(self.status))
        text = str(error)
        self.assertEqual(self.exit, error.exit_status)
        self.assertEqual(1, len(text.splitlines()))
        self.assertIn(f'HTTP {self.status} on POST '
                      'http://nova/v2.1/flavors: Policy does not allow it.',
                      text)
        self.assertIn(self.hint, text)


class TestOtherErrors(test_base.TestCase):

    def test_keystone_401(self):
        text = message(ks_exc.Unauthorized(
            details='The request you have made requires authentication.',
            url='http://keystone/v3/auth/tokens', method='POST'))
        self.assertIn('HTTP 401 on POST http://keystone/v3/auth/tokens', text)
        self.assertIn('check the cloud in clouds.yaml', text)

    def test_unknown_cloud_is_the_sdk_message(self):
        error = translated(sdk_exc.ConfigException(
            'Cloud nope was not found.'))
        self.assertEqual(('Cloud nope was not found.', 2),
                         (str(error), error.exit_status))

    def test_missing_auth_says_how_to_authenticate(self):
        text = message(ks_exc.MissingRequiredOptions([]))
        self.assertIn('--os-cloud', text)

    def test_missing_openstacksdk_names_the_extra(self):
        with mock.patch.dict(sys.modules, {'openstack': None}):
            exc = self.assertRaises(exception.BadInput, connect.connect,
                                    None, None, None)
        self.assertIn("pip install 'nova_gpu_ext[cloud]'", str(exc))


class TestTimeouts(test_base.TestCase):
    """Every connection gets a timeout; the operator's choice wins."""

    def setUp(self):
        super().setUp()
        self.clouds = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                   'clouds.yaml')
        with open(self.clouds, 'w') as f:
            f.write('clouds:\n'
                    '  plain: {auth_type: none}\n'
                    '  patient: {auth_type: none, api_timeout: 120}\n')
        self.useFixture(fixtures.EnvironmentVariable('OS_CLIENT_CONFIG_FILE',
                                                     self.clouds))

    def timeout(self, cloud, timeout=None):
        conn = connect.connect(cloud, None, timeout)
        self.addCleanup(conn.close)
        return conn.session.timeout

    def test_default_when_nothing_says_otherwise(self):
        self.assertEqual(connect.DEFAULT_TIMEOUT, self.timeout('plain'))

    def test_api_timeout_of_clouds_yaml(self):
        self.assertEqual(120, self.timeout('patient'))

    def test_option_wins_over_clouds_yaml(self):
        self.assertEqual(5, self.timeout('patient', 5))

    def client_manager(self, session):
        """openstackclient's ClientManager once it has authenticated."""
        return types.SimpleNamespace(
            _cli_options=types.SimpleNamespace(get_auth=object),
            setup_auth=lambda: None,
            sdk_connection=types.SimpleNamespace(session=session))

    def test_openstack_plugin_connection_gets_the_default(self):
        session = ks_session.Session()
        client = plugin.make_client(self.client_manager(session))
        self.assertEqual(connect.DEFAULT_TIMEOUT, client.session.timeout)

    def test_openstack_plugin_keeps_api_timeout(self):
        session = ks_session.Session(timeout=120)
        plugin.make_client(self.client_manager(session))
        self.assertEqual(120, session.timeout)


class TestDeadlineOfTheConnection(test_base.TestCase):
    """A deadline that passed is said for its own connection only."""

    def connection(self, timeout):
        session = ks_session.Session(timeout=timeout)
        connect.bound(session)
        conn = connection.Connection(session=session)
        self.addCleanup(conn.close)
        return conn

    def setUp(self):
        super().setUp()
        self.late = self.connection(0.3)
        self.other = self.connection(30)
        self.silent = self.useFixture(servers.SilentServer())
        self.assertRaises(ks_exc.ConnectTimeout, self.late.session.get,
                          self.silent.url)

    def test_discovery_failure_after_the_deadline_names_it(self):
        # Version discovery keeps no link to the request that timed out.
        error = self.assertRaises(exception.Unreachable, self.fail_with,
                                  self.late, ks_exc.DiscoveryFailure(
                                      'Could not find versioned endpoints'))
        self.assertIn(f'no complete answer from {self.silent.url}/ within '
                      '0.3 s', str(error))

    def test_another_connection_refused_is_not_that_deadline(self):
        refused = servers.refused_url()
        error = self.assertRaises(exception.Unreachable, self.refuse,
                                  refused)
        text = str(error)
        self.assertIn(f'cannot reach {refused}', text)
        self.assertNotIn(self.silent.url, text)

    def fail_with(self, conn, exc):
        with connect.errors(conn):
            raise exc

    def refuse(self, url):
        with connect.errors(self.other):
            self.other.session.get(url)
