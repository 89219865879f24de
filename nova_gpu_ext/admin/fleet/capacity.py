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

"""Capacity questions about a snapshot: free GPUs, largest fits, stranded.

* ``rows``: per host, model and NUMA node the devices by state (free,
  used, unavailable, cordoned, awaiting cleaning), with the largest
  same-model request that fits on one NUMA node, on the host and under
  one PCIe switch;
* ``fits``: per GPU request (a catalog flavor or ``--request``), how many
  more servers fit now, each placed as GpuPassthroughFilter would allow
  (same model, ``gpu:numa``, class aliases never mixed) and claimed the
  way the compute walks;
* ``stranded``: free GPUs that no request of the list would be given
  where they are now.

Hosts with the same pools give the same answers, so a decision is made
once per kind of host (``claims.Alike``): a fleet of many alike hosts
costs little more than its distinct layouts.
"""

import collections
import dataclasses
import typing as ty

from nova_gpu_ext.admin.fleet import candidates
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import models


@dataclasses.dataclass(frozen=True)
class Row:
    """Devices of one model on one NUMA node of one host."""

    host: str
    cell: str
    model: str
    vendor_id: str
    product_id: str
    numa_node: int | None
    total: int
    free: int
    used: int
    unavailable: int
    cordoned: int
    awaiting_cleaning: int
    largest_on_node: int
    largest_on_host: int
    largest_on_switch: int


def largest_on_switch(pools: ty.Iterable[claims.Pool]) -> dict:
    """Per model, the most free devices under one PCIe switch of a host.

    The pools' ``pcie_switch`` tags, counted per (model, switch) as
    ``gpu:switch=single`` asks; a device without the tag is its own
    switch (``claims.switch_of``).
    """
    free = collections.Counter()
    for pool in pools:
        free[models.model_of(pool), claims.switch_of(pool)] += int(
            pool.get('count') or 0)
    largest = collections.Counter()
    for (model, _), n in free.items():
        largest[model] = max(largest[model], n)
    return dict(largest)


def rows(snap: snapshot.Snapshot,
         names: snapshot.ModelFilter) -> list[Row]:
    """One row per host, model and NUMA node, hosts in name order.

    ``largest_on_node`` is the largest same-model request one NUMA node of
    the host can still take (the most free on any node), and
    ``largest_on_host`` the largest the whole host can (all its free
    GPUs of the model), ``largest_on_switch`` the largest one PCIe switch
    can (from the free counts of the scheduler's pools); all three are the
    same on every row of that host and model.
    """
    result = []
    for host in snap.hosts:
        on_switch = largest_on_switch(host.pools)
        for model in host.gpu_models:
            nodes = host.numa_nodes(model)
            node_free = [host.count(model, n, snapshot.FREE) for n in nodes]
            for numa, free in zip(nodes, node_free):
                result.append(Row(
                    host=host.host, cell=host.cell, model=names.name(model),
                    vendor_id=model.vendor_id, product_id=model.product_id,
                    numa_node=numa, total=host.count(model, numa),
                    free=free, used=host.count(model, numa, snapshot.USED),
                    unavailable=host.count(model, numa,
                                           snapshot.UNAVAILABLE),
                    cordoned=host.count(model, numa, snapshot.CORDONED),
                    awaiting_cleaning=host.count(
                        model, numa, snapshot.AWAITING_CLEANING),
                    largest_on_node=max(node_free),
                    largest_on_host=host.count(model, state=snapshot.FREE),
                    largest_on_switch=on_switch.get(model, 0)))
    return result


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """One model over the fleet; the largest requests of any host."""

    model: str
    total: int
    free: int
    used: int
    unavailable: int
    cordoned: int
    awaiting_cleaning: int
    largest_on_node: int
    largest_on_host: int
    largest_on_switch: int


def summary(snap: snapshot.Snapshot,
            names: snapshot.ModelFilter) -> list[ModelSummary]:
    """Per model (by name): the rows of :func:`rows` added up."""
    per_model = collections.defaultdict(list)
    for row in rows(snap, names):
        per_model[row.model].append(row)
    return [ModelSummary(
        model=model, total=sum(r.total for r in found),
        free=sum(r.free for r in found), used=sum(r.used for r in found),
        unavailable=sum(r.unavailable for r in found),
        cordoned=sum(r.cordoned for r in found),
        awaiting_cleaning=sum(r.awaiting_cleaning for r in found),
        largest_on_node=max(r.largest_on_node for r in found),
        largest_on_host=max(r.largest_on_host for r in found),
        largest_on_switch=max(r.largest_on_switch for r in found))
        for model, found in sorted(per_model.items())]


