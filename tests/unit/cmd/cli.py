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

"""Running ``nova-gpu-ext`` in the test process, or as the console script."""

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import time

import fixtures

from nova_gpu_ext.cmd import main
from nova_gpu_ext.cmd import plugin

# The console script of the installed package (tox installs it into the
# environment the tests run in).
SCRIPT = os.path.join(os.path.dirname(sys.executable), 'nova-gpu-ext')


def run(*argv):
    """(exit status, stdout, stderr) of ``nova-gpu-ext ARGV``, in process.

    argparse writes its usage errors to sys.stderr itself: that goes to
    the same buffer.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main.NovaGpuExt(stdout=out, stderr=err).run(list(argv))
    return status, out.getvalue(), err.getvalue()


def records(*argv):
    """(exit status, records as dicts, stderr) of a command run with -f json.

    cliff prints nothing at all when a command fails, so the records are
    then None.
    """
    status, out, err = run(*argv, '-f', 'json')
    return status, (json.loads(out) if out else None), err


def openstack(*argv):
    """(exit status, stdout, stderr) of ``openstack ARGV``, in process.

    openstackclient's shell takes sys.stdout and sys.stderr when it
    starts, leaves its log handlers behind, and keeps a plugin's client on
    its ClientManager class for the life of the process (one command per
    process in real use, many in a test run): all three are put back.
    """
    from openstackclient import shell
    from osc_lib import clientmanager
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = shell.main(list(argv))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        vars(clientmanager.ClientManager)[plugin.API_NAME]._handle = None
    return status, out.getvalue(), err.getvalue()


def script(*argv, timeout=120, **kwargs):
    """The console script in a subprocess, for what needs a real process."""
    return subprocess.run([SCRIPT, *argv], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


class Clouds(fixtures.Fixture):
    """A clouds.yaml of the test's, and no OS_* variable of the machine's.

    The OS_*_CAPTURE and OS_DEBUG variables of the test runner stay.
    """

    def __init__(self, text='clouds: {}\n'):
        super().__init__()
        self.text = text

    def _setUp(self):
        for name in [n for n in os.environ if n.startswith('OS_')
                     and not n.endswith('_CAPTURE') and n != 'OS_DEBUG']:
            self.useFixture(fixtures.EnvironmentVariable(name))
        self.write(self.text)

    def write(self, text):
        """Make ``text`` the clouds.yaml openstacksdk reads; its path."""
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'clouds.yaml')
        with open(path, 'w') as f:
            f.write(text)
        self.useFixture(fixtures.EnvironmentVariable('OS_CLIENT_CONFIG_FILE',
                                                     path))
        return path


def timed_script(*argv, limit, **kwargs):
    """(completed process, seconds taken) of the console script.

    A script still running after ``limit`` seconds is killed and the
    time taken is then over ``limit``: the caller's assertion fails, not
    the test runner's timeout.
    """
    start = time.monotonic()
    try:
        result = script(*argv, timeout=limit, **kwargs)
    except subprocess.TimeoutExpired as exc:
        result = subprocess.CompletedProcess(exc.cmd, None, exc.stdout,
                                             exc.stderr)
    return result, time.monotonic() - start


def assert_one_line(test, result, status, *, says=(), hides=()):
    """The console script's ``result`` is ``status`` and one error line.

    Nothing on stdout, no traceback, each of ``says`` in the line and
    none of ``hides`` (a password) anywhere in the output.
    """
    test.assertEqual((status, ''), (result.returncode, result.stdout),
                     result.stderr)
    test.assertEqual(1, len(result.stderr.splitlines()), result.stderr)
    test.assertNotIn('Traceback', result.stderr)
    for text in says:
        test.assertIn(text, result.stderr)
    for text in hides:
        test.assertNotIn(text, result.stdout + result.stderr)
