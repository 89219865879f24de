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

"""INI files given to the commands (GPU catalogs, nova.conf), read safely.

oslo.config opens a file with the locale's encoding and lets a directory,
undecodable bytes or an unreadable file escape as Python exceptions. Here
a file is read once as bytes and checked before any parser sees it: every
problem is one :class:`IniFileError` naming the file, where in it and what
to do. The parse is oslo.config's own (``iniparser``), so a file that
passes here reads the same in oslo.config and in nova; it also keeps the
line of every section and option, which oslo.config does not, so that later
checks can name them.
"""

import dataclasses
import io
import re

from oslo_config import iniparser

from nova_gpu_ext.common import bounded_file
from nova_gpu_ext import exception

# The largest file read, in bytes. A nova.conf with every option of every
# group and its help text, as oslo-config-generator writes it, is under
# 1 MiB; a GPU catalog is a few kB. Larger is not such a file.
MAX_BYTES = 8 * 1024 * 1024

# C0 control characters other than tab and the line ends, and DEL: no
# hand-written configuration holds them, a binary file almost always does.
_CONTROL = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


class IniFileError(exception.BadInput):
    """A configuration file that cannot be read or parsed."""


@dataclasses.dataclass(frozen=True)
class Value:
    """One ``option = value`` as written, with the line it starts on."""

    section: str
    option: str
    value: str
    line: int


@dataclasses.dataclass(frozen=True)
class IniFile:
    """The sections (header, line; repeats kept) and values of one file."""

    path: str
    sections: tuple[tuple[str, int], ...]
    values: tuple[Value, ...]


def read(path: str, kind: str) -> IniFile:
    """Read and parse ``path``, a ``kind`` file (e.g. "GPU catalog").

    A FIFO, a device or a file over :data:`MAX_BYTES` is refused unread.
    A message names the file and line, never the content of the line:
    a nova.conf line may hold a password.

    :raises IniFileError: naming the file and the fix.
    """
    try:
        data = bounded_file.read(path, MAX_BYTES)
    except OSError as exc:
        raise IniFileError(
            f'cannot read {path}: {exc.strerror}; give the path of a '
            f'readable {kind} file') from exc
    text = _text(path, data, kind)
    parser = _Parser()
    try:
        parser.parse(io.StringIO(text, newline=None))
    except iniparser.ParseError as exc:
        raise IniFileError(
            f'cannot parse {path} line {exc.lineno}: {exc.msg}; a {kind} '
            'file is INI: [section] lines, then option = value lines, '
            'continued on indented lines') from exc
    return IniFile(path, tuple(parser.headers), tuple(parser.values))


def _text(path: str, data: bytes, kind: str) -> str:
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise IniFileError(
            f'cannot read {path}: not UTF-8 text (byte '
            f'0x{data[exc.start]:02x} at offset {exc.start}); give a {kind} '
            'file, saved as UTF-8') from exc
    control = _CONTROL.search(text)
    if control:
        line = text.count('\n', 0, control.start()) + 1
        raise IniFileError(
            f'cannot read {path}: line {line} holds the control character '
            f'0x{ord(control.group()):02x}, so it is not a text file; '
            f'give a {kind} file')
    return text


class _Parser(iniparser.BaseParser):
    """oslo.config's INI syntax, keeping where each thing was written."""

    def __init__(self):
        self.section = None
        self.headers = []
        self.values = []
        self._key_line = 0

    def _split_key_value(self, line):
        self._key_line = self.lineno
        return super()._split_key_value(line)

    def new_section(self, section):
        self.section = section
        self.headers.append((section, self.lineno))

    def assignment(self, key, value):
        if self.section is None:
            raise self.parse_exc('an option before any [section]',
                                 self._key_line, key)
        self.values.append(
            Value(self.section, key, '\n'.join(value), self._key_line))
