"""The host decision of GpuPassthroughFilter, on plain values."""

import dataclasses
import functools
import typing as ty

from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import inventory as inventory_mod
from nova_gpu_ext.gpu import models
from nova_gpu_ext.gpu import scoring
from nova_gpu_ext.gpu import walk as walk_mod


# A candidate mapping that names no PCI request group: the legacy walk.
LEGACY_MAPPING = {'': []}


@dataclasses.dataclass(frozen=True)
class HostDecision:
    """Which allocation candidates survive, best first, and why not others.

    ``order`` holds indices into the candidate list given; it is empty when
    the host is refused, and ``reason`` then says why.
    """

    order: tuple[int, ...]
    reason: str | None
    pools: ty.Sequence[walk_mod.Pool]

    @property
    def passes(self) -> bool:
        return bool(self.order)

    @functools.cached_property
    def inventory(self) -> inventory_mod.Inventory:
        """Free devices of the host, built only when asked (for logs)."""
        return inventory_mod.Inventory.from_pools(self.pools)


def decide(pools: ty.Sequence[walk_mod.Pool],
           requests: ty.Sequence[walk_mod.DeviceRequest],
           policy: models.GpuPolicy,
           mappings: ty.Sequence[walk_mod.Mapping | None],
           move: bool = False) -> HostDecision:
    """Judge each allocation candidate's mapping, in legacy or placement.

    In legacy mode no mapping names the PCI request groups, every candidate
    gives the same walk and it is done once.  In placement mode each
    candidate fixes the providers, so its own walk says which models and
    NUMA nodes it would give.  A move (resize, cold migration, evacuation)
    is claimed on the compute with requests made anew from the flavor,
    which name no providers: nova 34 then walks the pools as in legacy
    mode whatever placement allocated, so moves are judged by that walk.
    """
    if not mappings:
        return HostDecision((), 'no allocation candidates left for this host',
                            pools)
    if move:
        mappings = [LEGACY_MAPPING] * len(mappings)
    judged = {}
    survivors = []
    for index, mapping in enumerate(mappings):
        rps = tuple(tuple(walk_mod.rp_uuids_for(r, mapping)) for r in requests)
        if rps not in judged:
            result = walk_mod.walk(pools, requests, mapping)
            judged[rps] = (fit.misfit(requests, result, policy), result)
        reason, result = judged[rps]
        if reason is None:
            survivors.append((index, result))
    if not survivors:
        reasons = sorted({reason for reason, _ in judged.values()})
        return HostDecision((), '; '.join(reasons), pools)
    if len(judged) > 1:
        inventory = inventory_mod.Inventory.from_pools(pools)
        survivors.sort(key=lambda s: (
            scoring.placement_key(requests, s[1], inventory), s[0]))
    return HostDecision(tuple(index for index, _ in survivors), None, pools)
