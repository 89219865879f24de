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

"""The error contract of ``nova-gpu-ext``, as an operator meets it.

Exit status from the exception class and one line on stderr; the
traceback only with --debug; a closed pipe, a full disk and Ctrl-C end
without a traceback. What needs a real process (pipes, /dev/full,
signals) runs the installed console script.
"""

import importlib.metadata
import logging
import os
import signal
import subprocess
import sys

from nova_gpu_ext.cmd import main
from tests import base as test_base
from tests.unit.admin.cloud import servers
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

FINDING = '[filter_scheduler]\nenabled_filters = ComputeFilter\n'


class TestFramework(test_base.TestCase):

    def test_version(self):
        result = cli.script('--version')
        version = importlib.metadata.version('nova_gpu_ext')
        self.assertEqual((0, f'nova-gpu-ext {version}\n'),
                         (result.returncode, result.stdout))

    def test_help_lists_every_command_of_the_entry_points(self):
        status, out, _ = cli.run('--help')
        listed = {line.split('  ')[1].strip()
                  for line in out.split('Commands:\n')[1].splitlines()}
        declared = {ep.name.replace('_', ' ') for ep in
                    importlib.metadata.entry_points(group=main.NAMESPACE)}
        self.assertEqual(0, status)
        self.assertEqual(declared | {'complete', 'help'}, listed)

    def test_every_command_loads_without_the_optional_extras(self):
        # A base install (and the docs build, which lists every command's
        # options) has neither openstacksdk nor prometheus_client: each
        # command imports them where it uses them.
        script = (
            'import importlib.metadata, sys\n'
            'sys.modules.update(openstack=None, prometheus_client=None)\n'
            'for group in (%r, "openstack.gpu.v1"):\n'
            '    for ep in importlib.metadata.entry_points(group=group):\n'
            '        ep.load()\n'
            '        print(ep.name)\n' % main.NAMESPACE)
        result = subprocess.run([sys.executable, '-c', script],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('lint-flavors', result.stdout.split())

    def test_unknown_command_is_a_usage_error(self):
        status, _, _ = cli.run('frobnicate')
        self.assertEqual(2, status)


class TestErrors(test_base.TestCase):

    def missing_catalog(self, *options):
        return cli.run(*options, 'genconf', '--role', 'compute',
                       '--catalog', '/nonexistent/catalog.conf')

    def test_bad_input_is_one_line_exit_2(self):
        status, out, err = self.missing_catalog()
        self.assertEqual((2, ''), (status, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('/nonexistent/catalog.conf', err)

    def test_debug_adds_the_traceback_and_keeps_the_status(self):
        status, _, err = self.missing_catalog('--debug')
        self.assertEqual(2, status)
        self.assertIn('Traceback (most recent call last)', err)
        self.assertIn('nova_gpu_ext.exception.BadInput', err)

    def test_argparse_errors_exit_2(self):
        status, out, err = cli.run('genconf', '--role', 'sideways',
                                   '--catalog', 'x')
        self.assertEqual((2, ''), (status, out))
        self.assertIn("invalid choice: 'sideways'", err)


class TestOutputFaults(test_base.TestCase):
    """The real console script with its stdout closed, full or signalled."""

    def nova_conf(self):
        return catalog_files.write(self, FINDING, 'nova.conf')

    def test_broken_pipe_ends_quietly_with_141(self):
        proc = subprocess.Popen(
            [cli.SCRIPT, 'lint-conf', '--nova-conf', self.nova_conf(),
             '-f', 'value'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The reader goes away before the first line, as "| head -0" does.
        proc.stdout.close()
        _, err = proc.communicate(timeout=120)
        self.assertEqual(141, proc.returncode, err)
        self.assertNotIn(b'Traceback', err)
        self.assertNotIn(b'Exception ignored', err)

    def test_full_device_is_one_line_exit_2(self):
        catalog = catalog_files.write(self, catalog_files.MINIMAL)
        with open('/dev/full', 'w') as full:
            result = subprocess.run(
                [cli.SCRIPT, 'genconf', '--catalog', catalog, '--role',
                 'compute'], stdout=full, stderr=subprocess.PIPE, text=True,
                timeout=120)
        self.assertEqual(2, result.returncode)
        self.assertEqual('cannot write to standard output: No space left '
                         'on device; nothing more was written (send the '
                         'output where there is room)\n', result.stderr)

    def test_ctrl_c_ends_quietly_with_130(self):
        server = self.useFixture(servers.SilentServer())
        env = dict(os.environ, OS_AUTH_TYPE='none',
                   OS_PLACEMENT_ENDPOINT_OVERRIDE=f'{server.url}/placement',
                   OS_CLIENT_CONFIG_FILE=os.devnull)
        env.pop('OS_CLOUD', None)
        proc = subprocess.Popen(
            [cli.SCRIPT, '--timeout', '100', 'capacity'], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(_kill, proc)
        self.assertTrue(server.accepted.wait(60), 'no request came')
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        self.assertEqual((130, '', ''), (proc.returncode, out, err))


def _kill(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class TestInProcess(test_base.TestCase):
    """A run inside a longer process leaves its logging as it was."""

    def test_handlers_and_level_are_restored_after_the_run(self):
        root = logging.getLogger()
        before = (list(root.handlers), root.level)
        cli.run('lint-conf', '--nova-conf', '/nonexistent/nova.conf')
        self.assertEqual(before, (list(root.handlers), root.level))
