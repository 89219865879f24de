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

"""The decisions of GpuPassthroughFilter, on plain values.

``decide`` judges one host; ``keep_local`` applies ``gpu:numa=prefer``
and ``gpu:switch=prefer`` over the whole host list of a request;
``no_host_summary`` says why a request found no host at all.
"""

import collections
import dataclasses
import functools
import heapq
import typing as ty

from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import inventory
from nova_gpu_ext.gpu import models
from nova_gpu_ext.gpu import scoring


# A candidate mapping that names no PCI request group: the legacy walk.
LEGACY_MAPPING = {'': []}
# Hosts named per model in the summary of a request that found no host.
SUMMARY_HOSTS = 3


@dataclasses.dataclass(frozen=True)
class HostDecision:
    """Which allocation candidates survive, best first, and why not others.

    The decision keeps its evidence: ``order`` holds indices into the
    candidate list given, ``walks`` the devices each of them gives every
    request (the claim's walk: models, NUMA nodes, providers) and
    ``split`` the levels (``fit.LEVELS``) at which a GPU request would
    span domains (NUMA nodes, PCIe switches); all three are
    empty when the host is refused, and ``refusal`` then says why, with
    the counts it was decided on.
    """

    order: tuple[int, ...]
    walks: tuple[claims.WalkResult, ...]
    split: tuple[frozenset, ...]
    refusal: fit.Misfit | None
    pools: ty.Sequence[claims.Pool]

    @property
    def passes(self) -> bool:
        return bool(self.order)

    @property
    def reason(self) -> str | None:
        return self.refusal.text if self.refusal else None

    @property
    def claimed(self) -> claims.WalkResult | None:
        """The walk of the candidate the scheduler claims (the first)."""
        return self.walks[0] if self.walks else None

    def keeps(self, level: fit.Level) -> bool:
        """Whether a surviving candidate keeps GPU requests unsplit."""
        return any(level not in split for split in self.split)

    @functools.cached_property
    def free(self) -> inventory.Inventory:
        """Free devices of the host, built only when asked (for logs)."""
        return inventory.Inventory.from_pools(self.pools)

    def kept_in_one(self, level: fit.Level,
                    requests: ty.Sequence[claims.DeviceRequest],
                    keeping: int) -> 'HostDecision':
        """Keep only the candidates that split no GPU request at ``level``.

        ``keeping`` counts the hosts that can, for the refusal's words.
        """
        kept = [(i, w, s) for i, w, s in
                zip(self.order, self.walks, self.split) if level not in s]
        if len(kept) == len(self.order):
            return self
        if kept:
            order, walks, split = zip(*kept)
            return dataclasses.replace(self, order=order, walks=walks,
                                       split=split)
        index, takes = level.split_request(requests, self.walks[0])
        refusal = fit.Misfit(
            level.avoidable,
            f'every way this host can give the devices splits a GPU request '
            f'over {level.domains}, and {keeping} host(s) can keep it '
            f'{level.in_one} ({level.spec}=prefer)', index, takes=takes,
            keeping=keeping)
        return dataclasses.replace(self, order=(), walks=(), split=(),
                                   refusal=refusal)


def claimed_mappings(mappings: ty.Sequence[claims.Mapping | None],
                     move: bool) -> list:
    """The mapping the compute walks by for each allocation candidate.

    A move (resize, cold migration, evacuation) is claimed on the compute
    with requests made anew from the flavor, which name no providers:
    nova 34 then walks the pools as in legacy mode whatever placement
    allocated.
    """
    return [LEGACY_MAPPING] * len(mappings) if move else list(mappings)


def _refused(refusal: fit.Misfit, pools) -> HostDecision:
    return HostDecision((), (), (), refusal, pools)


