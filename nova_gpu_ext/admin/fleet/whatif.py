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

"""What if these servers came now: placed on a copy of the snapshot, by
nova_gpu_ext and, side by side, by nova's in-tree PCI scheduling.

Each server goes to one host, chosen as the scheduler would choose it:

* nova_gpu_ext: the hosts GpuPassthroughFilter passes (same model,
  ``gpu:numa`` and ``gpu:switch``, ``prefer`` over all hosts), the one
  GpuWeigher weighs
  highest (``pack`` or ``spread``);
* nova in-tree: the hosts where nova's claim succeeds at all
  (PciPassthroughFilter: the core's decision under ``models.IN_TREE``),
  the one with the fewest free PCI devices (PCIWeigher), claimed with
  Placement's first candidate in placement mode; models may mix and NUMA
  nodes split.

Ties go to the host first in name order. The devices are then taken from
the copy the way the compute's claim takes them, so later servers see
what earlier ones left. Nothing outside the copy changes.

The work is bounded: each kind of request is judged once per kind of
host (``claims.Alike``), the hosts that pass are kept in a heap by weight,
and a placement changes only the host it chose, so a server costs the
same whatever the number of hosts it does not touch. Once a server of a
kind fits nowhere, the rest of that kind do not either, and each placed
server takes at least one free GPU: a count larger than the fleet could
ever hold ends at the first miss.
"""

import collections
import dataclasses
import heapq
import itertools
import typing as ty

from nova_gpu_ext.admin.fleet import candidates
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import inventory
from nova_gpu_ext.gpu import models
from nova_gpu_ext.gpu import scoring

# nova.scheduler.weights.pci.PCIWeigher.MAX_DEVS: hosts with more free
# PCI devices than this weigh the same.
PCI_WEIGHER_MAX_DEVS = 100


class Fleet:
    """A copy of the snapshot's pools that placements consume.

    Hosts are numbered in name order, which also breaks ties; what a
    scheduler works out for a kind of host and request is remembered
    (``claims.Alike``), so alike hosts are judged once.
    """

    def __init__(self, snap: snapshot.Snapshot,
                 wanted: snapshot.ModelFilter,
                 drained: ty.Collection[str] = ()):
        self.names = sorted(h.host for h in snap.hosts
                            if h.host not in drained)
        by_name = {h.host: h.pools for h in snap.hosts}
        self.pools = [by_name[name] for name in self.names]
        self.alike = claims.Alike()
        self.kinds = [self.alike.kind(p) for p in self.pools]
        self._wanted = wanted
        self.free_gpus = sum(self._free(p) for p in self.pools)

    def remember(self, index: int, key, compute: ty.Callable):
        """``compute(pools)`` of one host, once per kind of host and key."""
        pools = self.pools[index]
        return self.alike.get(pools, key, lambda: compute(pools),
                              self.kinds[index])

    def _free(self, pools) -> int:
        return sum(int(p.get('count') or 0) for p in pools
                   if self._wanted.counts(models.model_of(p),
                                          p.get('dev_type')))

    def take(self, index: int, result: claims.WalkResult) -> None:
        self.free_gpus -= self._free(self.pools[index])
        self.pools[index] = candidates.consume(self.pools[index], result)
        self.kinds[index] = self.alike.kind(self.pools[index])
        self.free_gpus += self._free(self.pools[index])


class _Ranked:
    """The hosts that pass, best weight first (the first host on ties).

    Entries of a host that changed since are dropped when they come up.
    """

    def __init__(self):
        self._heap: list = []
        self._current: dict[int, tuple] = {}
        self._pushed = itertools.count()

    def put(self, index: int, entry: tuple | None) -> None:
        """``entry`` is (weight, walk) of the host, None if it fails."""
        self._current[index] = entry
        if entry is not None:
            heapq.heappush(self._heap, (-entry[0], index,
                                        next(self._pushed), entry))

    def top(self) -> tuple[int, tuple] | None:
        """The best host and its entry, dropping entries out of date."""
        while self._heap:
            _, index, _, entry = self._heap[0]
            if self._current.get(index) is entry:
                return index, entry
            heapq.heappop(self._heap)
        return None

    def best(self) -> tuple[int, claims.WalkResult] | None:
        top = self.top()
        return None if top is None else (top[0], top[1][1])


