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

"""Packing: one seeded request stream offered to a ~40-host fleet.

Each request goes through ``sim.Scheduler.place`` (nova's handlers, real
HostStates, the first weighed host wins, its devices consumed by nova's
``PciDeviceStats.apply_requests`` on the claimed candidate).

* fill: no departures, until ``fill_stop`` requests in a row are refused;
* churn: then, before each further request, one running server chosen at
  random is deleted with probability ``DEPARTURE_PROBABILITY``.  Fewer
  departures than arrivals keep demand above capacity: in the steady state
  about one request in four is refused, and which ones are refused is
  where fragmentation shows.

The requests (and the random numbers behind the deletions) are the same
for every set-up.
"""

import collections
import dataclasses
import random

from benchmarks import workload
from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import sim

DEPARTURE_PROBABILITY = 0.75


@dataclasses.dataclass
class Tally:
    """What happened to the requests of one run."""

    offered: int = 0
    placed: int = 0
    gpus_placed: int = 0
    in_use_at_first_refusal: int | None = None
    refused: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)
    mixed: int = 0
    mixed_large: int = 0
    avoidable_splits: int = 0

    @property
    def refused_large(self) -> int:
        return self.refused[4] + self.refused[8]

    @property
    def failed_large(self) -> int:
        """4- and 8-GPU requests refused or given GPUs of mixed models.

        A CUDA job that needs identical GPUs fails on mixed ones, so this
        is what the user sees; nova counts such a placement as a success.
        """
        return self.refused_large + self.mixed_large


@dataclasses.dataclass
class Result:
    fill: Tally
    churn: Tally


def one_node_could_hold(host: sim.Host, taken: list, alias: sim.Alias,
                        count: int) -> bool:
    """Whether one NUMA node could have held the request by itself.

    True if, before this claim, a node of the host had ``count`` free GPUs
    of one model of the alias.
    """
    free = host.free()
    for pool in taken:
        free[models.model_of(pool), pool['numa_node']] += 1
    return any(n >= count for (model, _), n in free.items()
               if model in alias.models)


class Run:
    """The fleet of one set-up and the servers running on it."""

    def __init__(self, setup, host_count: int, placement: bool, seed: int):
        self.setup = setup
        self.scheduler = setup.scheduler()
        self.hosts = workload.fleet(host_count, placement,
                                    random.Random(seed))
        self.placement = placement
        self.servers = []
        self.in_use = 0

    def offer(self, alias: sim.Alias, count: int, tally: Tally):
        tally.offered += 1
        spec = sim.request_spec([(alias, count)], placement=self.placement)
        placed = self.scheduler.place(self.hosts, spec)
        if placed.host is None:
            tally.refused[count] += 1
            if tally.in_use_at_first_refusal is None:
                tally.in_use_at_first_refusal = self.in_use
            return False
        tally.placed += 1
        tally.gpus_placed += count
        mixed = len(placed.models) > 1
        tally.mixed += mixed
        tally.mixed_large += mixed and count >= 4
        tally.avoidable_splits += (
            len(placed.numa_nodes) > 1 and
            one_node_could_hold(placed.host, placed.taken, alias, count))
        self.servers.append(placed)
        self.in_use += count
        return True

    def delete(self, rng: random.Random):
        placed = self.servers.pop(rng.randrange(len(self.servers)))
        placed.host.release(placed.taken)
        self.in_use -= len(placed.taken)


def run(setup, host_count: int, placement: bool, seed: int,
        fill_stop: int, churn_requests: int) -> Result:
    requests = workload.stream(random.Random(seed))
    run_ = Run(setup, host_count, placement, seed)
    fill = Tally()
    with setup.configured():
        streak = 0
        while streak < fill_stop:
            streak = 0 if run_.offer(*next(requests), fill) else streak + 1
        churn = Tally()
        departures = random.Random(seed + 1)
        for _ in range(churn_requests):
            if (run_.servers and
                    departures.random() < DEPARTURE_PROBABILITY):
                run_.delete(departures)
            run_.offer(*next(requests), churn)
    return Result(fill, churn)
