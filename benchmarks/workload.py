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

"""The fleets, request streams and scheduler set-ups both benchmarks share.

Every host has 8 whole GPUs (type-PCI), 4 on each of 2 NUMA nodes, of two
models: all model A, all model B, or model A on node 0 and model B on
node 1, in the proportions 2 : 2 : 1.  Requests ask for 1, 2, 4 or 8 GPUs
through one of three aliases: model A, model B, or a class alias matching
both models.
"""

import contextlib
import dataclasses
import random
import typing as ty

from nova.scheduler.filters import pci_passthrough_filter
from nova.scheduler.weights import pci

from nova_gpu_ext import conf
from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import sim
from nova_gpu_ext.scheduler.filters import gpu_passthrough
from nova_gpu_ext.scheduler.weights import gpu

MODEL_A = models.ModelKey('10de', '1db4')
MODEL_B = models.ModelKey('10de', '1eb8')
ALIAS_A = sim.Alias('gpu-a', (MODEL_A,))
ALIAS_B = sim.Alias('gpu-b', (MODEL_B,))
ALIAS_ANY = sim.Alias('gpu', (MODEL_A, MODEL_B))
# Which alias a request names, and how often: model A, model B, either.
ALIASES = (ALIAS_A, ALIAS_B, ALIAS_ANY)
ALIAS_WEIGHTS = (40, 30, 30)

GPUS_PER_NODE = 4
GPUS_PER_HOST = 2 * GPUS_PER_NODE
# Request sizes and how often each is asked for: mostly small servers,
# with enough 4- and 8-GPU ones that fragmentation costs something.
SIZES = (1, 2, 4, 8)
SIZE_WEIGHTS = (40, 30, 20, 10)
LARGE = (4, 8)

# Scheduling modes: legacy, and PCI in placement (pools with rp_uuid).
MODES = (('legacy', False), ('placement', True))

HOST_KINDS = {
    'A': (MODEL_A, MODEL_A),
    'B': (MODEL_B, MODEL_B),
    'AB': (MODEL_A, MODEL_B),
}
# 16 model A hosts, 16 model B hosts and 8 half-half hosts per 40.
KIND_SHARES = {'A': 2, 'B': 2, 'AB': 1}

# nova's default [scheduler] max_placement_results: placement returns at
# most this many allocation candidates per request, over all hosts.
MAX_PLACEMENT_RESULTS = 1000


def gpus(kind: str, switches: bool = False) -> list:
    """The GPUs of a host of ``kind`` in PCI address order, node 0 first.

    With ``switches``, the 4 GPUs of each NUMA node sit below one PCIe
    switch (``pcie_switch`` tag ``sw0`` or ``sw1``), as on a PCIe GPU
    server with one switch per CPU socket.
    """
    return [sim.Gpu(model, node,
                    pcie_switch=f'sw{node}' if switches else None)
            for node, model in enumerate(HOST_KINDS[kind])
            for _ in range(GPUS_PER_NODE)]


def host_kinds(count: int, shares: ty.Mapping[str, int] = KIND_SHARES
               ) -> list:
    """``count`` host kinds in the ``shares`` given, interleaved."""
    cycle = [kind for kind, share in shares.items()
             for _ in range(share)]
    return [cycle[i % len(cycle)] for i in range(count)]


def fleet(count: int, placement: bool, rng: random.Random | None = None,
          occupancy: bool = False, switches: bool = False,
          shares: ty.Mapping[str, int] = KIND_SHARES) -> list:
    """``count`` hosts, shuffled by ``rng``; with ``occupancy`` part used.

    A used host has a uniformly random number of its GPUs, chosen at
    random, in use, as a running cloud has; ``switches`` puts each NUMA
    node's GPUs below a PCIe switch (:func:`gpus`); ``shares`` are those
    of the host kinds.
    """
    kinds = host_kinds(count, shares)
    if rng:
        rng.shuffle(kinds)
    hosts = []
    for i, kind in enumerate(kinds):
        host = sim.Host(f'{kind.lower()}-{i:05d}', gpus(kind, switches),
                        placement)
        if occupancy:
            used = rng.randint(0, len(host.pools))
            for pool in rng.sample(host.pools, used):
                pool['count'] = 0
            host.report()
        hosts.append(host)
    return hosts


def capacity(hosts: ty.Sequence[sim.Host]) -> int:
    return sum(len(h.pools) for h in hosts)


def mean_size() -> float:
    return (sum(s * w for s, w in zip(SIZES, SIZE_WEIGHTS)) /
            sum(SIZE_WEIGHTS))


def stream(rng: random.Random) -> ty.Iterator[tuple[sim.Alias, int]]:
    """Endless (alias, GPUs) requests; the same seed gives the same ones."""
    while True:
        yield (rng.choices(ALIASES, ALIAS_WEIGHTS)[0],
               rng.choices(SIZES, SIZE_WEIGHTS)[0])


def offer(hosts: ty.Sequence[sim.Host], spec,
          max_results: int | None = MAX_PLACEMENT_RESULTS) -> list:
    """Set the allocation candidates placement returns; the hosts offered.

    Placement returns, host after host, one candidate per combination of
    free providers (one request group per GPU) in placement mode and the
    root provider in legacy mode, and stops at ``max_results`` candidates
    over all hosts (None: no limit).  A host without a candidate is not
    returned at all.
    """
    offered = []
    left = max_results
    for host in hosts:
        host.candidate_limit = left
        host.offer(spec)
        found = host.state.allocation_candidates
        if left == 0:
            found = host.state.allocation_candidates = []
        elif left is not None:
            left -= len(found)
        if found:
            offered.append(host)
    return offered


@dataclasses.dataclass(frozen=True)
class Setup:
    """A scheduler configuration: filters, weighers and option overrides."""

    label: str
    filters: tuple
    weighers: tuple
    overrides: ty.Mapping[tuple[str, str], ty.Any]

    def scheduler(self) -> sim.Scheduler:
        return sim.Scheduler(self.filters, self.weighers)

    @contextlib.contextmanager
    def configured(self):
        """Apply the option overrides for the duration of a run."""
        for (group, name), value in self.overrides.items():
            conf.CONF.set_override(name, value, group)
        try:
            yield
        finally:
            for group, name in self.overrides:
                conf.CONF.clear_override(name, group)


IN_TREE = Setup('nova in-tree', (pci_passthrough_filter.PciPassthroughFilter,),
                (pci.PCIWeigher,), {})
# GpuPassthroughFilter in place of PciPassthroughFilter and GpuWeigher in
# place of PCIWeigher (genconf mutes PCIWeigher with a multiplier of 0).
OURS = Setup('nova_gpu_ext', (gpu_passthrough.GpuPassthroughFilter,),
             (gpu.GpuWeigher,), {})
# Both filters, as the install guide used to say: correct, and slower.
STACKED = Setup('both filters',
                (pci_passthrough_filter.PciPassthroughFilter,
                 gpu_passthrough.GpuPassthroughFilter),
                (pci.PCIWeigher, gpu.GpuWeigher),
                {('filter_scheduler', 'pci_weight_multiplier'): 0.0})
