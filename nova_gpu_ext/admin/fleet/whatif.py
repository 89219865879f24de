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
  ``gpu:numa``, ``prefer`` over all hosts), the one GpuWeigher weighs
  highest (``pack`` or ``spread``);
* nova in-tree: the hosts where nova's claim succeeds at all
  (PciPassthroughFilter), the one with the fewest free PCI devices
  (PCIWeigher), claimed with Placement's first candidate (the first free
  providers in provider order) in placement mode; models may mix and NUMA
  nodes split.

Ties go to the host first in name order. The devices are then taken from
the copy the way the compute's claim takes them, so later servers see
what earlier ones left. Nothing outside the copy changes.
"""

import dataclasses
import typing as ty

from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import judge
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import models

# nova.scheduler.weights.pci.PCIWeigher.MAX_DEVS: hosts with more free
# PCI devices than this weigh the same.
PCI_WEIGHER_MAX_DEVS = 100


@dataclasses.dataclass(frozen=True)
class Placed:
    """Where one server went (host None: no valid host) and what it got."""

    host: str | None
    result: claims.WalkResult | None = None

    @property
    def mixed(self) -> bool:
        return self.result is not None and any(
            len({t.model for t in takes}) > 1 for takes in self.result.takes)

    @property
    def split(self) -> bool:
        return self.result is not None and any(
            len({t.numa_node for t in takes}) > 1
            for takes in self.result.takes)


class Fleet:
    """A copy of the snapshot's pools that placements consume.

    What a scheduler works out for some pools and a request is kept, by
    the pools' signature: alike hosts are judged once, and a placement
    changes one host's signature only. Hosts are numbered in name order,
    which also breaks ties.
    """

    def __init__(self, snap: snapshot.Snapshot,
                 drained: ty.Collection[str] = ()):
        self.names = sorted(h.host for h in snap.hosts
                            if h.host not in drained)
        by_name = {h.host: h.pools for h in snap.hosts}
        self.pools = [by_name[name] for name in self.names]
        self._signature = capacity.Signatures()
        self._sigs = [self._signature(p) for p in self.pools]
        self._memo: dict = {}

    def memo(self, key, compute: ty.Callable) -> list:
        """``compute(pools)`` of every host, kept per signature and key."""
        return [self.memo_one(index, key, compute)
                for index in range(len(self.pools))]

    def memo_one(self, index: int, key, compute: ty.Callable):
        """``compute(pools)`` of one host, kept per signature and key."""
        memo = self._memo.setdefault(key, {})
        sig = self._sigs[index]
        if sig not in memo:
            memo[sig] = compute(self.pools[index])
        return memo[sig]

    def take(self, index: int, result: claims.WalkResult) -> None:
        self.pools[index] = judge.consume(self.pools[index], result)
        self._sigs[index] = self._signature(self.pools[index])

    def free_gpus(self, wanted: snapshot.ModelFilter) -> int:
        return sum(int(p.get('count') or 0) for pools in self.pools
                   for p in pools
                   if wanted.counts(models.model_of(p), p.get('dev_type')))


def _best(candidates: ty.Sequence[tuple[int, ty.Any]]) -> int | None:
    """The host index of the highest weight; the first host on ties."""
    best = None
    for index, weight in candidates:
        if best is None or weight > best[1]:
            best = (index, weight)
    return None if best is None else best[0]


class Ours:
    """GpuPassthroughFilter + GpuWeigher."""

    def __init__(self, spread: bool = False):
        self.spread = spread

    def place(self, fleet: Fleet, key, request: gpu_requests.GpuRequest,
              devices) -> Placed:
        policy = request.policy
        verdicts = fleet.memo(('ours', key), lambda pools: judge.judge(
            pools, devices, policy))
        decisions = decision.keep_one_node([v.decision for v in verdicts],
                                           policy)
        # Whether prefer narrowed the candidates: the same for every host
        # of this placement, so the weight of a kind of host is kept.
        narrowed = any(d is not v.decision
                       for d, v in zip(decisions, verdicts))
        weighed = []
        for index, (verdict, chosen) in enumerate(zip(verdicts, decisions)):
            if chosen.passes:
                mapping = verdict.mappings[chosen.order[0]]
                weighed.append((index, fleet.memo_one(
                    index, ('ours-claim', key, narrowed),
                    lambda pools, m=mapping: self._claim(pools, devices,
                                                         m))))
        index = _best([(i, claimed[1]) for i, claimed in weighed])
        if index is None:
            return Placed(None)
        result = dict(weighed)[index][0]
        fleet.take(index, result)
        return Placed(fleet.names[index], result)

    def _claim(self, pools, devices, mapping):
        """The walk a candidate gives, and GpuWeigher's weight for it."""
        result = claims.walk(pools, devices, mapping)
        return result, judge.weight(pools, devices, result, self.spread)