class Placer:
    """Places requests on pools with the filter's rules, remembered.

    Answers depend only on the pools and the request, so they are kept per
    kind of host: alike hosts, and a host after a claim that leaves it
    like another one, cost nothing more.
    """

    def __init__(self, aliases: ty.Mapping[str, gpu_requests.Alias]):
        self.aliases = aliases
        self.alike = claims.Alike()
        self._devices: dict = {}
        self._fits: dict = {}

    def devices(self, request: gpu_requests.GpuRequest) -> list:
        if request not in self._devices:
            self._devices[request] = request.device_requests(self.aliases)
        return self._devices[request]

    def decide(self, pools, request: gpu_requests.GpuRequest,
               kind: int | None = None) -> decision.HostDecision:
        """The filter's decision on these pools, once per kind of host."""
        return self.alike.get(pools, ('decide', request), lambda: (
            candidates.decide(pools, self.devices(request),
                              request.policy)), kind)

    def kind(self, pools) -> int:
        """The kind of a host's pools, for the calls below.

        It reads every pool: work it out once per host, not per request.
        """
        return self.alike.kind(pools)

    def fits_on(self, pools, request: gpu_requests.GpuRequest,
                kind: int | None = None) -> int:
        """How many servers of ``request`` one host takes, one by one."""
        kind = self.alike.kind(pools) if kind is None else kind
        chain = []
        while (kind, request) not in self._fits:
            found = self.decide(pools, request, kind)
            if not found.passes:
                self._fits[kind, request] = 0
                break
            chain.append((kind, request))
            pools = candidates.consume(pools, found.claimed)
            kind = self.alike.kind(pools)
        count = self._fits[kind, request]
        for key in reversed(chain):
            count += 1
            self._fits[key] = count
        return count

    def models_taken(self, pools, request: gpu_requests.GpuRequest,
                     kind: int | None = None) -> frozenset:
        """The models one server of ``request`` would get on these pools."""
        found = self.decide(pools, request, kind)
        if not found.passes:
            return frozenset()
        return frozenset(take.model for takes in found.claimed.takes
                         for take in takes)


@dataclasses.dataclass(frozen=True)
class Fit:
    """How many more servers of one request fit now, over the fleet."""

    request: str
    gpus_per_server: int
    numa: str
    fit: int
    hosts: int


def fits(snap: snapshot.Snapshot,
         wanted: ty.Sequence[gpu_requests.GpuRequest],
         placer: Placer) -> list[Fit]:
    """Per request, the servers that fit, each request on its own."""
    servers = collections.Counter()
    hosts = collections.Counter()
    for host in snap.hosts:
        kind = placer.kind(host.pools)
        for request in wanted:
            n = placer.fits_on(host.pools, request, kind)
            servers[request] += n
            hosts[request] += bool(n)
    return [Fit(r.label, r.gpus, r.policy.numa.value, servers[r], hosts[r])
            for r in wanted]


@dataclasses.dataclass(frozen=True)
class Stranded:
    """Free GPUs of one model that no request would be given now."""

    model: str
    free: int
    stranded: int
    hosts: int


def stranded(snap: snapshot.Snapshot,
             wanted: ty.Sequence[gpu_requests.GpuRequest],
             placer: Placer, names: snapshot.ModelFilter) -> list[Stranded]:
    """Per model: free GPUs on hosts where no request would take them.

    A request takes a model on a host when a server of it placed there now
    would get GPUs of that model.
    """
    free = collections.Counter()
    lost = collections.Counter()
    hosts = collections.Counter()
    for host in snap.hosts:
        usable = set()
        kind = placer.kind(host.pools)
        for request in wanted:
            usable |= placer.models_taken(host.pools, request, kind)
        for model in host.gpu_models:
            n = host.count(model, state=snapshot.FREE)
            free[model] += n
            if n and model not in usable:
                lost[model] += n
                hosts[model] += 1
    return [Stranded(names.name(m), free[m], lost[m], hosts[m])
            for m in sorted(free)]
