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

"""The fleet snapshot: GPUs per host, model, NUMA node and state.

Pure data. Two things per host:

* ``counts``: how many devices of each model on each NUMA node are free,
  used, unavailable, cordoned or awaiting cleaning, from nova's
  ``pci_devices`` rows (or Placement); only placement knows the last two
  (a device provider's ``reserved``, see :mod:`~nova_gpu_ext.admin.lifecycle`),
  so a cell database snapshot learns them from the placement database
  (:func:`with_providers`);
* ``pools``: the PCI pools exactly as nova-scheduler sees them (the
  compute node's ``pci_stats``, each pool a dict of its keys and free
  ``count``, sorted as ``PciDeviceStats`` sorts them), so the core's claim
  walk gives the devices the compute would give.
"""

import collections
import dataclasses
import json
import typing as ty

from nova_gpu_ext.admin import lifecycle
from nova_gpu_ext.gpu import models
from nova_gpu_ext.gpu import scoring

FREE = 'free'
USED = 'used'
UNAVAILABLE = 'unavailable'
CORDONED = lifecycle.State.CORDONED.value
AWAITING_CLEANING = lifecycle.State.AWAITING_CLEANING.value
STATES = (FREE, USED, UNAVAILABLE, CORDONED, AWAITING_CLEANING)
# The states of a device placement holds back from every boot.
HELD = (CORDONED, AWAITING_CLEANING)

# nova's pci_devices.status -> what it means for capacity. ``deleted``
# rows (and soft-deleted ones) are devices that no longer exist and are
# not counted at all.
STATE_OF_STATUS = {
    'available': FREE,
    'claimed': USED,
    'allocated': USED,
    'unavailable': UNAVAILABLE,
    'unclaimable': UNAVAILABLE,
    'removed': UNAVAILABLE,
}


Pool = ty.Mapping[str, ty.Any]
CountKey = tuple[models.ModelKey, ty.Optional[int], str]

# The most devices one pool (or one row count) may hold: a PF's VFs are
# the largest pools nova makes (at most a few hundred); a larger count is
# a damaged row, and would make the questions asked of it unbounded.
MAX_COUNT = 4096
# Pool values are nova's scalars; anything else is a damaged row.
SCALARS = (str, int, float, bool, type(None))


