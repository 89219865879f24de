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

"""Rank the ways a host can give its devices to a request."""

import collections
import typing as ty

from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import inventory
from nova_gpu_ext.gpu import models


def leftover(requests: ty.Sequence[claims.DeviceRequest],
             result: claims.WalkResult,
             inv: inventory.Inventory,
             level: fit.Level = fit.NUMA) -> int:
    """Free devices of the taken models left in the domains touched.

    The domains of ``level``: NUMA nodes, or PCIe switches.  Smaller is a
    better fit: the request fills a node (or switch) that was already
    partly used and leaves untouched ones whole for larger requests.
    """
    free = (inv.free_by_numa if level is fit.NUMA else inv.free_by_switch)
    taken = collections.Counter()
    for request, takes in zip(requests, result.takes):
        if request.is_gpu:
            for take in takes:
                taken[take.model, getattr(take, level.attr)] += take.count
    return sum(free.get(key, 0) - n for key, n in taken.items())


def splits(requests: ty.Sequence[claims.DeviceRequest],
           result: claims.WalkResult) -> int:
    """Extra NUMA nodes and PCIe switches the GPU requests touch."""
    return sum(level.splits(requests, result) for level in fit.LEVELS)


def placement_key(requests: ty.Sequence[claims.DeviceRequest],
                  result: claims.WalkResult,
                  inv: inventory.Inventory) -> tuple[int, int, int]:
    """Sort key of an allocation candidate, best first.

    First the candidates that fill the touched NUMA nodes most, then the
    PCIe switches, then, among equal fits, the ones that keep each request
    on one NUMA node and under one switch.  Under ``gpu:numa`` or
    ``gpu:switch`` ``single`` and ``prefer`` the filter has already
    dropped the candidates that split where others do not.
    """
    return (leftover(requests, result, inv),
            leftover(requests, result, inv, fit.SWITCH),
            splits(requests, result))


# Whole-device types; VFs and vDPA are NIC resources, not GPUs.
PASSTHROUGH_TYPES = ('type-PCI', 'type-PF')

# Weight scale: a better node fit outweighs any switch fit difference,
# which outweighs any host fit difference (hosts hold far fewer than 100
# GPUs of one model), and any fit difference outweighs a NUMA or switch
# split, which only break ties (a request has far fewer than 50 devices).
NODE_SCALE = 100
SWITCH_SCALE = 100
FIT_SCALE = 100
# A class alias request taking a model that has fewer free devices over
# the host list than another it could take: a tie-break below every fit
# and split difference (whole numbers), as long as the ranks of a
# request's walk add up to less than 1 / RANK_STEP.
RANK_STEP = 1e-3
# A host whose walk fails (only without GpuPassthroughFilter): last, but
# finite so that nova's min-max normalization still works.
UNFIT_WEIGHT = -1e9

# Per GPU request, the rank of each model it can take: 0 for the model
# with the most free devices over a host list.
Ranks = tuple[ty.Mapping[models.ModelKey, int], ...]


def free_models(requests: ty.Sequence[claims.DeviceRequest],
                pools: ty.Iterable[claims.Pool]
                ) -> tuple[collections.Counter, ...]:
    """Per request, the free devices of each model it could take here.

    Empty for a request that is not a GPU request; models with none free
    are left out.
    """
    gpu = [(index, request) for index, request in enumerate(requests)
           if request.is_gpu]
    raw = [collections.Counter() for _ in requests]
    for pool in pools:
        count = int(pool.get('count') or 0)
        if count:
            for index, request in gpu:
                if request.keeps(pool):
                    raw[index][pool.get('vendor_id'),
                               pool.get('product_id')] += count
    return tuple(collections.Counter({
        models.model_of({'vendor_id': vendor, 'product_id': product}): n
        for (vendor, product), n in found.items()}) for found in raw)


def rank_order(free: ty.Mapping[models.ModelKey, int]
               ) -> dict[models.ModelKey, int]:
    """Each model's rank: 0 for the most free, ties to the lower key."""
    return {model: rank for rank, model in enumerate(
        sorted(free, key=lambda m: (-free[m], m)))}


def model_ranks(requests: ty.Sequence[claims.DeviceRequest],
                free_per_host: ty.Iterable[tuple[ty.Sequence[claims.Pool],
                                                 int]]) -> Ranks:
    """Rank the models each GPU request can take by free devices.

    ``free_per_host`` gives each kind of host's pools once with the number
    of hosts of that kind.  A class alias request (one matching several
    models) then prefers, among equal fits, the model the host list has
    more of free, as one pool of all the fleet's GPUs would serve it, so
    that requests naming one model still find theirs.
    """
    total = [collections.Counter() for _ in requests]
    for pools, hosts in free_per_host:
        for found, free in zip(total, free_models(requests, pools)):
            for model, count in free.items():
                found[model] += count * hosts
    return tuple(rank_order(found) for found in total)


