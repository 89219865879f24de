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

"""The three things pci-audit does: report, apply and restore."""

import dataclasses
import itertools

from nova_gpu_ext.tooling.audit import AuditError
from nova_gpu_ext.tooling.audit import backup
from nova_gpu_ext.tooling.audit import db


@dataclasses.dataclass
class Outcome:
    """Rows changed and rows left alone (with the reason) by apply/restore.

    The nova-compute services on ``restart_hosts`` keep the old state of
    the changed devices in memory until they restart.
    """

    changed: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)

    @property
    def restart_hosts(self):
        return sorted({f.host for f in self.changed if f.host})


def report(cells):
    """Every stale row of every cell; reads only, one transaction a cell."""
    found = []
    for cell in cells:
        with db.transaction(cell.url) as conn:
            found.extend(db.find(conn, cell.key))
    return found


def apply(cells, found, backup_path):
    """Back up the findings, then free those still stale and unchanged."""
    backup.write(backup_path, found)
    return _per_cell(cells, found, db.free, backup_path)


def restore(cells, backup_path):
    """The backed-up findings and the Outcome of putting them back."""
    found = backup.read(backup_path)
    missing = sorted({f.cell for f in found} - {cell.key for cell in cells})
    if missing:
        raise AuditError(
            f'{backup_path} holds rows of {", ".join(missing)}, not among '
            'the databases given; use the same --nova-conf or '
            '--connection as for --apply')
    return found, _per_cell(cells, found, db.restore, backup_path)


def _per_cell(cells, found, change, backup_path):
    """Run ``change`` on each cell's findings in one transaction per cell.

    If a cell fails after others were changed, the error says so and names
    the hosts to restart for the cells already done.
    """
    urls = {cell.key: cell.url for cell in cells}
    outcome = Outcome()
    by_cell = itertools.groupby(sorted(found, key=lambda f: f.cell),
                                key=lambda f: f.cell)
    for key, group in by_cell:
        try:
            with db.transaction(urls[key]) as conn:
                changed, skipped = change(conn, list(group))
        except AuditError as exc:
            if not outcome.changed:
                raise
            raise AuditError(
                f'{exc}; other cells were already changed: restart '
                f'nova-compute on {", ".join(outcome.restart_hosts)}; '
                f'{backup_path} holds every row') from exc
        outcome.changed.extend(changed)
        outcome.skipped.extend(skipped)
    return outcome
