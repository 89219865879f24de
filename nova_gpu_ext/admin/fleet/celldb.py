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

"""Take a fleet snapshot from the nova cell databases.

Works in legacy and in placement mode alike: nova records every PCI device
in ``pci_devices`` and every compute node's scheduler pools in
``compute_nodes.pci_stats`` whatever the mode. One read-only, time-bounded
query per cell (:mod:`nova_gpu_ext.admin.database`): the device rows are
counted by the database, grouped per compute node, model, NUMA node, type
and status, and joined with their node's host name and pools.
"""

import json
import time
import typing as ty

import sqlalchemy as sa

from nova_gpu_ext.admin import database
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import models

COMPUTE_NODES = database.COMPUTE_NODES
PCI_DEVICES = database.PCI_DEVICES
INSTANCES = database.INSTANCES
INSTANCE_EXTRA = database.INSTANCE_EXTRA

_GROUP = (PCI_DEVICES.c.compute_node_id, PCI_DEVICES.c.vendor_id,
          PCI_DEVICES.c.product_id, PCI_DEVICES.c.dev_type,
          PCI_DEVICES.c.numa_node, PCI_DEVICES.c.status)


def query() -> sa.Select:
    """Every live compute node, with its devices counted per kind.

    A node without devices still gives one row (outer join), so hosts
    without GPUs are in the snapshot too.
    """
    devices = (sa.select(*_GROUP, sa.func.count().label('n'))
               .where(PCI_DEVICES.c.deleted == 0)
               .group_by(*_GROUP).subquery())
    return (sa.select(COMPUTE_NODES.c.id, COMPUTE_NODES.c.host,
                      COMPUTE_NODES.c.pci_stats, devices.c.vendor_id,
                      devices.c.product_id, devices.c.dev_type,
                      devices.c.numa_node, devices.c.status, devices.c.n)
            .select_from(COMPUTE_NODES.outerjoin(
                devices, devices.c.compute_node_id == COMPUTE_NODES.c.id))
            .where(COMPUTE_NODES.c.deleted == 0)
            .order_by(COMPUTE_NODES.c.host, COMPUTE_NODES.c.id))


def read_cell(conn, cell: str, wanted: snapshot.ModelFilter
              ) -> tuple[list[snapshot.HostGpus], list[snapshot.Skipped]]:
    """The hosts of one cell database in name order, and rows left out.

    A compute node whose ``pci_stats`` do not parse is left out whole (its
    pools are what the questions are asked of); a ``pci_devices`` row
    whose numa_node is not a number is left out alone.
    """
    nodes: dict[int, tuple[str, str | None]] = {}
    rows: dict[int, list] = {}
    skipped = []
    for row in conn.execute(query()):
        nodes.setdefault(row.id, (row.host, row.pci_stats))
        if row.status is None:
            continue
        if row.numa_node is not None and not isinstance(row.numa_node, int):
            skipped.append(snapshot.Skipped(
                cell, str(row.host), 'pci_devices.numa_node',
                f'{str(row.numa_node)[:20]!r} is not a NUMA node'))
            continue
        rows.setdefault(row.id, []).append(row._asdict())
    hosts = []
    for node_id, (host, pci_stats) in nodes.items():
        try:
            pools = snapshot.pools_from_pci_stats(pci_stats)
        except snapshot.BadRow as exc:
            skipped.append(snapshot.Skipped(
                cell, str(host), 'compute_nodes.pci_stats', str(exc)))
            continue
        hosts.append(snapshot.HostGpus(
            host=host, cell=cell, pools=pools,
            counts=snapshot.device_counts(rows.get(node_id, ()), wanted)))
    return hosts, skipped


def take(cells: ty.Sequence, wanted: snapshot.ModelFilter,
         timeout: float = database.DEFAULT_TIMEOUT) -> snapshot.Snapshot:
    """Read every cell (``audit.cells.Cell``-like: ``name``, ``url``)."""
    taken_at = time.time()
    hosts, skipped = [], []
    for cell in cells:
        with database.read_only(cell.url, timeout,
                                database.FLEET_TABLES) as conn:
            found, left_out = read_cell(conn, cell.name, wanted)
        hosts.extend(found)
        skipped.extend(left_out)
    names = ', '.join(cell.name for cell in cells)
    return snapshot.Snapshot(
        hosts=tuple(sorted(hosts, key=lambda h: (h.host, h.cell))),
        source=f'cell database(s) {names}', taken_at=taken_at,
        warnings=tuple(map(str, skipped)), skipped=tuple(skipped))


def servers_query(host: str) -> sa.Select:
    """The live servers of ``host`` that have PCI requests."""
    return (sa.select(INSTANCES.c.uuid, INSTANCES.c.display_name,
                      INSTANCE_EXTRA.c.pci_requests, INSTANCE_EXTRA.c.flavor)
            .select_from(INSTANCES.join(
                INSTANCE_EXTRA,
                INSTANCE_EXTRA.c.instance_uuid == INSTANCES.c.uuid))
            .where(INSTANCES.c.host == host, INSTANCES.c.deleted == 0,
                   INSTANCE_EXTRA.c.deleted == 0,
                   INSTANCE_EXTRA.c.pci_requests.is_not(None))
            .order_by(INSTANCES.c.display_name, INSTANCES.c.uuid))


def host_servers(cells: ty.Sequence, host: str,
                 default: models.GpuPolicy,
                 timeout: float = database.DEFAULT_TIMEOUT
                 ) -> tuple[list, list[snapshot.Skipped]]:
    """The GPU servers on ``host``, and those whose rows do not parse.

    The servers are ``gpu_requests.GpuRequest`` values. Each keeps the
    specs nova stored with its PCI requests and the GPU policy of its
    flavor's extra specs, ``default`` (the scheduler's ``[nova_gpu_ext]``
    options) for what they do not set; servers whose PCI requests are all
    neutron ports are left out.
    """
    servers, skipped = [], []
    for cell in cells:
        with database.read_only(cell.url, timeout,
                                database.SERVER_TABLES) as conn:
            for row in conn.execute(servers_query(host)):
                label = f'{row.display_name} ({row.uuid})'
                try:
                    server = gpu_requests.from_instance(
                        label, _primitive(row.pci_requests),
                        _primitive(row.flavor), default)
                except snapshot.BadRow as exc:
                    skipped.append(snapshot.Skipped(
                        cell.name, host, f'instance_extra of server {label}',
                        str(exc)))
                    continue
                if server is not None:
                    servers.append(server)
    return servers, skipped


def _primitive(text):
    try:
        return json.loads(text) if text else None
    except RecursionError as exc:
        raise snapshot.BadRow('nested too deep') from exc
    except ValueError:
        return None
