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

"""Files nobody can read, and readers run as nobody, for tests run as root.

root reads any file whatever its mode, so a test that wants "permission
denied" runs the reader in a forked child that has dropped to an
unprivileged user (``nobody``) after the parent imported everything; the
child returns the reader's result or exception through a pipe. Other
unreadable cases need no user change: a directory where a file should be,
a symlink to nothing, a symlink loop.
"""

import os
import pickle
import pwd

try:
    NOBODY = pwd.getpwnam('nobody').pw_uid
except KeyError:
    NOBODY = 65534


def as_nobody(func, *args):
    """``func(*args)`` as an unprivileged user: its result, or its raise.

    Run directly when the tests already run unprivileged. The files the
    reader needs must be reachable by others (``open_up``).
    """
    if os.geteuid() != 0:
        return func(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, run, report, never return
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            try:
                outcome = (True, func(*args))
            except Exception as exc:  # handed to the parent
                # Type and message: not every exception class re-creates
                # itself from its args when unpickled.
                outcome = (False, (type(exc), exc.args))
            with os.fdopen(write_end, 'wb') as out:
                out.write(pickle.dumps(outcome))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, 'rb') as stream:
        data = stream.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise AssertionError(f'the reader run as nobody failed ({status})')
    ok, value = pickle.loads(data)
    if ok:
        return value
    error_type, error_args = value
    error = error_type.__new__(error_type)
    error.args = error_args
    raise error


def writing(data):
    """A maker of a file holding ``data`` (bytes)."""
    def write(path):
        with open(path, 'wb') as out:
            out.write(data)
    return write


def looping(path):
    """A symlink at ``path`` to itself."""
    os.symlink(os.path.basename(path), path)


def dangling(path):
    """A symlink at ``path`` to nothing."""
    os.symlink(path + '.missing-target', path)


# testscenarios of files no reader of text files can use: how to make one
# at a path, and what the error then says.
UNUSABLE_FILES = [
    ('directory', {'make': os.mkdir, 'says': 'Is a directory'}),
    ('missing', {'make': lambda path: None,
                 'says': 'No such file or directory'}),
    ('dangling symlink', {'make': dangling,
                          'says': 'No such file or directory'}),
    ('symlink loop', {'make': looping,
                      'says': 'Too many levels of symbolic links'}),
    ('latin-1', {'make': writing(b'[pci]\nalias = caf\xe9\n'),
                 'says': 'not UTF-8 text (byte 0xe9 at offset 17)'}),
    ('binary', {'make': writing(b'\x7fELF\x02\x01\x01\x00'),
                'says': 'line 1 holds the control character 0x7f'}),
    ('NUL byte', {'make': writing(b'[a]\nb = c\x00\n'),
                  'says': 'line 2 holds the control character 0x00'}),
]


def open_up(root):
    """Let others into ``root``, a temporary directory (created 0700).

    The test base nests every test's temporary files in a directory of
    its own, 0700 too: each 0700 directory above ``root`` is opened up.
    """
    path = os.path.abspath(root)
    while path != os.path.dirname(path):
        if os.stat(path).st_mode & 0o777 != 0o700:
            break
        os.chmod(path, 0o755)
        path = os.path.dirname(path)


def forbid(path):
    """Make ``path`` unreadable to anyone but root."""
    os.chmod(path, 0)
