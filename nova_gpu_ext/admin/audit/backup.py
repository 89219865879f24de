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

"""The JSON backup written before ``--apply`` changes anything.

It holds every finding whole (cell, host, reason, the complete
``pci_devices`` row as read and the uuid of its compute node), so
``--restore`` can put the rows back, check first that the database is
the one the rows were read from, and an operator can read what was
changed. The rows name instances, hosts and devices of the cloud: the
file is created readable by its owner only (0600), whatever the umask.
"""

import dataclasses
import datetime
import json
import os

from oslo_utils import timeutils

from nova_gpu_ext.admin.audit import findings as rules
from nova_gpu_ext.common import bounded_file
from nova_gpu_ext.common import values
from nova_gpu_ext import exception

# 2: the device uuid and the compute node uuid identify each row.
VERSION = 2

# The row columns --restore needs: to find the row, to check it is the
# same device, and to set it back.
RESTORED_COLUMNS = ('id', 'uuid', 'compute_node_id', 'address', 'deleted',
                    'status', 'instance_uuid', 'request_id')

# Bytes of one finding in a backup, generously: a whole pci_devices row
# with its extra_info, indented, is about 1.2 kB.
_FINDING_BYTES = 4096
# The largest backup --restore reads: one finding for every GPU of a
# cloud as large as a count may name (values.MAX_COUNT), 400 MB. Larger
# is no backup this tool wrote; it is refused unread instead of filling
# the memory.
MAX_BYTES = values.MAX_COUNT * _FINDING_BYTES
# Owner read and write only: the rows name the cloud's instances.
_MODE = 0o600


def default_path():
    return f'pci-audit-backup-{timeutils.utcnow():%Y%m%dT%H%M%SZ}.json'


def write(path, found):
    """Write the backup, make it durable and read it back.

    The file must not exist yet (an older backup is never overwritten);
    it is fsynced together with its directory so a crash right after the
    change still leaves the backup on disk, then read back and compared
    with ``found``. A partly written or unverified file is removed.
    """
    text = json.dumps(
        {'version': VERSION, 'created_at': timeutils.utcnow().isoformat(),
         'findings': [dataclasses.asdict(f) for f in found]},
        indent=2, sort_keys=True, default=_jsonable)
    try:
        _write_durably(path, text)
    except OSError as exc:
        raise exception.BadInput(
            f'cannot write the backup {path}: {exc.strerror}; nothing was '
            'changed; give --backup a new file in a writable '
            'directory') from exc
    try:
        same = _as_saved(read(path)) == _as_saved(found)
    except exception.BadInput:
        same = False
    if not same:
        discard(path)
        raise exception.BadInput(
            f'the backup {path} does not read back as written; nothing was '
            'changed and the file was removed; check the disk')


def _as_saved(found):
    return json.loads(json.dumps([dataclasses.asdict(f) for f in found],
                                 sort_keys=True, default=_jsonable))


def _write_durably(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _MODE)
    # The umask may have taken bits away (0400 under umask 0277): set
    # exactly 0600, before any row is in the file.
    os.fchmod(fd, _MODE)
    with open(fd, 'w', encoding='utf-8') as stream:
        try:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        except OSError:
            os.unlink(path)
            raise
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def discard(path):
    """Remove a backup of a change that did not happen; True if removed."""
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


def _jsonable(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise TypeError(f'{type(value).__name__} is not JSON serializable')


def read(path):
    """The findings saved in a backup file.

    A FIFO, a device or a file over :data:`MAX_BYTES` is refused unread.
    """
    try:
        data = json.loads(bounded_file.read(path, MAX_BYTES).decode('utf-8'))
    except OSError as exc:
        raise exception.BadInput(
            f'cannot read the backup {path}: {exc.strerror}; give the file '
            '--apply wrote') from exc
    except ValueError as exc:
        raise exception.BadInput(
            f'{path} is not a pci-audit backup: not UTF-8 JSON '
            f'({exception.one_line(exc)})') from exc
    try:
        if data['version'] != VERSION:
            raise ValueError(
                f"version {data['version']}, this pci-audit reads "
                f'version {VERSION}')
        found = [rules.Finding(**item) for item in data['findings']]
        for finding in found:
            if not isinstance(finding.device, dict):
                raise ValueError('device row is not an object')
            missing = sorted(set(RESTORED_COLUMNS) - set(finding.device))
            if missing:
                raise ValueError(f'device row without {missing}')
        return found
    except (KeyError, TypeError, ValueError) as exc:
        raise exception.BadInput(
            f'{path} is not a pci-audit backup: {exc!r}') from exc
