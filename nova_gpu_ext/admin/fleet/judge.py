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

"""GpuPassthroughFilter's and GpuWeigher's verdicts on snapshot hosts.

The same core code the scheduler plugin runs (:mod:`nova_gpu_ext.gpu`),
on the pools of a snapshot host instead of a ``HostState``. In legacy PCI
mode the compute walks the pools itself, so there is one way to place a
request. In placement mode Placement offers allocation candidates; here
they are made up from the free providers of the pools, one candidate per
choice of model (and NUMA node) for each request, which is enough to
tell whether the filter would find a candidate and which one it would
claim first. Placement may return fewer (``[scheduler]
max_placement_results``).
"""

import collections
import dataclasses
import itertools
import typing as ty

from nova_gpu_ext.common import resource_classes
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import inventory
from nova_gpu_ext.gpu import models
from nova_gpu_ext.gpu import scoring

ROOT = ''


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The filter's decision on one host, and the walk it would claim."""

    decision: decision.HostDecision
    mappings: tuple[claims.Mapping, ...]
    result: claims.WalkResult | None

    @property
    def passes(self) -> bool:
        return self.decision.passes


def rc_of(pool: ty.Mapping[str, ty.Any]) -> str:
    """The resource class of a device's provider, as nova names it."""
    rc = pool.get('resource_class')
    if rc:
        return resource_classes.normalize(rc)
    model = models.model_of(pool)
    return resource_classes.pci_default(model.vendor_id, model.product_id)


def provides(pool: ty.Mapping[str, ty.Any],
             spec: ty.Mapping[str, ty.Any]) -> bool:
    """Whether Placement would give this pool's provider to a spec."""
    rc = spec.get('resource_class')
    traits = {t.strip().upper() for t in
              str(spec.get('traits') or '').split(',') if t.strip()}
    have = {t.strip().upper() for t in
            str(pool.get('traits') or '').split(',') if t.strip()}
    have = {t if t.startswith('CUSTOM_') else f'CUSTOM_{t}' for t in have}
    traits = {t if t.startswith('CUSTOM_') else f'CUSTOM_{t}'
              for t in traits}
    return (claims.spec_matches(pool, spec)
            and (rc is None or resource_classes.normalize(rc) == rc_of(pool))
            and traits <= have)


def _groups(pools, request: claims.DeviceRequest,
            policy: models.GpuPolicy) -> list[list[str]]:
    """Provider lists to choose a request's devices from, in pool order.

    One list per NUMA node and one per model for every model; when the
    flavor allows mixed models, also every matching provider.
    """
    matching = [p for p in pools if p.get('rp_uuid') and p.get('count')
                and any(provides(p, s) for s in request.specs)]
    by_node = collections.defaultdict(list)
    by_model = collections.defaultdict(list)
    for pool in matching:
        model = models.model_of(pool)
        by_node[model, pool.get('numa_node')].append(pool['rp_uuid'])
        by_model[model].append(pool['rp_uuid'])
    groups = list(by_node.values()) + list(by_model.values())
    if not policy.same_model:
        groups.append([p['rp_uuid'] for p in matching])
    return groups


def placement_mappings(pools, requests: ty.Sequence[claims.DeviceRequest],
                       policy: models.GpuPolicy) -> list[dict]:
    """Allocation candidates, one per choice of provider group a request.

    Each request takes the first free providers of its group that earlier
    requests left; duplicates are dropped.
    """
    options = [_groups(pools, r, policy) for r in requests]
    seen, mappings = set(), []
    for choice in itertools.product(*options):
        used: set[str] = set()
        mapping = {ROOT: ['root']}
        for request, group in zip(requests, choice):
            free = [rp for rp in group if rp not in used][:request.count]
            if len(free) < request.count:
                break
            used.update(free)
            mapping.update({f'{request.request_id}-{i}': [rp]
                            for i, rp in enumerate(free)})
        else:
            key = tuple(sorted((k, tuple(v)) for k, v in mapping.items()))
            if key not in seen:
                seen.add(key)
                mappings.append(mapping)
    return mappings


def placement_mode(pools) -> bool:
    return any('rp_uuid' in p for p in pools)


def judge(pools, requests: ty.Sequence[claims.DeviceRequest],
          policy: models.GpuPolicy) -> Verdict:
    """The filter's verdict, and the walk of the candidate it ranks first."""
    mappings = (placement_mappings(pools, requests, policy)
                if placement_mode(pools) else [decision.LEGACY_MAPPING])
    verdict = decision.decide(pools, requests, policy, mappings)
    result = (claims.walk(pools, requests, mappings[verdict.order[0]])
              if verdict.passes else None)
    return Verdict(verdict, tuple(mappings), result)


def weight(pools, requests: ty.Sequence[claims.DeviceRequest],
           result: claims.WalkResult, spread: bool = False) -> float:
    """GpuWeigher's raw weight of a host for the walk it would claim."""
    return scoring.gpu_weight(requests, result,
                              inventory.Inventory.from_pools(pools), spread)


def consume(pools, result: claims.WalkResult) -> tuple[dict, ...]:
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
                        and pool.get('rp_uuid') == take.rp_uuid):
                    n = min(need, pool['count'])
                    pool['count'] -= n
                    need -= n
    return tuple(left)
