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

"""Packing: a churning request stream at a set offered load.

A fleet of 40 8-GPU hosts (16 model A, 16 model B, 8 half A half B) gets
one request per time step; each server placed runs for a geometrically
distributed number of steps, with the mean set so that the offered load
(GPU demand over GPU capacity) is 0.8, 1.0 or 1.2.  Each request goes
through nova's handlers with real HostStates (``place``), the first
weighed host wins and nova's own ``PciDeviceStats.apply_requests`` takes
its devices on the claimed candidate.

A request is served right when it is placed on GPUs of one model; a
mixed-model placement holds its GPUs until it ends but counts as not
served (a CUDA multi-GPU job fails on it).  Beside each scheduler, the
limit: the same stream served from one pool of GPUs per model, with no
host boundaries (a request for either model takes the one with more free).

The requests, their lifetimes and the fleet are the same for every set-up.

With PCIe switches, each NUMA node's 4 GPUs sit below one switch and a
share of the 2- and 4-GPU requests carry ``gpu:switch=single``: such a
request is served right only on GPUs of one model below one switch
(nova in-tree has no way to ask for that).
"""

import collections
import dataclasses
import heapq
import math
import random
import typing as ty

from benchmarks import workload
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import sim

FLEET_HOSTS = 40
# The request sizes that may ask for gpu:switch=single, and how many of
# them do in the run with PCIe switches.
SWITCH_SIZES = (2, 4)
SWITCH_SHARE = 0.5
SWITCH_SINGLE = {'gpu:switch': 'single'}


@dataclasses.dataclass(frozen=True)
class Request:
    alias: sim.Alias
    count: int
    lifetime: int
    switch_single: bool = False


@dataclasses.dataclass
class Tally:
    """GPUs offered and served right, by request size."""

    offered: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)
    served: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)
    mixed: int = 0
    # gpu:switch=single requests: GPUs asked for and served right, and
    # the placements that split them over switches.
    switch_offered: int = 0
    switch_served: int = 0
    switch_splits: int = 0

    def record(self, request: Request, placed: bool, mixed: bool = False,
               split: bool = False):
        right = placed and not mixed and not split
        self.offered[request.count] += request.count
        if right:
            self.served[request.count] += request.count
        self.mixed += placed and mixed
        if request.switch_single:
            self.switch_offered += request.count
            self.switch_served += request.count if right else 0
            self.switch_splits += placed and split

    def switch_share(self) -> float:
        """Per cent of the gpu:switch=single GPUs served right."""
        return (100.0 * self.switch_served / self.switch_offered
                if self.switch_offered else 0.0)

    def share(self, sizes: ty.Iterable[int] = workload.SIZES) -> float:
        """Per cent of the GPUs asked for by ``sizes`` served right."""
        sizes = list(sizes)
        offered = sum(self.offered[s] for s in sizes)
        served = sum(self.served[s] for s in sizes)
        return 100.0 * served / offered if offered else 0.0

    def __iadd__(self, other: 'Tally') -> 'Tally':
        self.offered += other.offered
        self.served += other.served
        self.mixed += other.mixed
        self.switch_offered += other.switch_offered
        self.switch_served += other.switch_served
        self.switch_splits += other.switch_splits
        return self


def mean_lifetime(load: float, capacity: int) -> float:
    """Steps a server runs on average for ``load`` at one arrival a step."""
    return load * capacity / workload.mean_size()


def requests(seed: int, load: float, capacity: int, count: int,
             switch_share: float = 0.0) -> list[Request]:
    """``count`` requests; lifetimes geometric with the load's mean.

    The stream of aliases and sizes depends on the seed only, so that every
    load sees the same requests; ``switch_share`` of the 2- and 4-GPU ones
    ask for ``gpu:switch=single`` (drawn apart, so the rest stays the same).
    """
    kinds = workload.stream(random.Random(seed))
    lifetimes = random.Random(seed + 1)
    switched = random.Random(seed + 2)
    p = 1.0 / mean_lifetime(load, capacity)
    return [Request(alias, size, 1 + int(math.log(1.0 - lifetimes.random())
                                         / math.log(1.0 - p)),
                    size in SWITCH_SIZES and switched.random() < switch_share)
            for (alias, size), _ in zip(kinds, range(count))]


def place(scheduler: sim.Scheduler, hosts: list, spec) -> sim.Placement:
    """One request through nova's handlers, as nova-scheduler does it.

    Only the hosts placement returns are offered (``workload.offer``).
    """
    offered = workload.offer(hosts, spec)
    by_state = {id(h.state): h for h in offered}
    passed = scheduler.filter_handler.get_filtered_objects(
        scheduler.filters, [h.state for h in offered], spec)
    if not passed:
        return sim.Placement(None, [])
    best = scheduler.weight_handler.get_weighed_objects(
        scheduler.weighers, passed, spec)[0].obj
    host = by_state[id(best)]
    return sim.Placement(host, host.claim(spec.pci_requests.requests))


def run(setup: workload.Setup, placement: bool, stream: list[Request],
        warmup: int, fleet_hosts: int = FLEET_HOSTS,
        switches: bool = False) -> Tally:
    """Serve ``stream``; count the requests after the first ``warmup``.

    ``switches``: the fleet's GPUs sit below PCIe switches.
    """
    hosts = workload.fleet(fleet_hosts, placement, switches=switches)
    scheduler = setup.scheduler()
    running = []
    tally = Tally()
    with setup.configured():
        for step, request in enumerate(stream):
            while running and running[0][0] <= step:
                _, _, host, taken = heapq.heappop(running)
                host.release(taken)
            spec = sim.request_spec(
                [(request.alias, request.count)],
                SWITCH_SINGLE if request.switch_single else None,
                placement=placement)
            placed = place(scheduler, hosts, spec)
            if placed.host:
                heapq.heappush(running, (step + request.lifetime, step,
                                         placed.host, placed.taken))
            if step >= warmup:
                tally.record(request, placed.host is not None,
                             len(placed.models) > 1,
                             request.switch_single and
                             len(switches_of(placed.taken)) > 1)
    return tally


def switches_of(taken: ty.Iterable[dict]) -> set:
    """The PCIe switch domains of the GPUs taken (``claims.switch_of``)."""
    return {claims.switch_of(pool) for pool in taken}


def limit(stream: list[Request], warmup: int,
          fleet_hosts: int = FLEET_HOSTS) -> Tally:
    """The same stream from one pool of GPUs per model, no hosts."""
    free = collections.Counter()
    for host in workload.fleet(fleet_hosts, placement=False):
        for pool in host.pools:
            free[models.model_of(pool)] += pool['count']
    running = []
    tally = Tally()
    for step, request in enumerate(stream):
        while running and running[0][0] <= step:
            _, _, model, count = heapq.heappop(running)
            free[model] += count
        model = max(request.alias.models, key=lambda m: free[m])
        placed = free[model] >= request.count
        if placed:
            free[model] -= request.count
            heapq.heappush(running, (step + request.lifetime, step, model,
                                     request.count))
        if step >= warmup:
            tally.record(request, placed)
    return tally
