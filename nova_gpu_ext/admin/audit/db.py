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

"""Finding and freeing stale ``pci_devices`` rows, SQLAlchemy Core only.

Sessions come from the one database layer (:mod:`database`): the report
reads in a read-only transaction, and only ``free`` and ``restore`` run
in the writable one. Only the columns of the layer's tables are read, and
only ``pci_devices`` rows that are in a finding are ever written.
"""

from oslo_utils import timeutils
import sqlalchemy as sa

from nova_gpu_ext.admin.audit import findings as rules
from nova_gpu_ext.admin import database

PCI_DEVICES = database.PCI_DEVICES
COMPUTE_NODES = database.COMPUTE_NODES
INSTANCES = database.INSTANCES
MIGRATIONS = database.MIGRATIONS


def find(conn, cell):
    """Every stale row of the cell, as :class:`findings.Finding`."""
    query = sa.select(PCI_DEVICES).where(
        PCI_DEVICES.c.deleted == 0,
        PCI_DEVICES.c.status.in_(rules.HELD_STATUSES))
    devices = [row._asdict() for row in
               conn.execute(query.order_by(PCI_DEVICES.c.id))]
    return _stale(conn, cell, devices)


def _stale(conn, cell, devices):
    locations = _locations(conn, {d['compute_node_id'] for d in devices})
    uuids = {d['instance_uuid'] for d in devices} - {None}
    instances = _instances(conn, uuids)
    migrating = _migrating(conn, uuids)
    found = []
    for device in devices:
        host, node, node_uuid = locations.get(device['compute_node_id'],
                                              (None, None, None))
        verdict = rules.classify(
            device, (host, node), instances.get(device['instance_uuid']),
            device['instance_uuid'] in migrating)
        if verdict:
            found.append(rules.Finding(cell, host, node, *verdict, device,
                                       node_uuid))
    return found


def _locations(conn, node_ids):
    query = sa.select(COMPUTE_NODES.c.id, COMPUTE_NODES.c.host,
                      COMPUTE_NODES.c.hypervisor_hostname,
                      COMPUTE_NODES.c.uuid).where(
                          COMPUTE_NODES.c.id.in_(node_ids))
    return {row.id: (row.host, row.hypervisor_hostname, row.uuid)
            for row in conn.execute(query)}


def foreign_rows(conn, found):
    """How the database differs from where ``found`` was read, if it does.

    Each line names a compute node or ``pci_devices`` row that is here
    with another identity (uuid, node or address) than in ``found``: the
    findings were taken from another database. Rows and nodes that are
    gone are not listed: those the restore skips, one by one.
    """
    node_ids = {f.device['compute_node_id'] for f in found}
    nodes = {row.id: row.uuid for row in conn.execute(
        sa.select(COMPUTE_NODES.c.id, COMPUTE_NODES.c.uuid).where(
            COMPUTE_NODES.c.id.in_(node_ids)))}
    rows = {row.id: row for row in conn.execute(
        sa.select(PCI_DEVICES.c.id, PCI_DEVICES.c.uuid,
                  PCI_DEVICES.c.compute_node_id, PCI_DEVICES.c.address)
        .where(PCI_DEVICES.c.id.in_([f.device['id'] for f in found])))}
    lines = []
    for node_id in sorted(node_ids):
        saved = {f.node_uuid for f in found
                 if f.device['compute_node_id'] == node_id}
        if node_id in nodes and {nodes[node_id]} != saved:
            lines.append(f'compute node {node_id} is {nodes[node_id]} here, '
                         f'{" ".join(sorted(map(str, saved)))} in the backup')
    for finding in found:
        row = rows.get(finding.device['id'])
        if row is not None and not same_device(row._asdict(),
                                               finding.device):
            lines.append(
                f'pci_devices row {row.id} is {row.address} '
                f'{row.uuid} here, {finding.device["address"]} '
                f'{finding.device["uuid"]} in the backup')
    return lines


