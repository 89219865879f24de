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

"""Cost: filter + weigher time per host through nova's real handlers.

One request list is offered to a fleet of part-used hosts; the time of
``HostFilterHandler.get_filtered_objects`` plus
``HostWeightHandler.get_weighed_objects`` is measured with
``time.perf_counter`` for each set-up in turn, several repetitions, and the
median total is divided by the number of hosts the filters were given.

Placement's work is not timed: the allocation candidates of each host are
computed once per request (placement mode: the combinations of the host's
free providers for the request groups, see ``sim.CANDIDATE_LIMIT``; hosts
without a candidate are not offered, as placement would not return them)
and every timed run starts from a fresh copy of those lists, because the
filters replace ``host_state.allocation_candidates``.
"""

import dataclasses
import gc
import random
import statistics
import time

from benchmarks import workload
from nova_gpu_ext.harness import sim

# One request of each size; the class alias where mixing is possible.
REQUESTS = ((workload.ALIAS_A, 1), (workload.ALIAS_ANY, 2),
            (workload.ALIAS_B, 4), (workload.ALIAS_ANY, 8))


@dataclasses.dataclass(frozen=True)
class Offer:
    """One request and the hosts placement returns for it."""

    spec: object
    states: list
    candidates: list


def offers(hosts: list, placement: bool) -> list:
    result = []
    for alias, count in REQUESTS:
        spec = sim.request_spec([(alias, count)], placement=placement)
        states, candidates = [], []
        for host in hosts:
            found = host.candidates(spec)
            if found:
                states.append(host.state)
                candidates.append(found)
        result.append(Offer(spec, states, candidates))
    return result


def time_once(scheduler: sim.Scheduler, offers_: list) -> float:
    """Seconds to filter and weigh every offer once."""
    total = 0.0
    for offer in offers_:
        for state, found in zip(offer.states, offer.candidates):
            state.allocation_candidates = list(found)
        gc.collect()
        start = time.perf_counter()
        passed = scheduler.filter_handler.get_filtered_objects(
            scheduler.filters, offer.states, offer.spec)
        if passed:
            scheduler.weight_handler.get_weighed_objects(
                scheduler.weighers, passed, offer.spec)
        total += time.perf_counter() - start
    return total


def measure(host_count: int, placement: bool, setups: list,
            repetitions: int, seed: int) -> dict:
    """Median microseconds per offered host, by set-up label.

    The set-ups take turns within each repetition so that a busy moment of
    the machine hits all of them alike.
    """
    hosts = workload.fleet(host_count, placement, random.Random(seed),
                           occupancy=True)
    offers_ = offers(hosts, placement)
    offered = sum(len(o.states) for o in offers_)
    schedulers = [(s, s.scheduler()) for s in setups]
    runs = {s.label: [] for s in setups}
    for _ in range(repetitions):
        for setup, scheduler in schedulers:
            with setup.configured():
                runs[setup.label].append(time_once(scheduler, offers_))
    return {label: statistics.median(times) * 1e6 / max(offered, 1)
            for label, times in runs.items()}