class _Tier:
    """The hosts one filter outcome passes, as GpuWeigher weighs them.

    Hosts are kept by the models their walk takes: the weigher breaks a
    tie between equal fits by the model the passing hosts have more of
    free (``scoring.model_ranks``), and that changes as servers are
    placed, so each group of hosts is a heap of its own and the best of
    the groups' best is taken under the ranks of the moment.
    """

    def __init__(self, devices):
        self.devices = devices
        self._groups: dict[tuple, _Ranked] = {}
        self._hosts: dict[int, tuple] = {}
        self._free = [collections.Counter() for _ in devices]

    def put(self, index: int, entry: tuple | None) -> None:
        """``entry`` is (weight, walk, free models) or None if it fails."""
        old = self._hosts.pop(index, None)
        if old is not None:
            self._groups[old[0]].put(index, None)
            self._count(old[1], -1)
        if entry is None:
            return
        group = tuple(frozenset(take.model for take in takes)
                      for takes in entry[1].takes)
        self._hosts[index] = (group, entry[2])
        self._groups.setdefault(group, _Ranked()).put(index, entry[:2])
        self._count(entry[2], 1)

    def _count(self, free_models, sign: int) -> None:
        for total, free in zip(self._free, free_models):
            total.update({m: sign * n for m, n in free.items()})

    def best(self) -> tuple[int, claims.WalkResult] | None:
        ranks = tuple(scoring.rank_order(+free) for free in self._free)
        found = []
        for ranked in self._groups.values():
            top = ranked.top()
            if top is not None:
                index, (weight, walk) = top
                weight -= scoring.model_rank(self.devices, walk,
                                             ranks) * scoring.RANK_STEP
                found.append((-weight, index, walk))
        if not found:
            return None
        _, index, walk = min(found, key=lambda f: f[:2])
        return index, walk


class Ours:
    """GpuPassthroughFilter + GpuWeigher, for one kind of request."""

    def __init__(self, fleet: Fleet, key, devices, policy, spread: bool):
        self.fleet, self.key, self.devices = fleet, key, devices
        self.policy, self.spread = policy, spread
        # gpu:numa=prefer, gpu:switch=prefer: tier N ranks the hosts that
        # keep the request in one domain of each of the first N levels
        # preferred, and the deepest tier with a host wins, as the filter
        # applies the levels in order (a switch sits below one NUMA node).
        self.levels = [level for level in fit.LEVELS
                       if level.mode(policy) == fit.PREFER]
        self.tiers = [_Tier(devices) for _ in range(len(self.levels) + 1)]
        for index in range(len(fleet.pools)):
            self._rank(index)

    def _decide(self, pools) -> tuple:
        """Per tier, (weight, walk, free models) of the host, or None."""
        found = candidates.decide(pools, self.devices, self.policy)
        free = inventory.Inventory.from_pools(pools)
        free_models = scoring.free_models(self.devices, pools)
        entries = [self._weighed(found, free, free_models)]
        for level in self.levels:
            found = found.kept_in_one(level, self.devices, 1)
            entries.append(self._weighed(found, free, free_models))
        return tuple(entries)

    def _weighed(self, found: decision.HostDecision, free,
                 free_models) -> tuple | None:
        if not found.passes:
            return None
        return (scoring.gpu_weight(self.devices, found.claimed, free,
                                   self.spread), found.claimed, free_models)

    def _rank(self, index: int) -> None:
        entries = self.fleet.remember(index, ('ours', self.key),
                                      self._decide)
        for tier, entry in zip(self.tiers, entries):
            tier.put(index, entry)

    def place(self) -> tuple[int, claims.WalkResult] | None:
        best = next(filter(None, (tier.best()
                                  for tier in reversed(self.tiers))), None)
        if best is not None:
            self.fleet.take(best[0], best[1])
            self._rank(best[0])
        return best