class BadRow(ValueError):
    """A database value that does not parse; the message says why."""


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A row left out of a snapshot: where it is and why."""

    cell: str
    host: str
    column: str
    reason: str

    def __str__(self) -> str:
        return (f'cell {self.cell}, host {self.host}: {self.column} left '
                f'out: {self.reason}')


@dataclasses.dataclass(frozen=True)
class HostGpus:
    """One compute host: device counts and the scheduler's pools."""

    host: str
    cell: str
    counts: ty.Mapping[CountKey, int]
    pools: tuple[Pool, ...] = ()

    @property
    def gpu_models(self) -> list[models.ModelKey]:
        return sorted({model for model, _, _ in self.counts})

    def numa_nodes(self, model: models.ModelKey) -> list[ty.Optional[int]]:
        return sorted({numa for m, numa, _ in self.counts if m == model},
                      key=_numa_order)

    def count(self, model: models.ModelKey, numa: ty.Any = ...,
              state: str | None = None) -> int:
        """Devices of ``model`` (on node ``numa``, in ``state``)."""
        return sum(n for (m, node, st), n in self.counts.items()
                   if m == model and (numa is ... or node == numa)
                   and (state is None or st == state))


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The fleet at one moment, from one source."""

    hosts: tuple[HostGpus, ...]
    source: str
    taken_at: float
    warnings: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    @property
    def placement(self) -> bool:
        """Whether the pools are PCI-in-placement pools (carry rp_uuid)."""
        return any('rp_uuid' in p for h in self.hosts for p in h.pools)

    def host(self, name: str) -> HostGpus | None:
        return next((h for h in self.hosts if h.host == name), None)

    def with_warning(self, text: str) -> 'Snapshot':
        return dataclasses.replace(self, warnings=self.warnings + (text,))


def _numa_order(numa: ty.Optional[int]) -> tuple[bool, int]:
    return (numa is None, numa or 0)


class ModelFilter:
    """Which devices count as GPUs, and what to call their models.

    With a catalog: its models only, by their catalog names. Without one:
    every whole device (type-PCI, type-PF), named ``vendor:product``.
    ``more`` names further kinds of devices (Placement's shared resource
    classes) and counts them too.
    """

    def __init__(self, gpu_catalog=None,
                 more: ty.Mapping[models.ModelKey, str] | None = None):
        self._names = ({} if gpu_catalog is None else
                       {models.ModelKey(m.vendor_id, m.product_id): m.name
                        for m in gpu_catalog.models})
        self._names.update(more or {})
        self._catalog = gpu_catalog is not None

    def counts(self, model: models.ModelKey, dev_type: str | None) -> bool:
        if self._catalog:
            return model in self._names
        return dev_type in scoring.PASSTHROUGH_TYPES

    def name(self, model: models.ModelKey) -> str:
        return self._names.get(model, str(model))


def device_counts(rows: ty.Iterable[ty.Mapping[str, ty.Any]],
                  wanted: ModelFilter) -> dict[CountKey, int]:
    """Count ``pci_devices``-like rows per (model, NUMA node, state).

    Each row has vendor_id, product_id, dev_type, numa_node, status and,
    optionally, ``n`` (rows already counted by the database).
    """
    counts: dict[CountKey, int] = collections.Counter()
    for row in rows:
        state = STATE_OF_STATUS.get(row['status'])
        model = models.model_of(row)
        if state is None or not wanted.counts(model, row.get('dev_type')):
            continue
        counts[model, row.get('numa_node'), state] += int(row.get('n', 1))
    return dict(counts)


def pools_from_pci_stats(text: str | None) -> tuple[Pool, ...]:
    """The scheduler's pools of a compute node's ``pci_stats`` column.

    The column holds a serialized ``PciDevicePoolList`` (older nova: a
    list of dicts). Each pool becomes the dict ``PciDevicePool.to_dict``
    gives (its set fields, tags merged in), and the list is sorted by the
    number of keys, stably, as ``PciDeviceStats`` sorts it. Text that is
    not JSON gives no pools, as nova's own ``from_pci_stats``; JSON that
    is not pools (a list where an object belongs, a count that is not a
    number or beyond :data:`MAX_COUNT`, a numa_node that is not one)
    raises :class:`BadRow` saying what.
    """
    try:
        data = json.loads(text) if text else None
    except RecursionError as exc:
        raise BadRow('nested too deep') from exc
    except (TypeError, ValueError):
        return ()
    if isinstance(data, dict) and 'nova_object.data' in data:
        objects = _mapping(data['nova_object.data'], 'the pool list').get(
            'objects', ())
        pools = [_pool(_mapping(_mapping(item, 'a pool').get(
            'nova_object.data', {}), 'a pool')) for item in _list(objects)]
    elif isinstance(data, (list, dict)):
        # The format before pool objects: dicts without tags, whose
        # numa_node nova reads as None when absent.
        items = data if isinstance(data, list) else [data]
        pools = [_checked({'numa_node': None, **item}) for item in items
                 if isinstance(item, dict)]
    else:
        return ()
    pools.sort(key=len)
    return tuple(pools)


def _mapping(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise BadRow(f'{what} is a {type(value).__name__}, not an object')
    return value


def _list(value) -> list:
    if not isinstance(value, list):
        raise BadRow(f'the pools are a {type(value).__name__}, not a list')
    return value


def _pool(item: ty.Mapping[str, ty.Any]) -> dict:
    pool = {k: v for k, v in item.items() if k != 'tags'}
    pool.update(_mapping(item.get('tags') or {}, 'the tags of a pool'))
    return _checked(pool)


def _checked(pool: dict) -> dict:
    """``pool`` if its values are nova's; else :class:`BadRow`."""
    count = pool.get('count', 0)
    if (not isinstance(count, int) or isinstance(count, bool)
            or not 0 <= count <= MAX_COUNT):
        raise BadRow(f'a pool count of {str(count)[:20]!r} (0 to '
                     f'{MAX_COUNT} expected)')
    numa = pool.get('numa_node')
    if numa is not None and (not isinstance(numa, int)
                             or isinstance(numa, bool)):
        raise BadRow(f'a pool numa_node of {str(numa)[:20]!r}')
    odd = [k for k, v in pool.items() if not isinstance(v, SCALARS)]
    if odd:
        raise BadRow(f'pool values that are not scalars ({", ".join(odd)})')
    return pool


