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

"""Input files read whole, refused unread unless regular and small.

A FIFO given as ``--catalog`` blocks the reader until something writes to
it, ``/dev/zero`` never ends and ``/dev/tty`` waits for the keyboard.
Here the file is opened without blocking (``O_NONBLOCK``, which a FIFO
honours), checked to be a regular file no larger than the caller's limit,
and only then read, at most one byte over the limit (a file still
growing). Refusals are ``OSError``\\s whose ``strerror`` says why, so a
caller's "cannot read PATH: REASON" handles them with the others.
"""

import errno
import os
import stat

# File types by stat mode, for the refusal.
_TYPES = ((stat.S_ISFIFO, 'a FIFO (named pipe)'),
          (stat.S_ISCHR, 'a character device'),
          (stat.S_ISBLK, 'a block device'),
          (stat.S_ISSOCK, 'a socket'))


def read(path: str, limit: int) -> bytes:
    """The content of the regular file ``path``, at most ``limit`` bytes.

    :raises OSError: the file cannot be opened, is not a regular file or
        is larger than ``limit``; nothing of it was read in the last two
        cases.
    """
    _check(path, os.stat(path), limit)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        # Again on what was opened: the path may have been replaced.
        _check(path, os.fstat(fd), limit)
        data = _read_fd(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _refused(path, f'it grew past {limit} bytes while read')
    return data


def _read_fd(fd: int, most: int) -> bytes:
    chunks, size = [], 0
    while size < most:
        chunk = os.read(fd, min(most - size, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b''.join(chunks)


def _check(path: str, status: os.stat_result, limit: int) -> None:
    mode = status.st_mode
    if stat.S_ISDIR(mode):
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _TYPES if test(mode)),
                    'a special file')
        raise _refused(path, f'{kind}, not a regular file; nothing was read')
    if status.st_size > limit:
        raise _refused(path, f'{status.st_size} bytes, more than the '
                             f'{limit} bytes accepted; nothing was read')


def _refused(path: str, reason: str) -> OSError:
    return OSError(errno.EINVAL, reason, path)