def same_device(row, device):
    """Whether a ``pci_devices`` row is the device of a backed-up row."""
    return all(row[key] == device[key]
               for key in ('uuid', 'compute_node_id', 'address'))


def _instances(conn, uuids):
    query = sa.select(INSTANCES.c.uuid, INSTANCES.c.host, INSTANCES.c.node,
                      INSTANCES.c.deleted, INSTANCES.c.task_state).where(
                          INSTANCES.c.uuid.in_(uuids))
    return {row.uuid: row._asdict() for row in conn.execute(query)}


def _migrating(conn, uuids):
    query = sa.select(MIGRATIONS.c.instance_uuid).where(
        MIGRATIONS.c.instance_uuid.in_(uuids),
        MIGRATIONS.c.deleted == 0,
        MIGRATIONS.c.status.not_in(rules.ENDED_MIGRATION_STATUSES))
    return set(conn.execute(query).scalars())


def _locked(conn, found):
    """The current rows of the findings, locked until the transaction ends.

    Only ``pci_devices`` rows are locked (no join), so nova's updates of
    instances and compute nodes are never blocked.
    """
    ids = [f.device['id'] for f in found]
    query = sa.select(PCI_DEVICES).where(
        PCI_DEVICES.c.id.in_(ids)).with_for_update()
    return {row.id: row._asdict() for row in conn.execute(query)}


def free(conn, found):
    """Free the findings' rows that are unchanged and still stale.

    Returns ``(freed, skipped)``; ``skipped`` pairs a finding with the
    reason it was left alone. A row that nova changed since the report,
    or that is no longer stale, is skipped, never overwritten.
    """
    current = _locked(conn, found)
    still = {f.device['id'] for f in _stale(conn, found[0].cell, [
        row for row in current.values()
        if row['deleted'] == 0 and row['status'] in rules.HELD_STATUSES])}
    freed, skipped = [], []
    for finding in found:
        dev_id = finding.device['id']
        if current.get(dev_id) != finding.device:
            skipped.append((finding, 'row changed since the report'))
        elif dev_id not in still:
            skipped.append((finding, 'no longer stale'))
        elif _update(conn, finding.device, status='available',
                     instance_uuid=None, request_id=None):
            freed.append(finding)
        else:
            skipped.append((finding, 'row changed since the report'))
    return freed, skipped


def restore(conn, found):
    """Put the backed-up rows back where the device is still free.

    Returns ``(restored, skipped)``. A device that nova has handed out
    again since it was freed is skipped: its current owner wins.
    """
    current = _locked(conn, found)
    restored, skipped = [], []
    for finding in found:
        row = current.get(finding.device['id'])
        # The row as free() left it; anything else is nova's since.
        freed = {'status': 'available', 'instance_uuid': None,
                 'request_id': None}
        if not row or not same_device(row, finding.device):
            skipped.append((finding, 'device row is gone or another device'))
        elif row['deleted'] != finding.device['deleted']:
            skipped.append((finding, 'device row was deleted'))
        elif not _update(conn, {**row, **freed},
                         **{k: finding.device[k] for k in
                            ('status', 'instance_uuid', 'request_id')}):
            skipped.append((finding, 'device is in use again'))
        else:
            restored.append(finding)
    return restored, skipped


def _update(conn, expected, **values):
    """Compare-and-set one row: only if each column written is as expected.

    Every column it sets back (status, owner, request id) must still hold
    the value ``expected`` says, so a change nova made since is never
    overwritten.
    """
    where = [PCI_DEVICES.c.id == expected['id'], PCI_DEVICES.c.deleted == 0,
             *(PCI_DEVICES.c[name].is_not_distinct_from(expected[name])
               for name in values)]
    result = conn.execute(PCI_DEVICES.update().where(*where).values(
        updated_at=timeutils.utcnow(), **values))
    return result.rowcount == 1