def model_rank(requests: ty.Sequence[claims.DeviceRequest],
               result: claims.WalkResult, ranks: Ranks) -> int:
    """How far from the most free models a walk's GPU requests take."""
    if not ranks:
        return 0
    return sum(max((ranked.get(take.model, 0) for take in takes),
                   default=0)
               for request, takes, ranked in zip(requests, result.takes,
                                                 ranks)
               if request.is_gpu)


def gpu_weight(requests: ty.Sequence[claims.DeviceRequest],
               result: claims.WalkResult,
               inv: inventory.Inventory,
               spread: bool = False, ranks: Ranks = ()) -> float:
    """Raw weight of a host for a GPU request (higher wins), model-aware.

    Pack: best fit - the host left with the fewest free GPUs of the taken
    model(s) wins, after the NUMA node and then the PCIe switch left with
    the fewest, so holes are filled exactly and whole nodes, switches and
    hosts stay free for large requests (and for ``gpu:switch=single``).
    Spread: the host left with the most free GPUs of the model wins.
    Among equal fits, a request kept on one NUMA node and switch wins;
    then, for a class alias, the walk taking the model the host list has
    the most of free (``ranks``, :func:`model_ranks`): measured in the
    packing benchmark, the tie-break serves more GPUs at every load, where
    putting the model first (over best fit) served fewer.
    """
    taken = collections.Counter()
    for request, takes in zip(requests, result.takes):
        if request.is_gpu:
            for take in takes:
                taken[take.model] += take.count
    host_left = sum(inv.free.get(m, 0) - n for m, n in taken.items())
    node_left = leftover(requests, result, inv)
    switch_left = leftover(requests, result, inv, fit.SWITCH)
    left = ((node_left * NODE_SCALE + switch_left) * SWITCH_SCALE +
            host_left) * FIT_SCALE
    return float((left if spread else -left) - splits(requests, result)
                 - model_rank(requests, result, ranks) * RANK_STEP)


class Scored(ty.NamedTuple):
    """A host's raw weight, and the walk and free devices behind it."""

    weight: float
    result: claims.WalkResult
    free: inventory.Inventory


class Scorer:
    """Weighs the hosts of one GPU request for GpuWeigher.

    Lives for one call of ``weigh_objects``: hosts whose pools read alike
    and that are walked alike are weighed once (``claims.Alike``).
    """

    def __init__(self, requests: ty.Sequence[claims.DeviceRequest],
                 spread: bool = False):
        self.requests = requests
        self.spread = spread
        self.ranks: Ranks = ()
        self._alike = claims.Alike(claims.read_keys(requests))

    def rank_models(self, host_pools: ty.Sequence[ty.Sequence[claims.Pool]]
                    ) -> list[int]:
        """Rank the models over the host list; the kind of each host.

        The kinds go back to :meth:`score`, so hosts are read once.
        """
        kinds = [self._alike.kind(pools) for pools in host_pools]
        first = {}
        for kind, pools in zip(kinds, host_pools):
            first.setdefault(kind, pools)
        hosts = collections.Counter(kinds)
        self.ranks = model_ranks(self.requests, (
            (pools, hosts[kind]) for kind, pools in first.items()))
        return kinds

    def _score(self, pools, mapping) -> Scored:
        result = claims.walk(pools, self.requests, mapping)
        free = inventory.Inventory.from_pools(pools)
        weight = (gpu_weight(self.requests, result, free, self.spread,
                             self.ranks)
                  if result.ok else UNFIT_WEIGHT)
        return Scored(weight, result, free)

    def score(self, pools: ty.Sequence[claims.Pool],
              mapping: claims.Mapping | None,
              kind: int | None = None) -> Scored:
        """The weight of the walk the compute does by ``mapping``."""
        rps = tuple(tuple(claims.rp_uuids_for(r, mapping))
                    for r in self.requests)
        return self._alike.get(pools, rps,
                               lambda: self._score(pools, mapping), kind)


def free_passthrough_devices(pools: ty.Iterable[claims.Pool]) -> int:
    """Free whole devices a GPU alias could take (no VFs or NIC ports)."""
    return sum(int(p.get('count') or 0) for p in pools
               if p.get('dev_type') in PASSTHROUGH_TYPES and
               not p.get('physical_network'))
