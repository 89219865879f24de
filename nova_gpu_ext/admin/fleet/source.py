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

"""Where the fleet commands read the fleet, and what they judge it by.

One :class:`Source` per command run, built from the cell-source options
(``--nova-conf``, ``--connection``, ``--placement-connection``,
``--db-timeout``) and the catalog: it finds the cells, takes the snapshot
(the cell databases, with what the placement database holds back, else
Placement through the cloud), names the models, reads a drained host's
servers, and holds the scheduler's ``[nova_gpu_ext]`` options (read from
the ``--nova-conf`` files when given, else their defaults) that judge
every flavor or server without ``gpu:`` extra specs. The commands only
parse options and print.
"""

import collections
import dataclasses
import functools
import typing as ty

from nova_gpu_ext.admin.audit import actions
from nova_gpu_ext.admin import cells as cellmod
from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin import database
from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import celldb
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import placement
from nova_gpu_ext.admin.fleet import placementdb
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext import exception
from nova_gpu_ext.gpu import models

NO_INVENTORY = (
    'placement has no PCI device inventory: set [pci] report_in_placement '
    '= True on every nova-compute with GPUs (PCI in placement mode), or '
    'read the cell databases with --nova-conf or --connection, which works '
    'in legacy mode too')
LEGACY_PLACEMENT_DB = (
    '--placement-connection ignored: the compute nodes\' pools name no '
    'resource provider (legacy mode: [pci] report_in_placement is off), '
    'so placement holds none of their GPUs and was not read')

Progress = ty.Callable[[int, int], None]


