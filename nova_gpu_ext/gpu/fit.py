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

"""Decide whether the devices a walk gives fit a flavor's GPU policy."""

import collections
import enum
import typing as ty

from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models


class Why(str, enum.Enum):
    """Why a host (or an allocation candidate) is refused, in short.

    Ordered from the least to the most nearly fitting: a host refused for
    several reasons (one per allocation candidate) is counted under the
    most nearly fitting one.
    """

    NO_CANDIDATES = 'no allocation candidates'
    UNMET = 'not enough matching free devices'
    MIXED = 'mixed models'
    SPLIT = 'split over NUMA nodes under gpu:numa=single'
    SWITCH_SPLIT = 'split over PCIe switches under gpu:switch=single'
    AVOIDABLE_SPLIT = ('split over NUMA nodes while other hosts keep it on '
                       'one under gpu:numa=prefer')
    AVOIDABLE_SWITCH_SPLIT = ('split over PCIe switches while other hosts '
                              'keep it under one under gpu:switch=prefer')

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {why: rank for rank, why in enumerate(Why)}


FreeCounts = ty.Mapping[tuple[models.ModelKey, ty.Any], int]


class Level(ty.NamedTuple):
    """A level of locality a flavor can ask a request to stay within.

    ``attr`` is the attribute of a :class:`claims.Take` naming the domain
    (NUMA node, PCIe switch), ``policy`` the field of
    :class:`models.GpuPolicy` saying how the flavor asks for it;
    ``domains`` and ``in_one`` are the words of a refusal.
    """

    attr: str
    policy: str
    spec: str
    domains: str
    in_one: str
    single: Why
    avoidable: Why

    def __repr__(self):
        return f'Level({self.policy})'

    def mode(self, policy: models.GpuPolicy) -> str:
        """The policy's mode at this level: ``single|prefer|any``."""
        return getattr(policy, self.policy).value

    def splits(self, requests: ty.Sequence[claims.DeviceRequest],
               result: claims.WalkResult) -> int:
        """Extra domains touched by the GPU requests (0 = each in one)."""
        return sum(len({getattr(t, self.attr) for t in takes}) - 1
                   for request, takes in zip(requests, result.takes)
                   if request.is_gpu and takes)

    def split_request(self, requests: ty.Sequence[claims.DeviceRequest],
                      result: claims.WalkResult) -> tuple:
        """The first GPU request a walk splits at this level, its takes."""
        for index, (request, takes) in enumerate(
                zip(requests, result.takes)):
            if (request.is_gpu and
                    len({getattr(t, self.attr) for t in takes}) > 1):
                return index, takes
        return None, ()


NUMA = Level('numa_node', 'numa', models.NUMA_SPEC, 'NUMA nodes',
             'on one', Why.SPLIT, Why.AVOIDABLE_SPLIT)
SWITCH = Level('switch', 'switch', models.SWITCH_SPEC, 'PCIe switches',
               'under one', Why.SWITCH_SPLIT, Why.AVOIDABLE_SWITCH_SPLIT)
# In the order gpu:...=prefer is applied over a host list: a switch is
# below a NUMA node.
LEVELS = (NUMA, SWITCH)
SINGLE = 'single'
PREFER = 'prefer'


class Misfit(ty.NamedTuple):
    """A refusal: its kind, the sentence logged for it, and its evidence.

    ``request`` is the index of the request the refusal is about (None
    when no walk was made: no allocation candidates), ``free`` the free
    devices that request was offered per (model, NUMA node) - the counts
    the refusal was decided on - and ``on_switch`` the same per (model,
    PCIe switch domain), ``takes`` what the claim would have given it
    (mixed models, split NUMA nodes or switches, each take naming its
    switch).  ``keeping`` counts the hosts that keep the request in one
    domain, for ``AVOIDABLE_SPLIT`` and ``AVOIDABLE_SWITCH_SPLIT``.
    """

    why: Why
    text: str
    request: int | None = None
    free: FreeCounts = {}
    takes: tuple[claims.Take, ...] = ()
    keeping: int = 0
    on_switch: FreeCounts = {}

    @property
    def most_of_one_model(self) -> int:
        """The most free devices of one model the request was offered."""
        by_model = collections.Counter()
        for (model, _), n in self.free.items():
            by_model[model] += n
        return max(by_model.values(), default=0)

    @property
    def most_on_one_node(self) -> int:
        """The most free devices of one model on one NUMA node."""
        return max(self.free.values(), default=0)

    @property
    def most_on_one_switch(self) -> int:
        """The most free devices of one model under one PCIe switch."""
        return max(self.on_switch.values(), default=0)


