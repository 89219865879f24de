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

"""The three things pci-audit does: report, apply and restore.

Nothing is changed without a verified backup; a restore first checks,
reading only, that every database is the one its rows were backed up
from. Each cell is changed in one transaction; if anything fails (or is
interrupted) after a cell was changed, ChangedThenFailed says which
cells and hosts were changed and where the backup is. An ``--apply`` that
fails before changing anything removes its backup.
"""

import dataclasses
import itertools

from nova_gpu_ext.admin.audit import backup
from nova_gpu_ext.admin.audit import db
from nova_gpu_ext.admin import database
from nova_gpu_ext import exception

# How many identity differences a refused restore lists.
_SHOWN = 3


@dataclasses.dataclass
class Outcome:
    """Rows changed and rows left alone (with the reason) by apply/restore.

    ``backup_removed``: an apply that changed nothing removed its backup.

    The nova-compute services on ``restart_hosts`` keep the old state of
    the changed devices in memory until they restart.
    """

    changed: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    backup_removed: bool = False

    @property
    def restart_hosts(self):
        return sorted({f.host for f in self.changed if f.host})


def report(cells, timeout=database.DEFAULT_TIMEOUT):
    """Every stale row of every cell; read-only, one transaction a cell."""
    found = []
    for cell in cells:
        with database.read_only(cell.url, timeout,
                                database.AUDIT_TABLES) as conn:
            found.extend(db.find(conn, cell.key))
    return found


def apply(cells, found, backup_path, timeout=database.DEFAULT_TIMEOUT):
    """Back up the findings, then free those still stale and unchanged.

    A run that freed nothing (another ``--apply`` or nova changed every
    row first) removes its backup: restoring it would revert the other
    change.

    :raises ChangedThenFailed: when a cell failed after another was
        changed; any other error means nothing was changed, and the
        backup was removed (or the message says it was left).
    """
    backup.write(backup_path, found)
    try:
        outcome = _per_cell(cells, found, db.free, backup_path, 'freed',
                            timeout)
    except exception.ChangedThenFailed:
        raise
    except exception.NovaGpuExtError as exc:
        raise type(exc)(f'{exc}; {_unchanged(backup_path)}') from exc
    except KeyboardInterrupt:
        backup.discard(backup_path)
        raise
    if not outcome.changed:
        outcome.backup_removed = backup.discard(backup_path)
    return outcome


def _unchanged(backup_path):
    if backup.discard(backup_path):
        return f'nothing was changed, so the backup {backup_path} was removed'
    return f'nothing was changed; the backup {backup_path} was left'


def restore(cells, backup_path, timeout=database.DEFAULT_TIMEOUT):
    """The backed-up findings and the Outcome of putting them back.

    :raises BadInput: with nothing changed, when the backup holds cells
        not given or rows of another database.
    """
    found = backup.read(backup_path)
    missing = sorted({f.cell for f in found} - {cell.key for cell in cells})
    if missing:
        raise exception.BadInput(
            f'{backup_path} holds rows of {", ".join(missing)}, not among '
            'the databases given; nothing was changed; use the same '
            '--nova-conf or --connection as for --apply')
    _check_identity(cells, found, backup_path, timeout)
    return found, _per_cell(cells, found, db.restore, backup_path,
                            'restored', timeout)


def _check_identity(cells, found, backup_path, timeout):
    """Refuse, reading only, a backup taken from other databases."""
    for cell in cells:
        rows = [f for f in found if f.cell == cell.key]
        if not rows:
            continue
        with database.read_only(cell.url, timeout,
                                database.AUDIT_TABLES) as conn:
            foreign = db.foreign_rows(conn, rows)
        if foreign:
            more = (f' (and {len(foreign) - _SHOWN} more)'
                    if len(foreign) > _SHOWN else '')
            raise exception.BadInput(
                f'{backup_path} was not taken from the database '
                f'{database.mask(cell.url)}: '
                f'{"; ".join(foreign[:_SHOWN])}{more}; '
                'nothing was changed; restore it into the database --apply '
                'changed')


def _per_cell(cells, found, change, backup_path, verb, timeout):
    """Run ``change`` on each cell's findings in one transaction per cell.

    If a cell fails (or the run is interrupted) after others were
    changed, the error says which were and names the hosts to restart.
    """
    cells_by_key = {cell.key: cell for cell in cells}
    outcome = Outcome()
    done = []
    by_cell = itertools.groupby(sorted(found, key=lambda f: f.cell),
                                key=lambda f: f.cell)
    for key, group in by_cell:
        cell = cells_by_key[key]
        try:
            with database.writable(cell.url, timeout,
                                   database.AUDIT_TABLES) as conn:
                changed, skipped = change(conn, list(group))
        except exception.ChangedThenFailed as exc:
            raise exception.ChangedThenFailed(
                f'cell {cell.name}: {exc}; {_done(done, outcome)}'
                f'{backup_path} holds every row') from exc
        except (exception.NovaGpuExtError, KeyboardInterrupt) as exc:
            if not outcome.changed:
                raise
            raise exception.ChangedThenFailed(
                f'cell {cell.name} failed and was not changed '
                f'({_reason(exc)}); {_done(done, outcome)}'
                f'{backup_path} holds every row') from exc
        outcome.changed.extend(changed)
        outcome.skipped.extend(skipped)
        if changed:
            done.append(f'{cell.name} ({len(changed)} rows {verb})')
    return outcome


def _done(done, outcome):
    if not outcome.changed:
        return ''
    return (f'already changed: {", ".join(done)}; restart nova-compute on '
            f'{", ".join(outcome.restart_hosts)}; ')


def _reason(exc):
    return (str(exc) if isinstance(exc, exception.NovaGpuExtError)
            else 'interrupted')