class InTree:
    """PciPassthroughFilter + PCIWeigher."""

    def place(self, fleet: Fleet, key, request: gpu_requests.GpuRequest,
              devices) -> Placed:
        def compute(pools):
            result = claims.walk(pools, devices,
                                 _first_candidate(pools, devices))
            return result, _pci_weight(pools)
        found = fleet.memo(('in-tree', key), compute)
        index = _best([(i, w) for i, (r, w) in enumerate(found) if r.ok])
        if index is None:
            return Placed(None)
        result = found[index][0]
        fleet.take(index, result)
        return Placed(fleet.names[index], result)


def _pci_weight(pools) -> int:
    free = sum(int(p.get('count') or 0) for p in pools)
    return PCI_WEIGHER_MAX_DEVS - min(free, PCI_WEIGHER_MAX_DEVS - 1)


def _first_candidate(pools, devices) -> claims.Mapping:
    """Placement's first allocation candidate: free providers in order."""
    if not judge.placement_mode(pools):
        return decision.LEGACY_MAPPING
    used, mapping = set(), {judge.ROOT: ['root']}
    for device in devices:
        free = [p['rp_uuid'] for p in pools
                if p.get('rp_uuid') and p.get('count')
                and p['rp_uuid'] not in used
                and any(judge.provides(p, s) for s in device.specs)]
        chosen = free[:device.count]
        used.update(chosen)
        mapping.update({f'{device.request_id}-{i}': [rp]
                        for i, rp in enumerate(chosen)})
    return mapping


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


def _hosts(placed: ty.Sequence[Placed]) -> str:
    counts: dict[str, int] = {}
    for p in placed:
        if p.host:
            counts[p.host] = counts.get(p.host, 0) + 1
    return ', '.join(f'{h}' if n == 1 else f'{h} x{n}'
                     for h, n in counts.items()) or '-'


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
    schedulers = (Ours(spread), InTree())
    fleets = [Fleet(snap, drained) for _ in schedulers]
    outcomes = []
    for key, (request, count) in enumerate(
            [(s, 1) for s in moved] + list(plan)):
        devices = request.device_requests(aliases)
        runs = [[scheduler.place(fleet, key, request, devices)
                 for _ in range(count)]
                for scheduler, fleet in zip(schedulers, fleets)]
        ours, in_tree = runs
        outcomes.append(Outcome(
            request=request.label, asked=count,
            fit=sum(p.host is not None for p in ours),
            fit_in_tree=sum(p.host is not None for p in in_tree),
            mixed_in_tree=sum(p.mixed for p in in_tree),
            split=sum(p.split for p in ours),
            split_in_tree=sum(p.split for p in in_tree),
            hosts=_hosts(ours), hosts_in_tree=_hosts(in_tree),
            free_left=fleets[0].free_gpus(wanted),
            free_left_in_tree=fleets[1].free_gpus(wanted)))
    return outcomes