def _summary(takes: ty.Iterable[claims.Take], attr: str) -> str:
    counts = collections.Counter()
    for take in takes:
        counts[str(getattr(take, attr))] += take.count
    return ' + '.join(f'{n} x {key}' for key, n in sorted(counts.items()))


def free_counts(offers: ty.Iterable[claims.Offer],
                rp_uuids: ty.Collection[str] | None = None,
                level: Level = NUMA) -> FreeCounts:
    """Offered devices per (model, domain of ``level``).

    Only of the providers ``rp_uuids`` if given.
    """
    free = collections.Counter()
    for offer in offers:
        if rp_uuids is None or offer.rp_uuid in rp_uuids:
            free[offer.model, getattr(offer, level.attr)] += offer.count
    return dict(free)


def misfit(requests: ty.Sequence[claims.DeviceRequest],
           result: claims.WalkResult,
           policy: models.GpuPolicy,
           offered_rps: ty.Sequence[ty.Collection[str] | None] = ()
           ) -> Misfit | None:
    """Why the walk's devices do not suit the flavor, or None if they do.

    Neutron port requests are only met or not: the GPU policy is about
    flavor (alias) requests.  A walk made for evidence gives the refusal
    its counts; ``offered_rps`` limits them, per request, to the
    providers placement offered it (placement mode).
    """
    index, why, text = _first_misfit(requests, result, policy)
    if why is None:
        return None
    offers = (result.offered[index] if index < len(result.offered)
              else ())
    rps = offered_rps[index] if index < len(offered_rps) else None
    takes = result.takes[index] if index < len(result.takes) else ()
    return Misfit(why, text, index, free_counts(offers, rps), takes,
                  on_switch=free_counts(offers, rps, SWITCH))


def _first_misfit(requests, result, policy) -> tuple:
    if not result.ok:
        request = requests[result.failed]
        return result.failed, Why.UNMET, (
            f'request {request.label()} cannot be met: not enough '
            f'matching free devices after the requests before it')
    for index, (request, takes) in enumerate(zip(requests, result.takes)):
        if not request.is_gpu:
            continue
        if policy.same_model and len({t.model for t in takes}) > 1:
            return index, Why.MIXED, (
                f'request {request.label()} would get mixed models '
                f'({_summary(takes, "model")})')
        for level in LEVELS:
            if (level.mode(policy) == SINGLE and
                    len({getattr(t, level.attr) for t in takes}) > 1):
                return index, level.single, (
                    f'request {request.label()} would be split over '
                    f'{level.domains} ({_summary(takes, level.attr)}) '
                    f'under {level.spec}=single')
    return None, None, None


def describe_takes(requests: ty.Sequence[claims.DeviceRequest],
                   result: claims.WalkResult) -> str:
    """``gpu:2 <- 2 x 10de:11b4 on NUMA 0`` per request, for logs."""
    if not result.ok:
        return 'nothing (the requests cannot be met)'
    return '; '.join(
        f'{r.label()} <- {_summary(takes, "model")} on NUMA '
        f'{_summary(takes, "numa_node")}'
        for r, takes in zip(requests, result.takes))


def numa_splits(requests: ty.Sequence[claims.DeviceRequest],
                result: claims.WalkResult) -> int:
    """Extra NUMA nodes touched by the GPU requests (0 = each on one)."""
    return NUMA.splits(requests, result)


def split_levels(requests: ty.Sequence[claims.DeviceRequest],
                 result: claims.WalkResult) -> frozenset:
    """The levels at which a walk splits a GPU request."""
    return frozenset(level for level in LEVELS
                     if level.splits(requests, result))
