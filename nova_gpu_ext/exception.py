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

"""The exceptions of nova_gpu_ext, each carrying its command exit status.

One base class for the whole domain. The ``nova-gpu-ext`` and
``openstack gpu`` commands catch it once, at the top, and print its
message as one line on stderr; the class decides the exit status:

====  ==========================================================
0     success
1     findings (a normal result, not an exception: lint findings,
      a host not ready, stale rows found in a dry run)
2     bad input or usage: a file, option or value that cannot be
      used (:class:`BadInput`), or output that cannot be written
      (:class:`OutputFailed`)
3     a service or database could not be reached or timed out
      (:class:`Unreachable`)
4     something was changed before the failure: the message says
      what changed and where the backup is (:class:`ChangedThenFailed`)
130   interrupted (Ctrl-C)
141   standard output closed early (a broken pipe, as in ``| head``)
====  ==========================================================

A message names the file, option, value or URL and what to do about it.
This module imports nothing, so every part of the package may use it.
"""

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
EXIT_CHANGED_THEN_FAILED = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class NovaGpuExtError(Exception):
    """Base of every error nova_gpu_ext reports to an operator."""

    exit_status = EXIT_FINDINGS


class BadInput(NovaGpuExtError):
    """A file, option or value that cannot be used; the fix is the input's."""

    exit_status = EXIT_BAD_INPUT


class Unreachable(NovaGpuExtError):
    """A service or database did not answer, or not in time."""

    exit_status = EXIT_UNREACHABLE


class ChangedThenFailed(NovaGpuExtError):
    """A failure after something was changed.

    The message says what was changed and where its backup is, so the
    operator can check or restore it.
    """

    exit_status = EXIT_CHANGED_THEN_FAILED


class OutputFailed(NovaGpuExtError):
    """Standard output cannot be written (a full disk, a closed file)."""

    exit_status = EXIT_BAD_INPUT


def one_line(value) -> str:
    """``value`` as one line: messages and reasons quoted in them."""
    return ' '.join(str(value).split())