class InTree:
    """PciPassthroughFilter + PCIWeigher, for one kind of request."""

    def __init__(self, fleet: Fleet, key, devices):
        self.fleet, self.key, self.devices = fleet, key, devices
        self.ranked = _Ranked()
        for index in range(len(fleet.pools)):
            self._rank(index)

    def _decide(self, pools):
        found = decision.decide(
            pools, self.devices, models.IN_TREE,
            candidates.mappings(self.devices, pools, limit=1))
        return (_pci_weight(pools), found.claimed) if found.passes else None

    def _rank(self, index: int) -> None:
        self.ranked.put(index, self.fleet.remember(
            index, ('in-tree', self.key), self._decide))

    def place(self) -> tuple[int, claims.WalkResult] | None:
        best = self.ranked.best()
        if best is not None:
            self.fleet.take(best[0], best[1])
            self._rank(best[0])
        return best


def _pci_weight(pools) -> int:
    free = sum(int(p.get('count') or 0) for p in pools)
    return PCI_WEIGHER_MAX_DEVS - min(free, PCI_WEIGHER_MAX_DEVS - 1)


@dataclasses.dataclass
class Placed:
    """How the servers of one request went under one scheduler."""

    fit: int = 0
    mixed: int = 0
    split: int = 0
    hosts: dict = dataclasses.field(default_factory=dict)

    def add(self, host: str, result: claims.WalkResult, devices) -> None:
        self.fit += 1
        self.hosts[host] = self.hosts.get(host, 0) + 1
        gpu_takes = [t for d, t in zip(devices, result.takes) if d.is_gpu]
        self.mixed += any(len({t.model for t in takes}) > 1
                          for takes in gpu_takes)
        self.split += bool(fit.numa_splits(devices, result))

    def host_list(self) -> str:
        return ', '.join(h if n == 1 else f'{h} x{n}'
                         for h, n in self.hosts.items()) or '-'


def _place(scheduler, fleet: Fleet, devices, count: int) -> Placed:
    placed = Placed()
    for _ in range(count):
        best = scheduler.place()
        if best is None:
            break
        placed.add(fleet.names[best[0]], best[1], devices)
    return placed


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One line of the answer: a request, or a drained server.

    How it went under each scheduler, and the free GPUs left after it.
    """

    request: str
    asked: int
    fit: int
    fit_in_tree: int
    mixed_in_tree: int
    split: int
    split_in_tree: int
    hosts: str
    hosts_in_tree: str
    free_left: int
    free_left_in_tree: int


def what_if(snap: snapshot.Snapshot,
            plan: ty.Sequence[tuple[gpu_requests.GpuRequest, int]],
            aliases: ty.Mapping[str, gpu_requests.Alias],
            wanted: snapshot.ModelFilter, spread: bool = False,
            drained: ty.Collection[str] = (),
            moved: ty.Sequence[gpu_requests.GpuRequest] = ()
            ) -> list[Outcome]:
    """Place ``moved`` servers (one each), then ``plan``, in order.

    ``drained`` hosts are taken out of both copies first: their servers
    (``moved``) must find room on the others.
    """
    ours_fleet = Fleet(snap, wanted, drained)
    in_tree_fleet = Fleet(snap, wanted, drained)
    outcomes = []
    for key, (request, count) in enumerate(
            [(s, 1) for s in moved] + list(plan)):
        devices = request.device_requests(aliases)
        ours = _place(Ours(ours_fleet, key, devices, request.policy, spread),
                      ours_fleet, devices, count)
        in_tree = _place(InTree(in_tree_fleet, key, devices), in_tree_fleet,
                         devices, count)
        outcomes.append(Outcome(
            request=request.label, asked=count, fit=ours.fit,
            fit_in_tree=in_tree.fit, mixed_in_tree=in_tree.mixed,
            split=ours.split, split_in_tree=in_tree.split,
            hosts=ours.host_list(), hosts_in_tree=in_tree.host_list(),
            free_left=ours_fleet.free_gpus,
            free_left_in_tree=in_tree_fleet.free_gpus))
    return outcomes
