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

"""Predict which devices Nova's PCI claim takes, without Nova.

Nova (``nova.pci.stats.PciDeviceStats``) gives a request its devices by
walking the host's pools in list order, after dropping the pools that do
not fit the request, and taking from each pool until the request's count is
met.  The scheduler sees the same pool order as the compute (both sort the
pools by their number of keys, stably), so the walk done here on the
scheduler's pool dicts tells which models and NUMA nodes the compute will
hand out.  In placement mode the walk is limited to the resource providers
of an allocation candidate, exactly as the compute later limits it to the
providers of the claimed allocation.

This is a faithful, copy-free re-implementation of
``PciDeviceStats.apply_requests`` for the scheduler's case (no instance
NUMA cells): Nova deep-copies the whole stats object for every allocation
candidate it tries, the walk here keeps one integer per pool.  The unit
tests compare it with Nova's own code on random hosts.
"""

import collections
import dataclasses
import functools
import typing as ty

from oslo_utils import strutils

from nova_gpu_ext.gpu import models

Pool = ty.Mapping[str, ty.Any]
Mapping = ty.Mapping[str, ty.Sequence[str]]

# Spec keys Nova leaves to placement and ignores when matching pools.
IGNORED_SPEC_KEYS = frozenset(('resource_class', 'traits', 'rp_uuids'))
TYPE_PF = 'type-PF'
TYPE_VDPA = 'vdpa'
REMOTE_MANAGED = 'remote_managed'
LIVE_MIGRATABLE = 'live_migratable'


@dataclasses.dataclass(frozen=True)
class DeviceRequest:
    """One ``InstancePCIRequest``, reduced to what the walk reads."""

    count: int
    specs: tuple[ty.Mapping[str, ty.Any], ...]
    request_id: str | None = None
    alias_name: str | None = None
    from_port: bool = False

    @functools.cached_property
    def matchers(self) -> tuple:
        """The specs prepared once for matching against every pool.

        Keys nova leaves to placement are dropped, strings lower-cased.
        """
        return tuple(_compile(spec) for spec in self.specs)

    @property
    def is_gpu(self) -> bool:
        """Flavor alias requests are ours; neutron port requests are not."""
        return bool(self.alias_name) and not self.from_port

    def label(self) -> str:
        return f'{self.alias_name or "port"}:{self.count}'


@dataclasses.dataclass(frozen=True)
class Take:
    """Devices taken from one pool for one request."""

    model: models.ModelKey
    numa_node: int | None
    count: int
    rp_uuid: str | None = None


@dataclasses.dataclass(frozen=True)
class WalkResult:
    """The outcome of applying every request of an instance in order.

    ``takes`` has one tuple per request that was met; ``failed`` is the
    index of the first request that could not be met, or None.
    """

    takes: tuple[tuple[Take, ...], ...]
    failed: int | None = None

    @property
    def ok(self) -> bool:
        return self.failed is None


def rp_uuids_for(request: DeviceRequest, mapping: Mapping | None) -> list:
    """The providers placement gave a request, one entry per device."""
    if request.from_port:
        return []
    if not mapping:
        rp_uuids = request.specs[0].get('rp_uuids') if request.specs else None
        return rp_uuids.split(',') if rp_uuids else []
    if not request.request_id:
        return []
    return [rps[0] for group, rps in mapping.items()
            if rps and group.startswith(request.request_id)]


def _compile(spec: ty.Mapping[str, ty.Any]) -> tuple:
    return tuple((key, value.lower() if isinstance(value, str) else value)
                 for key, value in spec.items()
                 if key not in IGNORED_SPEC_KEYS)


def _value_matches(pool_value, spec_value) -> bool:
    if isinstance(spec_value, list) and isinstance(pool_value, list):
        return all(x in pool_value for x in spec_value)
    if isinstance(pool_value, str):
        pool_value = pool_value.lower()
    return pool_value == spec_value


