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

"""``nova-gpu-ext``: the cliff application over our command classes.

The commands are the classes of the ``nova_gpu_ext.cli`` entry points; the
cloud ones are also ``openstack gpu`` commands (:mod:`.plugin`). This is
the one place where the error contract of :mod:`nova_gpu_ext.exception`
is applied: the failing command's error is one line on stderr (cliff's
``--debug`` adds the traceback) and its class gives the exit status. A
closed pipe and Ctrl-C end quietly with 141 and 130; output that cannot
be written is one line and status 2.
"""

import argparse
import importlib.metadata
import logging
import os
import sys

from cliff import app
from cliff import commandmanager

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.common import values
from nova_gpu_ext import exception

NAMESPACE = 'nova_gpu_ext.cli'

# cliff's verbosity (-q 0, default 1, -v 2, -vv 3) -> console log level.
# The default shows errors only: a library's warning before the error
# line (keystoneauth's "Failed to discover...") would make it two lines.
_CONSOLE_LEVELS = {0: logging.ERROR, 1: logging.ERROR, 2: logging.INFO}


class NovaGpuExt(app.App):
    """GPU passthrough tooling for OpenStack Nova."""

    NAME = 'nova-gpu-ext'

    def __init__(self, stdout=None, stderr=None):
        super().__init__(
            description='GPU passthrough tooling for OpenStack Nova.',
            version=importlib.metadata.version('nova_gpu_ext'),
            command_manager=commandmanager.CommandManager(NAMESPACE),
            stdout=Output(stdout or sys.stdout),
            stderr=stderr,
            deferred_help=True)
        self.client_manager = None
        self.error = None
        self._handlers = []

    def build_option_parser(self, description, version,
                            argparse_kwargs=None):
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        cloud = parser.add_argument_group(
            'cloud (flavor sync, capacity)',
            'authentication and endpoints come from clouds.yaml or the '
            'OS_* variables, as openstacksdk reads them; "openstack gpu" '
            'offers the same commands with every openstackclient option')
        cloud.add_argument(
            '--os-cloud', metavar='NAME', default=os.environ.get('OS_CLOUD'),
            help='cloud name in clouds.yaml (default: $OS_CLOUD; without it '
                 'the OS_* variables)')
        cloud.add_argument(
            '--os-region-name', metavar='REGION',
            default=os.environ.get('OS_REGION_NAME'),
            help='region (default: $OS_REGION_NAME, else that of the cloud)')
        cloud.add_argument(
            '--timeout', metavar='SECONDS', type=_seconds,
            help='how long the command may talk to the cloud, all its '
                 'requests together, token included (default: api_timeout '
                 f'of the cloud, else {connect.DEFAULT_TIMEOUT})')
        return parser

    def configure_logging(self):
        console = logging.StreamHandler(self.stderr)
        console.setLevel(_CONSOLE_LEVELS.get(self.options.verbose_level,
                                             logging.DEBUG))
        console.setFormatter(logging.Formatter(self.CONSOLE_MESSAGE_FORMAT))
        self._handlers.append(console)
        if self.options.log_file:
            log_file = logging.FileHandler(self.options.log_file)
            log_file.setFormatter(
                logging.Formatter(self.LOG_FILE_MESSAGE_FORMAT))
            self._handlers.append(log_file)
        root = logging.getLogger()
        root.setLevel(logging.DEBUG)
        for handler in self._handlers:
            root.addHandler(handler)

    def initialize_app(self, argv):
        self.client_manager = ClientManager(self.options)

    def clean_up(self, cmd, result, err):
        self.error = err
        if self.client_manager is not None:
            self.client_manager.close()

    def run(self, argv):
        """cliff's run, with our exit statuses and a final flush.

        Output still in the buffer is written here, so that a full disk
        is reported while we can still say so.
        """
        self.error = None
        level = logging.getLogger().level
        try:
            status = super().run(argv)
            if not self.stdout.failed:
                self.stdout.flush()
        except SystemExit as exc:
            # argparse's usage errors (2), --help and --version (0): the
            # statuses sys.exit would give.
            status = (0 if exc.code is None else exc.code
                      if isinstance(exc.code, int) else 1)
        except BrokenPipeError:
            status = exception.EXIT_BROKEN_PIPE
        except exception.OutputFailed as exc:
            # The command's own error, if any, is the one that counts.
            if self.error is None:
                self.error = exc
                self.stderr.write(f'{exc}\n')
        finally:
            root = logging.getLogger()
            for handler in self._handlers:
                root.removeHandler(handler)
            self._handlers = []
            root.setLevel(level)
        if isinstance(self.error, exception.NovaGpuExtError):
            return self.error.exit_status
        return status


class ClientManager:
    """What openstackclient's client manager gives a cloud command.

    ``gpu`` is the attribute our ``openstack gpu`` plugin adds to
    openstackclient's; commands read it in both applications, through
    :func:`~nova_gpu_ext.admin.cloud.connect.opened`. The connection is
    made on first use, so host commands never need openstacksdk.
    """

    def __init__(self, options):
        self._options = options
        self._connection = None

    @property
    def gpu(self):
        if self._connection is None:
            self._connection = connect.connect(
                self._options.os_cloud, self._options.os_region_name,
                self._options.timeout)
        return self._connection

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Output:
    """Standard output whose write failures are one clear error.

    A full disk (``> /dev/full``) or a closed file raises
    :class:`~nova_gpu_ext.exception.OutputFailed`; a closed pipe stays a
    ``BrokenPipeError``, which cliff ends quietly. ``failed`` says that
    either happened: what is left in the buffer can never be written.
    """

    def __init__(self, stream):
        self._stream = stream
        self.failed = False

    def write(self, text):
        return self._guarded(self._stream.write, text)

    def flush(self):
        return self._guarded(self._stream.flush)

    def _guarded(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            self.failed = True
            raise
        except (OSError, ValueError) as exc:
            self.failed = True
            raise _output_failed(exc) from exc

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _output_failed(exc):
    reason = getattr(exc, 'strerror', None) or str(exc)
    return exception.OutputFailed(
        f'cannot write to standard output: {reason}; nothing more was '
        'written (send the output where there is room)')


def _seconds(text):
    """``--timeout``: parsed with the app's options, so a usage error."""
    try:
        return values.seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv=None):
    """The console script: run the app, and leave a failed stdout quiet.

    After a broken pipe or a write error Python would flush stdout once
    more at exit and print a second error; pointing the descriptor at
    /dev/null first prevents that.
    """
    application = NovaGpuExt()
    status = application.run(sys.argv[1:] if argv is None else argv)
    if application.stdout.failed:
        _silence_stdout()
    return status


def _silence_stdout():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        # stdout is not a file descriptor (tests): nothing to flush.
        return


if __name__ == '__main__':
    sys.exit(main())
