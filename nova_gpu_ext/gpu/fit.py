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
    AVOIDABLE_SPLIT = ('split over NUMA nodes while other hosts keep it on '
                       'one under gpu:numa=prefer')

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {why: rank for rank, why in enumerate(Why)}


FreeCounts = ty.Mapping[tuple[models.ModelKey, ty.Optional[int]], int]


class Misfit(ty.NamedTuple):
    """A refusal: its kind, the sentence logged for it, and its evidence.

    ``request`` is the index of the request the refusal is about (None
    when no walk was made: no allocation candidates), ``free`` the free
    devices that request was offered per (model, NUMA node) - the counts
    the refusal was decided on - and ``takes`` what the claim would have
    given it (mixed models, split NUMA nodes).  ``keeping`` counts the
    hosts that keep the request on one NUMA node, for
    ``AVOIDABLE_SPLIT``.
    """

    why: Why
    text: str
    request: int | None = None
    free: FreeCounts = {}
    takes: tuple[claims.Take, ...] = ()
    keeping: int = 0

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


def _summary(takes: ty.Iterable[claims.Take], attr: str) -> str:
    counts = collections.Counter()
    for take in takes:
        counts[str(getattr(take, attr))] += take.count
    return ' + '.join(f'{n} x {key}' for key, n in sorted(counts.items()))


def free_counts(offers: ty.Iterable[claims.Offer],
                rp_uuids: ty.Collection[str] | None = None) -> FreeCounts:
    """Offered devices per (model, NUMA node), of ``rp_uuids`` if given."""
    free = collections.Counter()
    for offer in offers:
        if rp_uuids is None or offer.rp_uuid in rp_uuids:
            free[offer.model, offer.numa_node] += offer.count
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
    return Misfit(why, text, index, free_counts(offers, rps), takes)


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
        if (policy.numa is models.NumaMode.SINGLE and
                len({t.numa_node for t in takes}) > 1):
            return index, Why.SPLIT, (
                f'request {request.label()} would be split over NUMA nodes '
                f'({_summary(takes, "numa_node")}) under gpu:numa=single')
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
    return sum(len({t.numa_node for t in takes}) - 1
               for request, takes in zip(requests, result.takes)
               if request.is_gpu and takes)
