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
NUMA cells), for flavor (alias) and neutron port requests alike: Nova
deep-copies the whole stats object for every allocation candidate it tries,
the walk here keeps one integer per pool, and the pool filters that do not
depend on counts or placement are decided once per distinct kind of pool
and request.  The unit tests compare it with Nova's own code on random
hosts.
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
DEV_TYPE = 'dev_type'
TYPE_PF = 'type-PF'
TYPE_VDPA = 'vdpa'
REMOTE_MANAGED = 'remote_managed'
LIVE_MIGRATABLE = 'live_migratable'
RP_UUID = 'rp_uuid'
PCIE_SWITCH = 'pcie_switch'
ADDRESS = 'address'


@dataclasses.dataclass(frozen=True)
class DeviceRequest:
    """One ``InstancePCIRequest``, reduced to what the walk reads.

    A request object lives for one scheduling call: it remembers, per kind
    of pool (the pool's values of the keys the request looks at), whether
    Nova's count-free pool filters keep the pool, so a fleet of alike hosts
    is matched once, not once per host.
    """

    count: int
    specs: tuple[ty.Mapping[str, ty.Any], ...]
    request_id: str | None = None
    alias_name: str | None = None
    from_port: bool = False
    _kept: dict = dataclasses.field(default_factory=dict, compare=False,
                                    repr=False)

    @functools.cached_property
    def matchers(self) -> tuple:
        """The specs prepared once for matching against every pool.

        Keys nova leaves to placement are dropped, strings lower-cased.
        """
        return tuple(_compile(spec) for spec in self.specs)

    @functools.cached_property
    def _pool_keys(self) -> tuple:
        """Every pool key the count-free filters of this request read."""
        keys = {key for matcher in self.matchers for key, _ in matcher}
        return tuple(sorted(keys | {DEV_TYPE, REMOTE_MANAGED,
                                    LIVE_MIGRATABLE}))

    @property
    def is_gpu(self) -> bool:
        """Flavor alias requests are ours; neutron port requests are not."""
        return bool(self.alias_name) and not self.from_port

    def label(self) -> str:
        return f'{self.alias_name or "port"}:{self.count}'

    def keeps(self, pool: Pool) -> bool:
        """Whether Nova's pool filters keep ``pool`` for this request.

        The filters that read neither counts nor placement: the spec match,
        unrequested PFs, vDPA devices and remote-managed devices, and live
        migratability (``PciDeviceStats._filter_pools`` without NUMA cells).
        """
        try:
            kind = tuple(map(pool.get, self._pool_keys))
            return self._kept[kind]
        except KeyError:
            kept = self._kept[kind] = _keeps(self, pool)
            return kept
        except TypeError:
            # A list-valued tag: not hashable, decided every time.
            return _keeps(self, pool)


class Take(ty.NamedTuple):
    """Devices taken from one pool for one request.

    ``switch`` is the PCIe switch domain of the pool (:func:`switch_of`).
    """

    model: models.ModelKey
    numa_node: int | None
    count: int
    rp_uuid: str | None = None
    switch: str | None = None


class Offer(ty.NamedTuple):
    """Free devices of one pool a request could take, when it was walked."""

    model: models.ModelKey
    numa_node: int | None
    count: int
    rp_uuid: str | None = None
    switch: str | None = None


def switch_of(pool: Pool) -> str | None:
    """The PCIe switch domain of a pool's devices.

    The ``pcie_switch`` tag (the upstream port of the GPUs' switch,
    written by ``genconf --role compute``); a device with no switch above
    it has no tag and is its own domain, named by the pool's address
    (nova splits pools per device or PF address).
    """
    return pool.get(PCIE_SWITCH) or pool.get(ADDRESS)


@dataclasses.dataclass(frozen=True)
class WalkResult:
    """The outcome of applying every request of an instance in order.

    ``takes`` has one tuple per request that was met; ``failed`` is the
    index of the first request that could not be met, or None.  A walk
    made for evidence (``HostWalk.walk(..., evidence=True)``) also keeps,
    per request walked, the free devices of every pool it could take
    from at that point (``offered``): the counts a refusal is decided on.
    """

    takes: tuple[tuple[Take, ...], ...]
    failed: int | None = None
    offered: tuple[tuple[Offer, ...], ...] = dataclasses.field(
        default=(), compare=False)

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


def _truthy(value) -> bool:
    return strutils.bool_from_string(value)


def _keeps(request: DeviceRequest, pool: Pool) -> bool:
    specs = request.specs
    if not any(_matches(pool, m) for m in request.matchers):
        return False
    dev_type = pool.get(DEV_TYPE)
    if dev_type == TYPE_PF and all(s.get(DEV_TYPE) != TYPE_PF
                                   for s in specs):
        return False
    if dev_type == TYPE_VDPA and all(s.get(DEV_TYPE) != TYPE_VDPA
                                     for s in specs):
        return False
    if (_truthy(pool.get(REMOTE_MANAGED)) and
            all(not _truthy(s.get(REMOTE_MANAGED)) for s in specs)):
        return False
    for flag in ('true', 'false'):
        if all(s.get(LIVE_MIGRATABLE) == flag for s in specs):
            return pool.get(LIVE_MIGRATABLE) == flag
    return True