class Judge:
    """Judges the hosts of one scheduling request for GpuPassthroughFilter.

    Lives for one call of ``filter_all``: hosts whose pools read alike
    and that are walked alike are judged once (``claims.Alike``).
    """

    def __init__(self, requests: ty.Sequence[claims.DeviceRequest],
                 policy: models.GpuPolicy, move: bool = False):
        self.requests = requests
        self.policy = policy
        self.move = move
        self._alike = claims.Alike(claims.read_keys(requests))

    def _rps(self, mapping) -> tuple:
        return tuple(tuple(claims.rp_uuids_for(r, mapping))
                     for r in self.requests)

    def _offered_rps(self, rps: ty.Sequence[tuple]) -> list:
        """Per request, the providers any candidate gives it (or None)."""
        offered = []
        for index in range(len(self.requests)):
            found = {rp for key in rps for rp in key[index]}
            offered.append(found or None)
        return offered

    def _judge(self, host: claims.HostWalk, mapping, offered_rps=()):
        """(refusal with its evidence, walk) of one candidate's mapping."""
        result = host.walk(mapping)
        refusal = fit.misfit(self.requests, result, self.policy)
        if refusal:
            refusal = fit.misfit(self.requests,
                                 host.walk(mapping, evidence=True),
                                 self.policy, offered_rps)
        return refusal, result

    def decide(self, pools: ty.Sequence[claims.Pool],
               mappings: ty.Sequence[claims.Mapping | None]) -> HostDecision:
        """Judge each allocation candidate's mapping, legacy or placement.

        In legacy mode no mapping names the PCI request groups, every
        candidate gives the same walk and it is done once.  In placement
        mode each candidate fixes the providers, so its own walk says which
        models and NUMA nodes it would give; moves are judged by the walk
        the compute really does (``claimed_mappings``).
        """
        if not mappings:
            return _refused(fit.Misfit(
                fit.Why.NO_CANDIDATES,
                'no allocation candidates left for this host'), pools)
        mappings = claimed_mappings(mappings, self.move)
        rps = [self._rps(m) for m in mappings]
        if len(set(rps)) == 1:
            refusal, result = self._alike.get(
                pools, rps[0], lambda: self._judge(
                    claims.HostWalk(pools, self.requests), mappings[0],
                    self._offered_rps(rps[:1])))
            if refusal:
                return _refused(refusal, pools)
            split = fit.split_levels(self.requests, result)
            count = len(mappings)
            return HostDecision(tuple(range(count)), (result,) * count,
                                (split,) * count, None, pools)
        return self._candidates(pools, mappings, rps)

    def _candidates(self, pools, mappings, rps) -> HostDecision:
        host = claims.HostWalk(pools, self.requests)
        offered = self._offered_rps(rps)
        judged = {}
        survivors = []
        for index, (mapping, key) in enumerate(zip(mappings, rps)):
            if key not in judged:
                judged[key] = self._judge(host, mapping, offered)
            refusal, result = judged[key]
            if refusal is None:
                survivors.append((index, result))
        if not survivors:
            return _refused(max((r for r, _ in judged.values()),
                                key=lambda r: r.why.rank), pools)
        free = inventory.Inventory.from_pools(pools)
        survivors.sort(key=lambda s: (
            scoring.placement_key(self.requests, s[1], free), s[0]))
        return HostDecision(
            tuple(index for index, _ in survivors),
            tuple(result for _, result in survivors),
            tuple(fit.split_levels(self.requests, r) for _, r in survivors),
            None, pools)


def decide(pools: ty.Sequence[claims.Pool],
           requests: ty.Sequence[claims.DeviceRequest],
           policy: models.GpuPolicy,
           mappings: ty.Sequence[claims.Mapping | None],
           move: bool = False) -> HostDecision:
    """The decision on one host (see ``Judge.decide``)."""
    return Judge(requests, policy, move).decide(pools, mappings)


def keeping(decisions: ty.Sequence[HostDecision],
            level: fit.Level) -> list[int]:
    """The hosts (indices) that pass, splitting no request at ``level``."""
    return [i for i, d in enumerate(decisions)
            if d.passes and d.keeps(level)]


class Kept(ty.NamedTuple):
    """The decisions after ``gpu:...=prefer``, and who kept what.

    ``keepers`` maps each level the policy prefers to the hosts (indices)
    that kept its requests in one domain when it was applied.
    """

    decisions: list
    keepers: dict


def keep_local(decisions: ty.Sequence[HostDecision],
               requests: ty.Sequence[claims.DeviceRequest],
               policy: models.GpuPolicy) -> Kept:
    """``gpu:numa=prefer`` and ``gpu:switch=prefer`` over a host list.

    Per level the policy prefers (NUMA nodes, then PCIe switches below
    them), a placement that splits a GPU request over domains is kept only
    when no host of the list can keep every GPU request in one.  Done on
    the list, not per host, so it holds whatever the weighers decide.
    """
    decisions = list(decisions)
    keepers = {}
    for level in fit.LEVELS:
        if level.mode(policy) != fit.PREFER:
            continue
        found = keepers[level] = keeping(decisions, level)
        if found:
            decisions = [d.kept_in_one(level, requests, len(found))
                         if d.passes else d for d in decisions]
    return Kept(decisions, keepers)


def no_host_summary(requests: ty.Sequence[claims.DeviceRequest],
                    decisions: ty.Sequence[tuple[str, HostDecision]],
                    best: int = SUMMARY_HOSTS) -> str:
    """Why no host passed: refusals by kind, and the most free per model.

    Per model of the devices the requests could take, the ``best`` hosts
    with the most of them free, with their NUMA nodes, so that an operator
    sees how far the fleet is from fitting the request.
    """
    whys = collections.Counter(d.refusal.why for _, d in decisions
                               if d.refusal)
    counts = ', '.join(f'{n} {why.value}' for why, n in sorted(
        whys.items(), key=lambda item: (-item[1], item[0].rank)))
    by_model = collections.defaultdict(list)
    for name, d in decisions:
        free = collections.Counter()
        for pool in d.pools:
            if any(r.keeps(pool) for r in requests):
                free[models.model_of(pool), pool.get('numa_node')] += int(
                    pool.get('count') or 0)
        for model in {m for m, _ in free}:
            nodes = {numa: n for (m, numa), n in free.items() if m == model}
            by_model[model].append((sum(nodes.values()), name, nodes))
    if not by_model:
        most = 'no matching devices on any host'
    else:
        most = '; '.join(
            f'{model}: ' + ', '.join(
                f'{total} on {name} ({_nodes(nodes)})'
                for total, name, nodes in heapq.nlargest(
                    best, entries, key=lambda e: e[0]))
            for model, entries in sorted(by_model.items()))
    return f'{counts}; most free per model: {most}'


def _nodes(nodes: ty.Mapping[int | None, int]) -> str:
    return ','.join(f'n{numa}:{n}' for numa, n in sorted(
        nodes.items(), key=lambda item: str(item[0])))
