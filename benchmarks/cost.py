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

"""Cost: filter + weigher time per scheduling request, nova's handlers.

A fleet of part-used hosts gets one request; the time of
``HostFilterHandler.get_filtered_objects`` plus
``HostWeightHandler.get_weighed_objects`` over the hosts placement returns
is measured with ``time.perf_counter`` for each set-up in turn, several
repetitions, and the median is the figure.

Placement's work is not timed: the allocation candidates are made once per
request (``workload.offer``: every combination of free providers in
placement mode, capped by ``max_results`` over all hosts as
``[scheduler] max_placement_results`` caps them) and every timed run
starts from fresh copies of those lists, because the filters replace
``host_state.allocation_candidates``.
"""

import dataclasses
import gc
import random
import statistics
import time

from benchmarks import workload
from nova_gpu_ext.harness import sim


@dataclasses.dataclass(frozen=True)
class Offer:
    """One request and what placement returns for it."""

    spec: object
    states: list
    candidates: list

    @property
    def candidate_count(self) -> int:
        return sum(len(c) for c in self.candidates)


@dataclasses.dataclass(frozen=True)
class Case:
    """One row of the cost table."""

    placement: bool
    hosts: int
    max_results: int
    count: int
    fleet: str = 'mixed'

    @property
    def mode(self) -> str:
        return 'placement' if self.placement else 'legacy'


# The fleets of the cost cases: the shares of the packing benchmark; every
# host holding both models (the hardest case for the walk); and the
# shares with each NUMA node's GPUs below a PCIe switch.
FLEETS = {
    'mixed': {},
    'two models': {'shares': {'AB': 1}},
    'switches': {'switches': True},
}


@dataclasses.dataclass(frozen=True)
class Timing:
    hosts_offered: int
    candidates: int
    ms: dict


def make_offer(hosts: list, count: int, placement: bool,
               max_results: int) -> Offer:
    """The class alias (two models) asking for ``count`` GPUs."""
    spec = sim.request_spec([(workload.ALIAS_ANY, count)],
                            placement=placement)
    offered = workload.offer(hosts, spec, max_results)
    return Offer(spec, [h.state for h in offered],
                 [list(h.state.allocation_candidates) for h in offered])


def time_once(scheduler: sim.Scheduler, offer: Offer) -> float:
    """Seconds to filter and weigh the hosts of ``offer`` once."""
    for state, found in zip(offer.states, offer.candidates):
        state.allocation_candidates = list(found)
    gc.collect()
    start = time.perf_counter()
    passed = scheduler.filter_handler.get_filtered_objects(
        scheduler.filters, offer.states, offer.spec)
    if passed:
        scheduler.weight_handler.get_weighed_objects(
            scheduler.weighers, passed, offer.spec)
    return time.perf_counter() - start


def measure(hosts: list, case: Case, setups: list,
            repetitions: int) -> Timing:
    """Median milliseconds per request, by set-up label.

    The set-ups take turns within each repetition so that a busy moment of
    the machine hits all of them alike.
    """
    offer = make_offer(hosts, case.count, case.placement, case.max_results)
    schedulers = [(s, s.scheduler()) for s in setups]
    runs = {s.label: [] for s in setups}
    for _ in range(repetitions):
        for setup, scheduler in schedulers:
            with setup.configured():
                runs[setup.label].append(time_once(scheduler, offer))
    return Timing(len(offer.states), offer.candidate_count,
                  {label: statistics.median(times) * 1e3
                   for label, times in runs.items()})


def fleet(host_count: int, placement: bool, seed: int,
          kind: str = 'mixed') -> list:
    return workload.fleet(host_count, placement, random.Random(seed),
                          occupancy=True, **FLEETS[kind])