class HostWalk:
    """One host's pools, prepared for the walks of one list of requests.

    In placement mode a host is walked once per allocation candidate; what
    does not depend on the candidate is done here once.
    """

    __slots__ = ('pools', 'requests', 'counts', 'kept', 'rp_shared',
                 '_models')

    def __init__(self, pools: ty.Sequence[Pool],
                 requests: ty.Sequence[DeviceRequest]):
        self.pools = pools
        self.requests = requests
        self.counts = [int(p.get('count') or 0) for p in pools]
        self.kept = [[i for i, p in enumerate(pools) if r.keeps(p)]
                     for r in requests]
        self.rp_shared = None
        self._models = {}

    def model(self, index: int) -> models.ModelKey:
        try:
            return self._models[index]
        except KeyError:
            model = self._models[index] = models.model_of(self.pools[index])
            return model

    def _take(self, index: int, count: int) -> Take:
        pool = self.pools[index]
        return Take(self.model(index), pool.get('numa_node'), count,
                    pool.get(RP_UUID), switch_of(pool))

    def _rp_split(self, gone: set) -> bool:
        """Whether a provider is in more than one pool Nova still lists.

        Nova refuses a placement claim while that is so.
        """
        if self.rp_shared is None:
            rps = collections.Counter(p.get(RP_UUID) for p in self.pools)
            rps.pop(None, None)
            self.rp_shared = {rp for rp, n in rps.items() if n > 1}
        if not self.rp_shared:
            return False
        seen = collections.Counter(
            p.get(RP_UUID) for i, p in enumerate(self.pools)
            if i not in gone)
        return any(seen[rp] > 1 for rp in self.rp_shared)

    def _offer(self, usable, counts) -> tuple[Offer, ...]:
        return tuple(Offer(*self._take(i, counts[i])) for i in usable
                     if counts[i])

    def walk(self, mapping: Mapping | None = None,
             evidence: bool = False) -> WalkResult:
        """Apply the requests in order as Nova's claim does.

        ``mapping`` is an allocation candidate's ``mappings`` (request
        group to providers); None or a mapping without the requests' groups
        gives the legacy walk.  ``evidence`` keeps what each request was
        offered (``WalkResult.offered``), for the words of a refusal.
        """
        counts = list(self.counts)
        # Pools Nova drops from its list once a claim empties them.
        gone = set()
        takes = []
        offered = []
        pools = self.pools
        for index, request in enumerate(self.requests):
            rp_uuids = rp_uuids_for(request, mapping)
            usable = [i for i in self.kept[index] if i not in gone]
            if evidence:
                offered.append(self._offer(usable, counts))
            if rp_uuids:
                wanted = collections.Counter(rp_uuids)
                usable = [i for i in usable
                          if pools[i].get(RP_UUID) in wanted and
                          counts[i] >= wanted[pools[i][RP_UUID]]]
            if (not usable or sum(counts[i] for i in usable) < request.count
                    or (rp_uuids and self._rp_split(gone))):
                return WalkResult(tuple(takes), index, tuple(offered))
            taken = []
            need = request.count
            for i in usable:
                n = (wanted.pop(pools[i][RP_UUID], 0) if rp_uuids
                     else min(counts[i], need))
                if n:
                    taken.append(self._take(i, n))
                need -= n
                counts[i] -= n
                if not counts[i]:
                    gone.add(i)
                if not need and not rp_uuids:
                    break
            takes.append(tuple(taken))
        return WalkResult(tuple(takes), None, tuple(offered))


def walk(pools: ty.Sequence[Pool], requests: ty.Sequence[DeviceRequest],
         mapping: Mapping | None = None,
         evidence: bool = False) -> WalkResult:
    """Apply ``requests`` in order to ``pools`` as Nova's claim does."""
    return HostWalk(pools, requests).walk(mapping, evidence)


# Pool keys the walk reads whatever the requests: counts, providers, and
# the model, NUMA node and PCIe switch domain of what it takes (the
# address names the domain of a device without a switch).
WALK_KEYS = ('vendor_id', 'product_id', 'numa_node', 'count', RP_UUID,
             PCIE_SWITCH, ADDRESS)


def read_keys(requests: ty.Sequence[DeviceRequest]) -> tuple:
    """Every pool key a walk of ``requests`` (and a weight of it) reads."""
    keys = set(WALK_KEYS)
    for request in requests:
        keys.update(request._pool_keys)
    return tuple(sorted(keys))


def content(pools: ty.Sequence[Pool], keys: tuple | None = None) -> tuple:
    """What a walk reads of a host's pools: equal content, equal walk.

    Alike hosts (same devices, same free counts) are common in a fleet;
    this is the key under which they are judged once.  Without ``keys``,
    every key of every pool counts.
    """
    if keys is None:
        return tuple([tuple(pool.items()) for pool in pools])
    return tuple([tuple(map(pool.get, keys)) for pool in pools])


class Alike:
    """Remembers what was worked out for a kind of host.

    Hosts whose pools read alike (:func:`content` over ``keys``, every
    key when None) share one entry per ``extra`` key: the scheduler's
    filter and weigher keep one per scheduling request, the fleet
    commands one per question.  Each kind is numbered, because Python
    does not cache the hash of a tuple of tuples; pools holding an
    unhashable value (a list-valued tag) are told apart by their text.
    """

    def __init__(self, keys: tuple | None = None):
        self._keys = keys
        self._kinds: dict = {}
        self._values: dict = {}

    def kind(self, pools: ty.Sequence[Pool]) -> int:
        """The number of the kind of ``pools``."""
        found = content(pools, self._keys)
        try:
            return self._kinds.setdefault(found, len(self._kinds))
        except TypeError:
            return self._kinds.setdefault(repr(found), len(self._kinds))

    def get(self, pools: ty.Sequence[Pool], extra: ty.Hashable,
            compute: ty.Callable[[], ty.Any], kind: int | None = None):
        """``compute()``, once per kind of ``pools`` and ``extra``."""
        key = (self.kind(pools) if kind is None else kind, extra)
        try:
            return self._values[key]
        except KeyError:
            value = self._values[key] = compute()
            return value
