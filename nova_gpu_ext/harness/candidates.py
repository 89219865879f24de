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

"""The PCI allocation candidates placement returns, worked out from pools.

In placement mode every GPU is a resource provider with one unit, and
nova asks for one request group per device (``<request_id>-<i>``).
Placement answers with every way to give each group its own free
provider that has the resource class and traits the group asks for. The
object-level sim offers these to the scheduler, and the demo uses them to
say why no host was found.
"""

import itertools
import typing as ty

from nova_gpu_ext.admin.fleet import judge
from nova_gpu_ext.gpu import claims


def group_choices(requests: ty.Sequence[claims.DeviceRequest],
                  free: ty.Sequence[claims.Pool],
                  used: frozenset = frozenset()) -> ty.Iterator[dict]:
    """Every way to give each request group its own free provider.

    ``free`` are pools with an ``rp_uuid`` and a count left. Choices that
    differ only in which group of a request gets which provider are one
    allocation, so a request takes combinations, not permutations, of
    providers, in provider order.
    """
    if not requests:
        yield {}
        return
    request, rest = requests[0], requests[1:]
    matching = [p for p in free if p['rp_uuid'] not in used and
                any(judge.provides(p, s) for s in request.specs)]
    for combo in itertools.combinations(matching, request.count):
        groups = {f'{request.request_id}-{i}': [p['rp_uuid']]
                  for i, p in enumerate(combo)}
        taken = used | {p['rp_uuid'] for p in combo}
        for others in group_choices(rest, free, taken):
            yield {**groups, **others}


def mappings(requests: ty.Sequence[claims.DeviceRequest],
             pools: ty.Sequence[claims.Pool],
             limit: int | None = None) -> list:
    """The ``mappings`` of the candidates of one host, at most ``limit``.

    The root provider's group ``''`` is left out: the walk reads only the
    PCI request groups.
    """
    free = [p for p in pools if p.get('count') and p.get('rp_uuid')]
    return list(itertools.islice(group_choices(requests, free), limit))
