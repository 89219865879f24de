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
decision on a snapshot, in words.

The decision is the core's own (:mod:`nova_gpu_ext.gpu.decision`, on the
candidates placement would return: :mod:`candidates`), and so is its
evidence: the devices the claim would give each request, or, for a
refused host, the request refused and the free devices it was offered.
The words only format that evidence: no such alias, wrong model (no
device of the alias's models on the host), too few free of one model,
would mix models, would split NUMA nodes, would split over PCIe switches
(naming them). ``gpu:numa=prefer`` and ``gpu:switch=prefer`` are decided
over all hosts, as the filter decides them over the scheduler's host
list: a host that can only split is refused while another host keeps the
request on one NUMA node (under one switch). A host placement gives no
allocation candidates also names its GPUs placement holds back
(cordoned, awaiting cleaning), from the snapshot's counts: the evidence
holds only free devices, and such a host's GPUs are out of service, not
missing.

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
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import models

PREFER = models.NumaMode.PREFER
# Hosts named in the words of a refusal under gpu:numa=prefer.
SHOWN = 3


@dataclasses.dataclass(frozen=True)
class Explanation:
    """One host of the snapshot, the filter's decision on it, in words."""

    host: str
    passes: bool
    reason: str


class Words:
    """Model names and device counts as an operator reads them."""

    def __init__(self, names: snapshot.ModelFilter):
        self.names = names

    def takes(self, takes: ty.Iterable[claims.Take],
              level: str = 'numa_node') -> str:
        """``2 x a100 on NUMA 0``; ``level='switch'``: under its switch."""
        counts = collections.Counter()
        for take in takes:
            counts[self.names.name(take.model),
                   getattr(take, level)] += take.count
        return ' + '.join(f'{n} x {name} {_WHERE[level]} {_node(domain)}'
                          for (name, domain), n in sorted(
                              counts.items(), key=lambda i: str(i[0])))

    def free(self, free: fit.FreeCounts) -> str:
        counts = collections.Counter()
        for (model, _), n in free.items():
            counts[self.names.name(model)] += n
        return ', '.join(f'{name} {n}' for name, n in sorted(counts.items())
                         if n) or 'none'

    def held(self, host: snapshot.HostGpus) -> str:
        """The host's GPUs out of service, per state and model; or ''."""
        parts = []
        for state in snapshot.HELD:
            counts = collections.Counter()
            for model in host.gpu_models:
                counts[self.names.name(model)] += host.count(
                    model, state=state)
            found = ', '.join(f'{name} {n}' for name, n in
                              sorted(counts.items()) if n)
            if found:
                parts.append(f'{state.replace("_", " ")}: {found}')
        return '; '.join(parts)

    def per_domain(self, free: fit.FreeCounts,
                   level: str = 'numa_node') -> str:
        """Free devices per model and NUMA node (or switch)."""
        return ', '.join(f'{self.names.name(m)} {n} {_WHERE[level]} '
                         f'{_node(domain)}'
                         for (m, domain), n in sorted(
                             free.items(), key=lambda i: str(i[0])) if n)


# How the words place a device in its domain, per Take attribute.
_WHERE = {'numa_node': 'on NUMA', 'switch': 'under switch'}


def _node(numa) -> str:
    return '?' if numa is None else str(numa)


def _host_free(pools) -> fit.FreeCounts:
    counts = collections.Counter()
    for pool in pools:
        counts[models.model_of(pool), pool.get('numa_node')] += int(
            pool.get('count') or 0)
    return counts


def explain(snap: snapshot.Snapshot, request: gpu_requests.GpuRequest,
            aliases: ty.Mapping[str, gpu_requests.Alias],
            names: snapshot.ModelFilter) -> list[Explanation]:
    """Every host of the snapshot with the filter's decision and why."""
    unknown = request.unknown_aliases(aliases)
    if unknown:
        known = ', '.join(sorted(aliases)) or 'none'
        reason = (f'no such alias {", ".join(unknown)} (the aliases are: '
                  f'{known})')
        return [Explanation(h.host, False, reason) for h in snap.hosts]
    placer = capacity.Placer(aliases)
    devices = placer.devices(request)
    found = [placer.decide(host.pools, request) for host in snap.hosts]
    kept = decision.keep_local(found, devices, request.policy)
    keepers = {level: [snap.hosts[i].host for i in hosts]
               for level, hosts in kept.keepers.items()}
    words = Words(names)
    return [Explanation(host.host, decided.passes, _reason(
        host, devices, decided, keepers, words))
        for host, decided in zip(snap.hosts, kept.decisions)]


def _reason(host, devices, decided, keepers, words) -> str:
    if decided.passes:
        got = '; '.join(f'{d.label()} <- {words.takes(t)}'
                        for d, t in zip(devices, decided.claimed.takes))
        split = ''.join(f' (split over {level.domains}: no host keeps it '
                        f'{level.in_one})' for level, hosts in keepers.items()
                        if not hosts and level in decided.split[0])
        return f'passes: {got}{split}'
    return why_not(host.pools, devices, decided.refusal, keepers, words,
                   words.held(host))


# The words of a refusal under gpu:...=prefer, per level.
_AVOIDABLE = {
    fit.Why.AVOIDABLE_SPLIT: (fit.NUMA, 'would split NUMA', 'on one node'),
    fit.Why.AVOIDABLE_SWITCH_SPLIT: (
        fit.SWITCH, 'would split over PCIe switches', 'under one switch'),
}


def _avoidable(refusal: fit.Misfit, keepers, words, devices) -> str:
    level, split, kept = _AVOIDABLE[refusal.why]
    keeping = keepers.get(level, [])
    shown = ', '.join(keeping[:SHOWN]) + (
        f' and {len(keeping) - SHOWN} more' if len(keeping) > SHOWN else '')
    takes = ''
    if level is fit.SWITCH and refusal.request is not None:
        takes = (f' (the claim would give {devices[refusal.request].label()}'
                 f' {words.takes(refusal.takes, "switch")})')
    return (f'{split} under {level.spec}=prefer while {refusal.keeping} '
            f'host(s) keep it {kept} ({shown}){takes}')


def why_not(pools, devices, refusal: fit.Misfit, keepers, words,
            held: str = '') -> str:
    """A refusal and its evidence in words.

    ``keepers`` maps each level of ``gpu:...=prefer`` to the hosts that
    keep the request in one domain of it. ``held`` names the host's GPUs
    out of service: placement offers them to no request, so a host left
    without allocation candidates says which of its GPUs are cordoned or
    awaiting cleaning.
    """
    if refusal.why in _AVOIDABLE:
        return _avoidable(refusal, keepers, words, devices)
    if refusal.request is None:
        return refusal.text + (f'; out of service here: {held}'
                               if held else '')
    device = devices[refusal.request]
    if not refusal.free:
        return (f'wrong model: no device for {device.label()} on this '
                f'host (it has: {words.free(_host_free(pools))} free)')
    if refusal.why is fit.Why.UNMET or (
            refusal.why is fit.Why.MIXED
            and refusal.most_of_one_model < device.count):
        return (f'too few free of one model: {device.label()} needs '
                f'{device.count}, free: {words.free(refusal.free)}')
    if refusal.why is fit.Why.MIXED:
        return (f'would mix models: the claim would give '
                f'{device.label()} {words.takes(refusal.takes)}')
    if refusal.why is fit.Why.SWITCH_SPLIT:
        return _switch_split(device, refusal, words)
    if refusal.most_on_one_node < device.count:
        return (f'would split NUMA: no node has {device.count} free of '
                f'one model for {device.label()} under gpu:numa=single '
                f'(free: {words.per_domain(refusal.free)})')
    return (f'would split NUMA: the claim would give '
            f'{device.label()} {words.takes(refusal.takes)}')


def _switch_split(device, refusal: fit.Misfit, words) -> str:
    if refusal.most_on_one_switch < device.count:
        return (f'would split over PCIe switches: no switch has '
                f'{device.count} free of one model for {device.label()} '
                f'under gpu:switch=single (free: '
                f'{words.per_domain(refusal.on_switch, "switch")})')
    return (f'would split over PCIe switches: the claim would give '
            f'{device.label()} {words.takes(refusal.takes, "switch")}')