def _matches(pool: Pool, matcher: tuple) -> bool:
    return all(_value_matches(pool.get(key), value) for key, value in matcher)


def spec_matches(pool: Pool, spec: ty.Mapping[str, ty.Any]) -> bool:
    """Nova's ``pci_device_prop_match`` for one spec of a request."""
    return _matches(pool, _compile(spec))


class _Entry:
    """A pool and its remaining count during one walk."""

    __slots__ = ('pool', 'count')

    def __init__(self, pool: Pool):
        self.pool = pool
        self.count = int(pool.get('count') or 0)


def _truthy(value) -> bool:
    return strutils.bool_from_string(value)


def _usable(entries: list, request: DeviceRequest, rp_uuids: list) -> list:
    """The pools a request may take from, in walk order, or [] if too few.

    Nova's ``_filter_pools`` without instance NUMA cells.
    """
    specs = request.specs
    matchers = request.matchers
    entries = [e for e in entries
               if any(_matches(e.pool, m) for m in matchers)]
    if all(s.get('dev_type') != TYPE_PF for s in specs):
        entries = [e for e in entries if e.pool.get('dev_type') != TYPE_PF]
    if all(s.get('dev_type') != TYPE_VDPA for s in specs):
        entries = [e for e in entries if e.pool.get('dev_type') != TYPE_VDPA]
    if all(not _truthy(s.get(REMOTE_MANAGED)) for s in specs):
        entries = [e for e in entries if REMOTE_MANAGED not in e.pool or
                   not _truthy(e.pool[REMOTE_MANAGED])]
    if rp_uuids:
        wanted = collections.Counter(rp_uuids)
        entries = [e for e in entries
                   if e.pool.get('rp_uuid') in wanted and
                   e.count >= wanted[e.pool['rp_uuid']]]
    for flag in ('true', 'false'):
        if all(s.get(LIVE_MIGRATABLE) == flag for s in specs):
            entries = [e for e in entries
                       if e.pool.get(LIVE_MIGRATABLE) == flag]
            break
    if not entries or sum(e.count for e in entries) < request.count:
        return []
    return entries


def _rp_split_over_pools(entries: list) -> bool:
    seen = collections.Counter(e.pool['rp_uuid'] for e in entries
                               if 'rp_uuid' in e.pool)
    return any(n > 1 for n in seen.values())


def _take(entry: _Entry, count: int) -> Take:
    pool = entry.pool
    return Take(models.model_of(pool), pool.get('numa_node'), count,
                pool.get('rp_uuid'))


def walk(pools: ty.Sequence[Pool], requests: ty.Sequence[DeviceRequest],
         mapping: Mapping | None = None) -> WalkResult:
    """Apply ``requests`` in order to ``pools`` as Nova's claim does.

    ``mapping`` is an allocation candidate's ``mappings`` (request group to
    providers); None or a mapping without the requests' groups gives the
    legacy walk.
    """
    live = [_Entry(p) for p in pools]
    takes = []
    for index, request in enumerate(requests):
        rp_uuids = rp_uuids_for(request, mapping)
        usable = _usable(live, request, rp_uuids)
        if not usable:
            return WalkResult(tuple(takes), index)
        taken = []
        if not rp_uuids:
            need = request.count
            for entry in usable:
                n = min(entry.count, need)
                if n:
                    taken.append(_take(entry, n))
                need -= n
                entry.count -= n
                if not entry.count:
                    live.remove(entry)
                if not need:
                    break
        else:
            if _rp_split_over_pools(live):
                return WalkResult(tuple(takes), index)
            wanted = collections.Counter(rp_uuids)
            for entry in usable:
                n = wanted.pop(entry.pool['rp_uuid'], 0)
                if n:
                    taken.append(_take(entry, n))
                entry.count -= n
                if not entry.count:
                    live.remove(entry)
        takes.append(tuple(taken))
    return WalkResult(tuple(takes))
