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

"""What placement holds back of each PCI device, from its database.

A cell database says a cordoned GPU is available: only placement knows
its ``reserved``. With ``--placement-connection URL`` the fleet commands
read placement's database read-only (:mod:`nova_gpu_ext.admin.database`,
``--db-timeout``): two grouped queries, not one call per device as the
API costs. Each PCI device provider (trait ``COMPUTE_MANAGED_PCI_DEVICE``)
gives its total, reserved and allocated units and whether it is
one-time-use, by provider uuid: the ``rp_uuid`` of the placement-mode
pools in ``compute_nodes.pci_stats`` (:func:`snapshot.with_providers`).
"""

import sqlalchemy as sa

from nova_gpu_ext.admin import database
from nova_gpu_ext.admin.fleet import placement
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.admin import lifecycle

RPS = database.RESOURCE_PROVIDERS
INVENTORIES = database.INVENTORIES
ALLOCATIONS = database.ALLOCATIONS
TRAITS = database.TRAITS
RP_TRAITS = database.RESOURCE_PROVIDER_TRAITS


def _with_trait(name: str) -> sa.Select:
    """The ids of the providers that have trait ``name``."""
    return (sa.select(RP_TRAITS.c.resource_provider_id)
            .select_from(RP_TRAITS.join(
                TRAITS, TRAITS.c.id == RP_TRAITS.c.trait_id))
            .where(TRAITS.c.name == name))


def query() -> sa.Select:
    """Per PCI device provider: uuid, total, reserved and used units."""
    used = (sa.select(ALLOCATIONS.c.resource_provider_id,
                      ALLOCATIONS.c.resource_class_id,
                      sa.func.sum(ALLOCATIONS.c.used).label('used'))
            .group_by(ALLOCATIONS.c.resource_provider_id,
                      ALLOCATIONS.c.resource_class_id).subquery())
    return (sa.select(RPS.c.uuid, INVENTORIES.c.total,
                      INVENTORIES.c.reserved,
                      sa.func.coalesce(used.c.used, 0).label('used'))
            .select_from(RPS.join(
                INVENTORIES, INVENTORIES.c.resource_provider_id == RPS.c.id)
                .outerjoin(used, sa.and_(
                    used.c.resource_provider_id == RPS.c.id,
                    used.c.resource_class_id
                    == INVENTORIES.c.resource_class_id)))
            .where(RPS.c.id.in_(_with_trait(placement.PCI_TRAIT))))


def one_time_use_query() -> sa.Select:
    """The uuids of the one-time-use device providers."""
    return sa.select(RPS.c.uuid).where(
        RPS.c.id.in_(_with_trait(lifecycle.ONE_TIME_USE_TRAIT)))


def read(conn) -> dict[str, snapshot.Provider]:
    """Every PCI device provider by uuid, from one connection."""
    one_time_use = {row.uuid for row in conn.execute(one_time_use_query())}
    found = {}
    for row in conn.execute(query()):
        total, reserved, used, _ = found.get(
            row.uuid, snapshot.Provider(0, 0, 0))
        traits = frozenset([lifecycle.ONE_TIME_USE_TRAIT]
                           if row.uuid in one_time_use else ())
        found[row.uuid] = snapshot.Provider(
            total + int(row.total), reserved + int(row.reserved),
            used + int(row.used), traits)
    return found


def take(url: str, timeout: float = database.DEFAULT_TIMEOUT
         ) -> dict[str, snapshot.Provider]:
    """:func:`read` of the placement database at ``url``.

    :raises NotNovaDatabase: it lacks placement's tables (named).
    """
    with database.read_only(url, timeout, database.PLACEMENT_TABLES) as conn:
        return read(conn)
