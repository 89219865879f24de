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

"""Regular files within a limit are read, nothing else.

Not a FIFO nobody writes to (it would block), a device or a file over the
limit; the refusal comes at once.
"""

import os
import time

import fixtures

from nova_gpu_ext.common import bounded_file
from tests import base as test_base


class TestRead(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def path(self, data=None):
        path = os.path.join(self.tmp, 'file')
        if data is not None:
            with open(path, 'wb') as out:
                out.write(data)
        return path

    def test_a_regular_file_within_the_limit(self):
        self.assertEqual(b'[a]\n', bounded_file.read(self.path(b'[a]\n'), 4))

    def test_a_file_over_the_limit_is_refused(self):
        exc = self.assertRaises(OSError, bounded_file.read,
                                self.path(b'12345'), 4)
        self.assertEqual('5 bytes, more than the 4 bytes accepted; nothing '
                         'was read', exc.strerror)

    def test_a_fifo_is_refused_at_once(self):
        path = self.path()
        os.mkfifo(path)
        start = time.monotonic()
        exc = self.assertRaises(OSError, bounded_file.read, path, 100)
        self.assertLess(time.monotonic() - start, 1)
        self.assertEqual('a FIFO (named pipe), not a regular file; nothing '
                         'was read', exc.strerror)

    def test_devices_are_refused(self):
        for device in ('/dev/zero', '/dev/null'):
            exc = self.assertRaises(OSError, bounded_file.read, device, 100)
            self.assertIn('a character device', exc.strerror)

    def test_a_directory_is_the_usual_error(self):
        exc = self.assertRaises(OSError, bounded_file.read, self.tmp, 100)
        self.assertEqual('Is a directory', exc.strerror)

    def test_proc_files_of_size_0_are_read_up_to_the_limit(self):
        # This machine's own /proc: regular files whose size says 0.
        data = bounded_file.read('/proc/self/status', 1 << 20)
        self.assertIn(b'Name:', data)
