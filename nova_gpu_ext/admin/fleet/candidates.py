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

"""Placement in PCI-in-placement mode, emulated on pools: the one model of
it that the fleet commands, the harness and the benchmarks share.

Every whole PCI device is a resource provider with one unit of its
resource class (nova normalizes the class it reports:
``resource_classes``) and its traits. nova asks for one request group per
device (``<request_id>-<i>``, see
``RequestSpec.generate_request_groups_from_pci_requests``), and
placement answers with every way to give each group its own free
provider that has the class and traits the group asks for. Choices that
differ only in which group of a request gets which provider are one
allocation, so a request takes combinations of providers, in provider
order, at most ``limit`` per host: placement returns at most
``[scheduler] max_placement_results`` candidates for a request (it shares
them over the hosts, in an order of its own; the benchmarks share them
host after host, the fleet commands give each host the whole limit).

After a claim the compute takes the claimed devices (``consume``), which
is what the next request sees.
"""

import itertools
import typing as ty

from nova_gpu_ext.common import resource_classes
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import models

# nova's default [scheduler] max_placement_results.
MAX_PLACEMENT_RESULTS = 1000
# The root provider's request group in a candidate's mappings.
ROOT = ''


def rc_of(pool: claims.Pool) -> str:
    """The resource class of a device's provider, as nova names it."""
    rc = pool.get('resource_class')
    if rc:
        return resource_classes.normalize(rc)
    model = models.model_of(pool)
    return resource_classes.pci_default(model.vendor_id, model.product_id)


def _traits(value) -> set:
    names = {t.strip().upper() for t in str(value or '').split(',')
             if t.strip()}
    return {t if t.startswith('CUSTOM_') else f'CUSTOM_{t}' for t in names}


def provides(pool: claims.Pool, spec: ty.Mapping[str, ty.Any]) -> bool:
    """Whether placement would give this pool's provider to a spec."""
    rc = spec.get('resource_class')
    return (claims.spec_matches(pool, spec)
            and (rc is None or resource_classes.normalize(rc) == rc_of(pool))
            and _traits(spec.get('traits')) <= _traits(pool.get('traits')))


def in_placement(pools: ty.Iterable[claims.Pool]) -> bool:
    """Whether the pools are PCI-in-placement pools (carry providers)."""
    return any(claims.RP_UUID in p for p in pools)


def _choices(requests, free, used) -> ty.Iterator[dict]:
    if not requests:
        yield {}
        return
    request, rest = requests[0], requests[1:]
    if request.from_port:
        yield from _choices(rest, free, used)
        return
    matching = [p for p in free if p[claims.RP_UUID] not in used and
                any(provides(p, s) for s in request.specs)]
    for combo in itertools.combinations(matching, request.count):
        groups = {f'{request.request_id}-{i}': [p[claims.RP_UUID]]
                  for i, p in enumerate(combo)}
        taken = used | {p[claims.RP_UUID] for p in combo}
        for others in _choices(rest, free, taken):
            yield {**groups, **others}


def mappings(requests: ty.Sequence[claims.DeviceRequest],
             pools: ty.Sequence[claims.Pool],
             limit: int | None = MAX_PLACEMENT_RESULTS,
             root: str = 'root') -> list[dict]:
    """The ``mappings`` of one host's candidates, at most ``limit``.

    Each names the root provider (``''``) and one provider per request
    group. Legacy pools (no providers) get the root alone: the compute
    walks its pools itself.
    """
    if not in_placement(pools):
        return [{ROOT: [root]}]
    free = [p for p in pools if p.get('count') and p.get(claims.RP_UUID)]
    return [{ROOT: [root], **groups} for groups in itertools.islice(
        _choices(list(requests), free, frozenset()), limit)]


def offering(pools: ty.Sequence[claims.Pool],
             request: claims.DeviceRequest) -> list:
    """The pools whose providers placement would give a request."""
    return [p for p in pools if any(provides(p, s) for s in request.specs)]


def free_for(pools: ty.Sequence[claims.Pool],
             request: claims.DeviceRequest) -> dict:
    """Free devices placement would offer a request, per (model, node)."""
    free: dict = {}
    for pool in offering(pools, request):
        if pool.get('count'):
            key = models.model_of(pool), pool.get('numa_node')
            free[key] = free.get(key, 0) + int(pool['count'])
    return free


def short(pools: ty.Sequence[claims.Pool],
          requests: ty.Sequence[claims.DeviceRequest]) -> int | None:
    """The first request placement cannot give enough devices, or None.

    Why a host has no allocation candidate at all.
    """
    return next((i for i, r in enumerate(requests)
                 if sum(free_for(pools, r).values()) < r.count), None)


def consume(pools: ty.Sequence[claims.Pool],
            result: claims.WalkResult) -> tuple[dict, ...]:
    """The pools after the claim: each take from the first pools it fits.

    The walk takes from usable pools in list order, so decrementing the
    first pools of the taken model and NUMA node (and provider) gives the
    counts the compute will report.
    """
    left = [dict(p) for p in pools]
    for takes in result.takes:
        for take in takes:
            need = take.count
            for pool in left:
                if (need and pool.get('count')
                        and models.model_of(pool) == take.model
                        and pool.get('numa_node') == take.numa_node
                        and pool.get(claims.RP_UUID) == take.rp_uuid):
                    n = min(need, pool['count'])
                    pool['count'] -= n
                    need -= n
    return tuple(left)


def decide(pools: ty.Sequence[claims.Pool],
           requests: ty.Sequence[claims.DeviceRequest],
           policy: models.GpuPolicy,
           limit: int | None = MAX_PLACEMENT_RESULTS
           ) -> decision.HostDecision:
    """GpuPassthroughFilter's decision on a host, with these candidates.

    The core's own decision (and its evidence), on the candidates
    placement would return for the host's pools.
    """
    return decision.decide(pools, requests, policy,
                           mappings(requests, pools, limit))
