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

"""The parts of tools/devcloud that run without a cloud.

The devcloud itself (tools/ci-devcloud) runs nova's services; here, the
identity filter nova-api's pipeline gets in place of Keystone, the
Glance and Neutron stand-ins, which targets a load's numbers miss, and
how long a load waits for nova to free a deleted server's PCI rows.
"""

import json
import os
import sys
import time

import webob

from tests import base as test_base

sys.path.append(os.path.join(test_base.ROOT, 'tools', 'devcloud.d'))
import load  # noqa: E402,I100
import noauth  # noqa: E402
import stubs  # noqa: E402


def echo_identity(environ, start_response):
    """An application that answers with the identity headers it got."""
    body = json.dumps({key: environ.get(f'HTTP_X_{key.upper()}')
                       for key in ('user_id', 'project_id', 'roles')})
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body.encode()]


def call(app, path, **headers):
    request = webob.Request.blank(path, headers=headers,
                                  environ={'HTTP_HOST': '127.0.0.1:1'})
    return request.get_response(app)


class TestNoAuth(test_base.TestCase):

    def test_token_becomes_the_identity_keystone_would_give(self):
        app = noauth.filter_factory({})(echo_identity)
        response = call(app, '/v2.1/servers', **{'X-Auth-Token': 'bob:p1'})
        self.assertEqual({'user_id': 'bob', 'project_id': 'p1',
                          'roles': 'member,reader'}, response.json)

    def test_admin_gets_the_admin_role(self):
        app = noauth.filter_factory({})(echo_identity)
        response = call(app, '/', **{'X-Auth-Token': 'admin:admin'})
        self.assertEqual('admin,member,reader', response.json['roles'])

    def test_no_token_is_refused(self):
        app = noauth.filter_factory({})(echo_identity)
        self.assertEqual(401, call(app, '/v2.1/servers').status_int)


class TestStubs(test_base.TestCase):

    def test_the_one_image_and_its_schema(self):
        image = call(stubs.app, f'/image/v2/images/{stubs.IMAGE_ID}')
        self.assertEqual(('active', load.IMAGE),
                         (image.json['status'], image.json['id']))
        schema = call(stubs.app, '/image/v2/schemas/image').json
        self.assertLessEqual(set(stubs.IMAGE), set(schema['properties']))
        self.assertEqual(404, call(stubs.app, '/image/v2/images/x').status_int)

    def test_neutron_has_no_ports(self):
        ports = call(stubs.app, '/network/v2.0/ports?device_id=x')
        self.assertEqual({'ports': []}, ports.json)

    def test_version_documents_point_below_the_prefix(self):
        versions = call(stubs.app, '/network/').json['versions']
        self.assertEqual('http://127.0.0.1:1/network/v2.0/',
                         versions[0]['links'][0]['href'])


class TestTargets(test_base.TestCase):

    RESULT = {'stuck_build': 0, 'not_deleted': 0, 'create_failed': 0,
              'pci_rows_leaked_after_delete': 0, 'mixed_models': 2,
              'numa_splits_single': 1, 'faults_not_injected': []}

    def test_ours_is_held_to_one_model_and_one_node(self):
        result = dict(self.RESULT, scheduler='ours+placement')
        self.assertEqual(['mixed_models', 'numa_splits_single'],
                         load.failures(result))

    def test_in_tree_is_measured_not_held_to_them(self):
        result = dict(self.RESULT, scheduler='in-tree',
                      pci_rows_leaked_after_delete=3)
        self.assertEqual(['pci_rows_leaked_after_delete'],
                         load.failures(result))


class TestSettle(test_base.TestCase):
    """Rows nova frees at its next resource periodic are not a leak."""

    def counts(self, *values):
        left = list(values)
        return lambda: left.pop(0) if len(left) > 1 else left[0]

    def test_rows_freed_by_the_periodic_are_held_not_leaked(self):
        self.assertEqual({'pci_rows_held_after_delete': 2,
                          'pci_rows_leaked_after_delete': 0},
                         load.settle(self.counts(2, 2, 1, 0), seconds=5,
                                     poll=0.01))

    def test_rows_still_held_after_the_wait_are_leaked(self):
        start = time.monotonic()
        found = load.settle(self.counts(3, 1), seconds=0.2, poll=0.01)
        self.assertEqual({'pci_rows_held_after_delete': 3,
                          'pci_rows_leaked_after_delete': 1}, found)
        self.assertLess(time.monotonic() - start, 2)

    def test_no_row_held_means_no_wait(self):
        start = time.monotonic()
        self.assertEqual(0, load.settle(
            self.counts(0), seconds=60)['pci_rows_leaked_after_delete'])
        self.assertLess(time.monotonic() - start, 1)

    def test_the_wait_covers_two_resource_periodics(self):
        self.assertGreater(load.SETTLE_S, 2 * load.RESOURCE_PERIODIC_S)
