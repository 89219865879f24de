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

"""``gpu ...``: bad input and endpoints that fail, one line each.

The functional tests run the commands against the in-process nova and
Placement.
"""

import time

from tests.unit.admin.cloud import servers
from tests.unit.cmd import cli
from tests.unit.cmd import test_flavors_capacity_cli

CliTest = test_flavors_capacity_cli.CliTest
GPU = '0000:81:00.0'


class TestGpuCommands(CliTest):

    def test_silent_placement_times_out_naming_it_exit_3(self):
        server = self.useFixture(servers.SilentServer())
        self.placement_at(server.url)
        for argv in (('gpu', 'list'),
                     ('gpu', 'cordon', 'gpu-a', GPU, '--reason', 'x'),
                     ('gpu', 'release', 'gpu-a', GPU)):
            start = time.monotonic()
            status, out, err = cli.run('--timeout', '0.5', *argv)
            self.assertLess(time.monotonic() - start, 10)
            self.assertOneLine(status, 3, out, err)
            self.assertIn(f'{server.url}/placement', err)

    def test_refused_placement_is_one_line_exit_3(self):
        url = servers.refused_url()
        self.placement_at(url)
        status, out, err = cli.run('gpu', 'uncordon', 'gpu-a', GPU)
        self.assertOneLine(status, 3, out, err)
        self.assertIn(f'cannot reach {url}/placement', err)

    def test_bad_address_is_refused_before_any_call(self):
        self.placement_at(servers.refused_url())
        status, out, err = cli.run('gpu', 'cordon', 'gpu-a', '81:00',
                                   '--reason', 'x')
        self.assertOneLine(status, 2, out, err)
        self.assertIn("ADDRESS '81:00' is not a PCI address", err)

    def test_reason_is_required(self):
        status, out, err = cli.run('gpu', 'cordon', 'gpu-a', GPU)
        self.assertEqual((2, ''), (status, out))
        self.assertIn('--reason', err)