def with_provider_tags(snap: Snapshot,
                       tags: ty.Mapping[models.ModelKey, ty.Mapping[str, str]]
                       ) -> Snapshot:
    """The snapshot with Placement's tags on its placement-mode pools.

    nova leaves ``resource_class`` and ``traits`` out of the pools it
    reports, though Placement matches requests by them; ``tags`` (from the
    catalog that rendered the device specs) puts them back per model.
    """
    def tagged(pool):
        extra = tags.get(models.model_of(pool)) if 'rp_uuid' in pool else None
        return {**extra, **pool} if extra else pool
    return dataclasses.replace(snap, hosts=tuple(
        dataclasses.replace(h, pools=tuple(tagged(p) for p in h.pools))
        for h in snap.hosts))


class Provider(ty.NamedTuple):
    """One device provider as placement counts it."""

    total: int
    reserved: int
    used: int
    traits: frozenset[str] = frozenset()

    def split(self) -> dict[str, int]:
        """Its units per state: used, free, and the rest held back.

        A unit a server holds is used, cordoned or not (it drains: ``gpu
        list`` shows it cordoned); a unit nothing holds and placement
        offers (total - reserved - used) is free; the rest is reserved,
        which :func:`lifecycle.state` of the idle device names.
        """
        used = min(self.used, self.total)
        free = max(self.total - self.reserved - self.used, 0)
        counts = {USED: used, FREE: free}
        held = self.total - used - free
        if held:
            counts[self.held_state] = held
        return counts

    @property
    def held_state(self) -> str:
        """Cordoned, or awaiting cleaning: a reserved unit's state."""
        idle = lifecycle.state(self.total, self.reserved, 0, self.traits)
        return (AWAITING_CLEANING if idle is
                lifecycle.State.AWAITING_CLEANING else CORDONED)


def with_providers(snap: Snapshot,
                   providers: ty.Mapping[str, Provider]) -> Snapshot:
    """The snapshot with what placement holds back of each pool.

    nova's ``pci_devices`` call a cordoned or awaiting-cleaning device
    available, and its pool counts it: a pool whose provider (``rp_uuid``)
    offers fewer units than the pool's ``count`` gives the difference to
    the provider's held state, in the counts and in the pool, so the
    claim walk no longer takes it, as placement would not offer it.
    """
    def host(h):
        counts = collections.Counter(h.counts)
        pools = tuple(_held_back(p, providers.get(p.get('rp_uuid')), counts)
                      for p in h.pools)
        return dataclasses.replace(h, counts=dict(counts), pools=pools)
    return dataclasses.replace(snap, hosts=tuple(map(host, snap.hosts)))


def _held_back(pool: Pool, provider: Provider | None,
               counts: collections.Counter) -> Pool:
    if provider is None:
        return pool
    key = (models.model_of(pool), pool.get('numa_node'))
    held = min(int(pool.get('count') or 0) - provider.split()[FREE],
               counts[(*key, FREE)])
    if held <= 0:
        return pool
    counts[(*key, FREE)] -= held
    counts[(*key, provider.held_state)] += held
    return {**pool, 'count': int(pool['count']) - held}
