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

"""The serving exporter: stops at once on a signal, says what it serves.

Its first refresh waits on a MySQL server that accepts the connection and
never says a word (the driver would wait for its greeting until the read
timeout); the signal must end the process within :data:`STOP` seconds
anyway, with status 0 and the listening port closed. A first refresh that
fails says there is no snapshot to serve yet.
"""

import re
import signal
import socket
import subprocess
import threading
import time

import testscenarios

from tests import base as test_base
from tests.unit.admin.cloud import servers
from tests.unit.cmd import cli

# systemd waits 90 s before it kills; an operator restarting waits too.
STOP = 2
PATIENCE = 60


class ExporterTest(test_base.TestCase):

    def start(self, url):
        process = subprocess.Popen(
            [cli.SCRIPT, 'exporter', '--listen', '127.0.0.1:0',
             '--connection', url, '--db-timeout', '600'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(process.wait, PATIENCE)
        self.addCleanup(process.kill)
        started = threading.Event()
        lines = []

        def read():
            for line in process.stderr:
                lines.append(line)
                started.set()
        threading.Thread(target=read, daemon=True).start()
        self.assertTrue(started.wait(PATIENCE), 'the exporter did not start')
        return process, lines


class TestFirstRefresh(ExporterTest):

    def test_first_failure_says_nothing_is_served_yet(self):
        process, lines = self.start(
            f'mysql+pymysql://nova:S3cret@{servers.refused_url()[7:]}/nova')
        deadline = time.monotonic() + PATIENCE
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        process.terminate()
        self.assertIn('snapshot failed, no snapshot to serve yet (only the '
                      'error counter): cannot use the database', lines[1])
        self.assertNotIn('S3cret', ''.join(lines))


class TestStop(testscenarios.WithScenarios, ExporterTest):

    scenarios = [('SIGTERM', {'signal': signal.SIGTERM}),
                 ('SIGINT', {'signal': signal.SIGINT})]

    def test_stops_within_2_s_while_a_refresh_hangs(self):
        silent = self.useFixture(servers.SilentServer())
        port = silent.url.rsplit(':', 1)[1]
        process, lines = self.start(
            f'mysql+pymysql://nova:S3cret@127.0.0.1:{port}/nova')
        self.assertTrue(silent.accepted.wait(PATIENCE))
        metrics_port = int(re.search(r'127\.0\.0\.1:(\d+)/metrics',
                                     lines[0]).group(1))
        time.sleep(0.5)  # the refresh is now waiting for the greeting
        self.assertIsNone(process.poll())

        start = time.monotonic()
        process.send_signal(self.signal)
        status = process.wait(PATIENCE)
        self.assertLess(time.monotonic() - start, STOP)
        self.assertEqual(0, status, ''.join(lines))
        with socket.socket() as probe:
            self.assertNotEqual(0, probe.connect_ex(('127.0.0.1',
                                                     metrics_port)))
        self.assertNotIn('S3cret', ''.join(lines))
