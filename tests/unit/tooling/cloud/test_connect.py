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

import argparse
import sys
from unittest import mock

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
import requests
import testscenarios
import testtools

from nova_gpu_ext.tooling.cloud import connect


def http_error(status, method='POST', url='http://nova/v2.1/flavors'):
    response = requests.Response()
    response.status_code = status
    response.request = requests.Request(method, url).prepare()
    response.url = url
    return sdk_exc.HttpException(response=response,
                                 details='Policy does\nnot allow it.')


def message(exc):
    """The CloudError text ``exc`` becomes."""
    try:
        with connect.errors():
            raise exc
    except connect.CloudError as error:
        return str(error)
    raise AssertionError('no CloudError')


class TestHttpErrors(testscenarios.WithScenarios, testtools.TestCase):

    scenarios = [
        ('401', {'status': 401, 'hint': 'credentials were refused'}),
        ('403', {'status': 403, 'hint': 'need the admin role'}),
        ('404', {'status': 404, 'hint': 'check the endpoints'}),
        ('409', {'status': 409, 'hint': 'run the command again'}),
    ]

    def test_sdk_error_is_one_line_with_a_hint(self):
        text = message(http_error(self.status))
        self.assertEqual(1, len(text.splitlines()))
        self.assertIn(f'HTTP {self.status} on POST '
                      'http://nova/v2.1/flavors: Policy does not allow it.',
                      text)
        self.assertIn(self.hint, text)


class TestOtherErrors(testtools.TestCase):

    def test_keystone_401(self):
        text = message(ks_exc.Unauthorized(
            details='The request you have made requires authentication.',
            url='http://keystone/v3/auth/tokens', method='POST'))
        self.assertIn('HTTP 401 on POST http://keystone/v3/auth/tokens', text)
        self.assertIn('check the cloud in clouds.yaml', text)

    def test_unknown_cloud_is_the_sdk_message(self):
        text = message(sdk_exc.ConfigException(
            'Cloud nope was not found.'))
        self.assertEqual('Cloud nope was not found.', text)

    def test_missing_auth_says_how_to_authenticate(self):
        text = message(ks_exc.MissingRequiredOptions([]))
        self.assertIn('--os-cloud', text)

    def test_missing_openstacksdk_names_the_extra(self):
        args = argparse.Namespace(os_cloud=None, os_region_name=None)
        with mock.patch.dict(sys.modules, {'openstack': None}):
            exc = self.assertRaises(connect.CloudError, connect.connect, args)
        self.assertIn("pip install 'nova_gpu_ext[cloud]'", str(exc))
