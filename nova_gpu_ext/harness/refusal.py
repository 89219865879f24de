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

"""Why a server got no host, in the words of the filter's own reasoning.

nova answers a refused boot with "No valid host was found". The demo
says why: it asks the core GpuPassthroughFilter runs
(``decision.decide``) about every host's pools as they were when the
server was refused, and formats the evidence the decision carries: the
request refused, the free devices it was offered, what the claim would
have given it. nova's in-tree ``PciPassthroughFilter`` checks the same
walk with no GPU policy (``models.IN_TREE``). In placement mode the
hosts' allocation candidates are the ones placement would return
(:mod:`nova_gpu_ext.admin.fleet.candidates`), and a host without any is
refused for what placement cannot give it.
"""

import collections
import dataclasses
import typing as ty

from nova_gpu_ext.admin.fleet import candidates
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import models

NameOf = ty.Callable[[models.ModelKey], str]

# One domain of each level of fit.LEVELS, and how a split over its
# domains is named.
DOMAIN = {fit.NUMA: 'NUMA node', fit.SWITCH: 'PCIe switch'}
OVER = {fit.NUMA: 'NUMA', fit.SWITCH: 'PCIe switches'}


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """One host's answer to the request the server was refused for.

    ``request`` is the index of the request the host cannot serve,
    ``free`` its matching free devices per (model, NUMA node) and
    ``takes`` what nova's claim would give it (empty if too few are
    free). ``level`` is the level of fit.LEVELS a split refusal is at,
    ``switches`` the host's PCIe switches (its ``pcie_switch`` tags).
    """

    host: str
    passes: bool
    request: int
    free: ty.Mapping[tuple[models.ModelKey, int | None], int]
    takes: tuple[claims.Take, ...]
    level: fit.Level | None = None
    switches: frozenset = frozenset()


def host_facts(host: str, pools: ty.Sequence[claims.Pool],
               requests: ty.Sequence[claims.DeviceRequest],
               policy: models.GpuPolicy,
               placement: bool) -> HostFacts:
    """The filter's decision on one host, and its evidence, as facts."""
    mappings = (candidates.mappings(requests, pools) if placement
                else [decision.LEGACY_MAPPING])
    found = decision.decide(pools, requests, policy, mappings)
    refusal = found.refusal
    if found.passes:
        return HostFacts(host, True, 0, {}, ())
    if refusal.request is None:
        index = candidates.short(pools, requests) or 0
        return HostFacts(host, False, index,
                         candidates.free_for(pools, requests[index]), ())
    level = next((level for level in fit.LEVELS
                  if refusal.why in (level.single, level.avoidable)), None)
    return HostFacts(host, False, refusal.request,
                     {k: n for k, n in refusal.free.items() if n},
                     tuple(refusal.takes), level,
                     frozenset(filter(None, (pool.get(claims.PCIE_SWITCH)
                                             for pool in pools))))


def _models(hosts, request) -> list:
    seen = []
    for _, pools in hosts:
        for pool in candidates.offering(pools, request):
            if models.model_of(pool) not in seen:
                seen.append(models.model_of(pool))
    return seen


def _headline(request, wanted, policy, name_of) -> str:
    names = [name_of(m) for m in wanted]
    if len(names) == 1:
        noun = names[0]
    else:
        noun = f'GPUs ({" or ".join(names)})'
    qualities = []
    if policy.same_model and len(names) > 1:
        qualities.append(' of one model')
    qualities += [f' {level.in_one} {DOMAIN[level]}' for level in fit.LEVELS
                  if level.mode(policy) == fit.SINGLE]
    if not qualities:
        return f'no host has {request.count} free {noun}'
    return f'no host can give {request.count} {noun}{"".join(qualities)}'


def _count(free, by_numa: bool, name_of) -> str:
    by_model = collections.defaultdict(list)
    for (model, numa), n in free.items():
        by_model[model].append((numa, n))
    parts = []
    for model, counts in by_model.items():
        total = sum(n for _, n in counts)
        text = f'{total} {name_of(model)}'
        if by_numa:
            text += ' (' + ', '.join(f'{n} on NUMA {numa}'
                                     for numa, n in sorted(counts)) + ')'
        parts.append(text)
    return ' + '.join(parts)


def _detail(facts: HostFacts, policy, name_of) -> str:
    if not facts.takes:
        by_numa = policy.numa is models.NumaMode.SINGLE
        return f'{facts.host} has {_count(facts.free, by_numa, name_of)}'
    given = collections.Counter()
    for take in facts.takes:
        given[take.model] += take.count
    devices = ' + '.join(f'{n} {name_of(m)}' for m, n in given.items())
    if len(given) > 1:
        return f'{facts.host} would give {devices}'
    level = facts.level or fit.NUMA
    domains = sorted({getattr(t, level.attr) for t in facts.takes}, key=str)
    if level is fit.SWITCH:
        if not facts.switches.intersection(domains):
            return (f'{facts.host} has {_count(facts.free, False, name_of)}'
                    f', below no PCIe switch')
        # A device without a switch above it is a domain of its own.
        domains = list(dict.fromkeys(
            d if d in facts.switches else 'none' for d in domains))
    return (f'{facts.host} would give {devices} over {OVER[level]} '
            f'{" + ".join(map(str, domains))}')


def explain(hosts: ty.Sequence[tuple[str, ty.Sequence[claims.Pool]]],
            requests: ty.Sequence[claims.DeviceRequest],
            policy: models.GpuPolicy | None, placement: bool,
            name_of: NameOf = str) -> str:
    """One sentence: why no host of ``hosts`` (name, pools) was found.

    ``policy`` None stands for nova's in-tree scheduling.
    """
    policy = policy or models.IN_TREE
    if not any(r.is_gpu for r in requests):
        return 'refused, though it asks for no GPU'
    facts = [host_facts(name, pools, requests, policy, placement)
             for name, pools in hosts]
    passing = [f.host for f in facts if f.passes]
    if passing:
        return (f'refused by another check: {", ".join(passing)} '
                f'had the GPUs')
    index = min(f.request for f in facts)
    request = requests[index]
    facts = [f for f in facts if f.request == index and f.free]
    headline = _headline(request, _models(hosts, request), policy, name_of)
    if not facts:
        return f'{headline}: all are in use'
    total = sum(sum(f.free.values()) for f in facts)
    if total >= request.count:
        headline += f', though {total} are free in all'
    return f'{headline}: ' + '; '.join(
        _detail(f, policy, name_of) for f in facts)