class Source:
    """The fleet as one command run reads it."""

    def __init__(self, *, nova_confs: ty.Sequence[str] = (),
                 connections: ty.Sequence[str] = (),
                 placement_connection: str | None = None,
                 db_timeout: float = database.DEFAULT_TIMEOUT,
                 catalog=None,
                 cloud: ty.Callable[[], ty.Any] | None = None,
                 progress: Progress | None = None,
                 say: ty.Callable[[str], None] = lambda text: None):
        if nova_confs and connections:
            raise exception.BadInput(
                'give --nova-conf or --connection, not both')
        if placement_connection and not (nova_confs or connections):
            raise exception.BadInput(
                '--placement-connection completes the cell databases: give '
                '--nova-conf or --connection too (without them the fleet '
                'is read from Placement, which knows reserved itself)')
        self.placement_connection = placement_connection
        self.nova_confs = list(nova_confs)
        self.connections = list(connections)
        self.db_timeout = db_timeout
        self.catalog = catalog
        self.cloud = cloud
        self.progress = progress
        self.say = say
        self.database = bool(nova_confs or connections)

    @functools.cached_property
    def cells(self) -> list:
        if self.connections:
            return cellmod.from_urls(self.connections)
        return cellmod.from_config(self.nova_confs, self.db_timeout)

    @functools.cached_property
    def options(self):
        """The scheduler's ``[nova_gpu_ext]`` options."""
        return gpu_requests.scheduler_options(self.nova_confs)

    @property
    def default_policy(self) -> models.GpuPolicy:
        return gpu_requests.scheduler_opts.default_policy(self.options)

    @property
    def spread(self) -> bool:
        """Whether GpuWeigher spreads (``[nova_gpu_ext] weigher_policy``)."""
        return self.options.weigher_policy == 'spread'

    def where(self) -> str:
        if self.nova_confs:
            return 'the cell databases of ' + ', '.join(self.nova_confs)
        if self.connections:
            return 'the cell database(s) given by --connection'
        return 'Placement'

    @functools.cached_property
    def names(self) -> snapshot.ModelFilter:
        if self.database:
            return snapshot.ModelFilter(self.catalog)
        return snapshot.ModelFilter(
            self.catalog, placement.Kinds(self.catalog).names())

    def take(self) -> snapshot.Snapshot:
        """A new snapshot; Placement's when no database is given.

        Its warnings (rows left out, what Placement cannot tell) are said.
        """
        snap = self._take()
        for warning in snap.warnings:
            self.say(warning)
        return snap

    def _take(self) -> snapshot.Snapshot:
        if self.database:
            snap = self._held_back(
                celldb.take(self.cells, self.names, self.db_timeout))
            if self.catalog is None:
                return snap
            return snapshot.with_provider_tags(
                snap, gpu_requests.provider_tags(self.catalog))
        conn = self.cloud()
        with connect.errors(conn):
            snap = placement.take(conn, placement.Kinds(self.catalog),
                                  self.names, progress=self.progress)
        if not snap.hosts:
            snap = snap.with_warning(NO_INVENTORY)
        return snap

    def _held_back(self, snap: snapshot.Snapshot) -> snapshot.Snapshot:
        """The cell snapshot with placement's reserved devices, if given."""
        if not self.placement_connection:
            return snap
        if not snap.placement:
            return snap.with_warning(LEGACY_PLACEMENT_DB)
        return snapshot.with_providers(snap, placementdb.take(
            self.placement_connection, self.db_timeout))

    def servers(self, host: str) -> list[gpu_requests.GpuRequest]:
        """The GPU servers of ``host``, from the databases only."""
        if not self.database:
            raise exception.BadInput(
                '--drain reads the servers of the host from the cell '
                'databases: give --nova-conf or --connection')
        servers, skipped = celldb.host_servers(
            self.cells, host, self.default_policy, self.db_timeout)
        for left_out in skipped:
            self.say(str(left_out))
        return servers

    def aliases(self, snap: snapshot.Snapshot) -> dict:
        """The catalog's aliases, as genconf renders them for the mode."""
        if self.catalog is None:
            return {}
        return gpu_requests.catalog_aliases(self.catalog, snap.placement)

    def placer(self, snap: snapshot.Snapshot) -> capacity.Placer:
        return capacity.Placer(self.aliases(snap))

    def request(self, text: str, numa: str | None = None,
                switch: str | None = None,
                where: str = '--request') -> gpu_requests.GpuRequest:
        """``ALIAS:COUNT[,...]`` under the default policy.

        ``numa`` and ``switch`` override its gpu:numa and gpu:switch.
        """
        policy = self.default_policy
        if numa:
            policy = dataclasses.replace(policy,
                                         numa=models.NumaMode(numa))
        if switch:
            policy = dataclasses.replace(policy,
                                         switch=models.SwitchMode(switch))
        return gpu_requests.from_text(text, policy, where)

    def flavors(self) -> list[gpu_requests.GpuRequest]:
        """The requests of the catalog's GPU flavors."""
        if self.catalog is None:
            return []
        return gpu_requests.catalog_flavors(self.catalog,
                                            self.default_policy)

    def flavor(self, name: str) -> gpu_requests.GpuRequest:
        found = [r for r in self.flavors() if r.label == name]
        if not found:
            known = ', '.join(r.label for r in self.flavors())
            raise exception.BadInput(
                f'--flavor {name}: not a GPU flavor of the catalog (its '
                f'flavors: {known or "none, set flavor_counts"}); or give '
                '--request ALIAS:COUNT')
        return found[0]

    def check_aliases(self, requests: ty.Iterable[gpu_requests.GpuRequest],
                      snap: snapshot.Snapshot) -> dict:
        """The aliases; a request naming another is bad input."""
        aliases = self.aliases(snap)
        unknown = sorted({a for r in requests
                          for a in r.unknown_aliases(aliases)})
        if unknown:
            raise exception.BadInput(
                f'--request: no such alias {", ".join(unknown)} (the '
                f'catalog\'s aliases: {", ".join(sorted(aliases)) or "none"}'
                '); give --catalog with the cloud\'s GPU catalog')
        return aliases

    def stale_rows(self) -> ty.Mapping[str, int]:
        """Stale pci_devices rows per host, as pci-audit finds them.

        Rows of a compute node that is gone count under the host ``''``.
        """
        return collections.Counter(
            f.host or '' for f in actions.report(self.cells,
                                                 self.db_timeout))
