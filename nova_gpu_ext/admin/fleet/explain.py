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

"""Why a request would, or would not, get each host: GpuPassthroughFilter's
verdict on a snapshot, in words.

The verdict is the filter's own (:mod:`judge`, the core the filter runs);
the words say which of these it is: no such alias, wrong model (no device
of the alias's models on the host), too few free of one model, would mix
models, would split NUMA nodes. ``gpu:numa=prefer`` is decided over all
hosts, as the filter decides it over the scheduler's host list: a host
that can only split is refused while another host keeps the request on
one NUMA node.

How it can differ from the live scheduler: the other filters (RAM, CPU,
aggregates, server groups...) are not run; Placement may return fewer
allocation candidates than here (``[scheduler] max_placement_results``);
claims in flight since the snapshot are not seen.
"""

import collections
import dataclasses
import typing as ty

from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import judge
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import models

SINGLE = models.NumaMode.SINGLE
PREFER = models.NumaMode.PREFER


@dataclasses.dataclass(frozen=True)
class HostVerdict:
    host: str
    passes: bool
    reason: str


class Words:
    """Model names and device counts as an operator reads them."""

    def __init__(self, names: snapshot.ModelFilter):
        self.names = names

    def takes(self, takes: ty.Iterable[claims.Take]) -> str:
        counts = collections.Counter()
        for take in takes:
            counts[self.names.name(take.model), take.numa_node] += take.count
        return ' + '.join(f'{n} x {name} on NUMA {_node(numa)}'
                          for (name, numa), n in sorted(
                              counts.items(), key=lambda i: str(i[0])))

    def free(self, pools) -> str:
        counts = collections.Counter()
        for pool in pools:
            counts[self.names.name(models.model_of(pool))] += int(
                pool.get('count') or 0)
        return ', '.join(f'{name} {n}' for name, n in sorted(counts.items())
                         if n) or 'none'


def _node(numa) -> str:
    return '?' if numa is None else str(numa)


def explain(snap: snapshot.Snapshot, request: gpu_requests.GpuRequest,
            aliases: ty.Mapping[str, gpu_requests.Alias],
            names: snapshot.ModelFilter) -> list[HostVerdict]:
    """Every host of the snapshot with the filter's verdict and why."""
    words = Words(names)
    unknown = request.unknown_aliases(aliases)
    if unknown:
        known = ', '.join(sorted(aliases)) or 'none'
        reason = (f'no such alias {", ".join(unknown)} (the aliases are: '
                  f'{known})')
        return [HostVerdict(h.host, False, reason) for h in snap.hosts]
    devices = request.device_requests(aliases)
    policy = request.policy
    signature = capacity.Signatures()
    memo: dict = {}
    verdicts = []
    for host in snap.hosts:
        sig = signature(host.pools)
        if sig not in memo:
            memo[sig] = judge.judge(host.pools, devices, policy)
        verdicts.append(memo[sig])
    decisions = decision.keep_one_node([v.decision for v in verdicts],
                                       policy)
    able = [h.host for h, d in zip(snap.hosts, decisions)
            if d.passes and d.keeps_one_node]
    return [HostVerdict(host.host, kept.passes, _reason(
        host.pools, devices, policy, verdict, kept, able, words))
        for host, verdict, kept in zip(snap.hosts, verdicts, decisions)]


def _reason(pools, devices, policy, verdict, kept, able, words) -> str:
    if kept.passes:
        claimed = claims.walk(pools, devices, verdict.mappings[kept.order[0]])
        got = '; '.join(f'{d.label()} <- {words.takes(t)}'
                        for d, t in zip(devices, claimed.takes))
        split = (' (split over NUMA nodes: no host keeps it on one)'
                 if policy.numa is PREFER and not able else '')
        return f'passes: {got}{split}'
    if verdict.passes:
        shown = ', '.join(able[:3]) + (
            f' and {len(able) - 3} more' if len(able) > 3 else '')
        return (f'would split NUMA under gpu:numa=prefer while '
                f'{len(able)} host(s) keep it on one node ({shown})')
    return why_not(pools, devices, policy, verdict, words)


def why_not(pools, devices, policy, verdict, words) -> str:
    """The refusal in words, first from what the host lacks."""
    live = list(pools)
    for device in devices:
        matching = [p for p in live
                    if any(claims.spec_matches(p, s) for s in device.specs)]
        if not matching:
            return (f'wrong model: no device for {device.label()} on this '
                    f'host (it has: {words.free(pools)} free)')
        free = sum(int(p.get('count') or 0) for p in matching)
        best = max(_free_by(matching, models.model_of).values(), default=0)
        if free < device.count or (policy.same_model and best < device.count
                                   and device.is_gpu):
            return (f'too few free of one model: {device.label()} needs '
                    f'{device.count}, free: {words.free(matching)}')
        if policy.numa is SINGLE and device.is_gpu and max(
                _free_by(matching, _model_node).values()) < device.count:
            return (f'would split NUMA: no node has {device.count} free of '
                    f'one model for {device.label()} under gpu:numa=single '
                    f'(free: {_per_node(matching, words)})')
    if verdict.mappings:
        result = claims.walk(pools, devices, verdict.mappings[0])
        for device, takes in zip(devices, result.takes):
            if device.is_gpu and len({t.model for t in takes}) > 1:
                return (f'would mix models: the claim would give '
                        f'{device.label()} {words.takes(takes)}')
            if (device.is_gpu and policy.numa is SINGLE
                    and len({t.numa_node for t in takes}) > 1):
                return (f'would split NUMA: the claim would give '
                        f'{device.label()} {words.takes(takes)}')
    return verdict.decision.reason or 'refused'


def _model_node(pool):
    return models.model_of(pool), pool.get('numa_node')


def _free_by(pools, key) -> dict:
    counts = collections.Counter()
    for pool in pools:
        counts[key(pool)] += int(pool.get('count') or 0)
    return counts


def _per_node(pools, words) -> str:
    counts = _free_by(pools, _model_node)
    return ', '.join(f'{words.names.name(m)} {n} on NUMA {_node(numa)}'
                     for (m, numa), n in sorted(counts.items(),
                                                key=lambda i: str(i[0]))
                     if n)
