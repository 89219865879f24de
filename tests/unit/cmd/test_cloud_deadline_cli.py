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

"""``--timeout`` and ``api_timeout`` are deadlines, through the console script.

Against servers on the loopback that drip one byte every half second
(headers that never end: no read ever times out) or never answer, for
Keystone's token request and for Placement, under ``nova-gpu-ext`` (and
``openstack gpu`` for Placement: openstackclient asks for the token
itself, before our command runs): the command ends within its start-up
(the same command against a refused port), the deadline and
:data:`SLACK` seconds, exit status 3, one line naming the URL, no
password.
"""

import os
import subprocess
import sys
import time

import fixtures
import testscenarios

from tests import base as test_base
from tests.unit.admin.cloud import servers
from tests.unit.cmd import cli

DEADLINE = 3
# The last error's way out, beyond start-up and the deadline: about a
# second on a quiet machine, up to two more on a loaded test machine.
SLACK = 3
# Where a per-read timeout would still be waiting.
LIMIT = 30
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
PASSWORD = 'S3cret'


def keystone_cloud(url):
    return ('clouds:\n  slow:\n'
            f'    api_timeout: {DEADLINE}\n'
            '    auth:\n'
            f'      auth_url: {url}/v3\n'
            '      username: admin\n'
            f'      password: {PASSWORD}\n'
            '      project_name: admin\n'
            '      user_domain_name: Default\n'
            '      project_domain_name: Default\n')


def placement_cloud(url):
    return ('clouds:\n  slow:\n    auth_type: none\n'
            f'    api_timeout: {DEADLINE}\n'
            f'    placement_endpoint_override: {url}/placement\n'
            f'    compute_endpoint_override: {url}/compute\n')


class TestDeadline(testscenarios.WithScenarios, test_base.TestCase):
    """Given a server that never finishes an answer, the command ends."""

    scenarios = testscenarios.multiply_scenarios(
        [('dripping', {'server': servers.DrippingServer}),
         ('silent', {'server': servers.SilentServer})],
        [('keystone', {'cloud': keystone_cloud, 'path': '/v3',
                       'argv': (cli.SCRIPT, '--os-cloud', 'slow')}),
         ('placement', {'cloud': placement_cloud, 'path': '/placement',
                        'argv': (cli.SCRIPT, '--os-cloud', 'slow')}),
         ('placement, openstack gpu', {
             'cloud': placement_cloud, 'path': '/placement',
             'argv': (OPENSTACK, '--os-cloud', 'slow', 'gpu')})])

    def test_ends_within_the_deadline_exit_3_naming_the_url(self):
        clouds = self.useFixture(cli.Clouds())
        self.useFixture(fixtures.EnvironmentVariable('OS_CLOUD'))
        clouds.write(self.cloud(servers.refused_url()))
        _, start_up = self.run_command('capacity')
        server = self.useFixture(self.server())
        clouds.write(self.cloud(server.url))
        result, took = self.run_command('capacity')
        self.assertLess(took, start_up + DEADLINE + SLACK, result.stderr)
        self.assertTrue(server.accepted.is_set())
        # openstackclient ends every failed command with status 1.
        status = 3 if self.argv[0] == cli.SCRIPT else 1
        cli.assert_one_line(self, result, status, hides=[PASSWORD],
                            says=[f'{server.url}{self.path}',
                                  f'within {DEADLINE} s'])

    def run_command(self, *argv):
        start = time.monotonic()
        try:
            result = subprocess.run([*self.argv, *argv], capture_output=True,
                                    text=True, timeout=LIMIT)
        except subprocess.TimeoutExpired as exc:
            result = subprocess.CompletedProcess(exc.cmd, None, '', '')
        return result, time.monotonic() - start


class TestTimeoutOption(test_base.TestCase):

    def test_timeout_option_is_the_deadline(self):
        clouds = self.useFixture(cli.Clouds())
        clouds.write(placement_cloud(servers.refused_url()))
        _, start_up = cli.timed_script('--os-cloud', 'slow', 'capacity',
                                       limit=LIMIT)
        server = self.useFixture(servers.DrippingServer())
        clouds.write(placement_cloud(server.url))
        result, took = cli.timed_script('--os-cloud', 'slow', '--timeout',
                                        '1', 'capacity', limit=LIMIT)
        self.assertLess(took, start_up + 1 + SLACK)
        cli.assert_one_line(self, result, 3, says=[
            f'no complete answer from {server.url}/placement', 'within 1 s'])
