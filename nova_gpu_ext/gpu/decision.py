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

"""The host decision of GpuPassthroughFilter, on plain values."""

import dataclasses
import functools
import typing as ty

from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import inventory
from nova_gpu_ext.gpu import models
from nova_gpu_ext.gpu import scoring


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
    pools: ty.Sequence[claims.Pool]

    @property
    def passes(self) -> bool:
        return bool(self.order)

    @functools.cached_property
    def free(self) -> inventory.Inventory:
        """Free devices of the host, built only when asked (for logs)."""
        return inventory.Inventory.from_pools(self.pools)


def claimed_mappings(mappings: ty.Sequence[claims.Mapping | None],
                     move: bool) -> list:
    """The mapping the compute walks by for each allocation candidate.

    A move (resize, cold migration, evacuation) is claimed on the compute
    with requests made anew from the flavor, which name no providers:
    nova 34 then walks the pools as in legacy mode whatever placement
    allocated.
    """
    return [LEGACY_MAPPING] * len(mappings) if move else list(mappings)


def decide(pools: ty.Sequence[claims.Pool],
           requests: ty.Sequence[claims.DeviceRequest],
           policy: models.GpuPolicy,
           mappings: ty.Sequence[claims.Mapping | None],
           move: bool = False) -> HostDecision:
    """Judge each allocation candidate's mapping, in legacy or placement.

    In legacy mode no mapping names the PCI request groups, every candidate
    gives the same walk and it is done once.  In placement mode each
    candidate fixes the providers, so its own walk says which models and
    NUMA nodes it would give; moves are judged by the walk the compute
    really does (``claimed_mappings``).
    """
    if not mappings:
        return HostDecision((), 'no allocation candidates left for this host',
                            pools)
    mappings = claimed_mappings(mappings, move)
    judged = {}
    survivors = []
    for index, mapping in enumerate(mappings):
        rps = tuple(tuple(claims.rp_uuids_for(r, mapping)) for r in requests)
        if rps not in judged:
            result = claims.walk(pools, requests, mapping)
            judged[rps] = (fit.misfit(requests, result, policy), result)
        reason, result = judged[rps]
        if reason is None:
            survivors.append((index, result))
    if not survivors:
        reasons = sorted({reason for reason, _ in judged.values()})
        return HostDecision((), '; '.join(reasons), pools)
    if len(judged) > 1:
        free = inventory.Inventory.from_pools(pools)
        survivors.sort(key=lambda s: (
            scoring.placement_key(requests, s[1], free), s[0]))
    return HostDecision(tuple(index for index, _ in survivors), None, pools)
