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

"""GpuPassthroughFilter: identical GPUs for every multi-GPU request."""

from oslo_log import log as logging

from nova.scheduler import filters

from nova_gpu_ext.gpu import decision
from nova_gpu_ext.scheduler import nova_objects

LOG = logging.getLogger(__name__)


class GpuPassthroughFilter(filters.BaseHostFilter):
    """Pass hosts whose PCI claim would give each GPU request one model.

    A GPU request is a PCI request from a flavor alias; neutron port
    requests are applied (they use up pools) but never judged.  For each
    allocation candidate the filter replays the compute's device walk:

    * legacy mode: the candidates do not name PCI providers, the compute
      walks the pools in order, and a host passes only if that walk gives
      every GPU request devices of one model (``gpu:same_model``, default
      ``[nova_gpu_ext] same_model_default``) and, under ``gpu:numa=single``,
      of one NUMA node;
    * placement mode: each candidate fixes the providers; candidates that
      would mix models (or NUMA nodes under ``single``) are dropped and the
      rest are ordered best first (fewest NUMA nodes, then the nodes they
      fill most), because the scheduler claims the first one.

    A move (resize, cold migration, evacuation) is claimed by nova 34 with
    fresh requests that name no providers, so it is judged by the legacy
    walk in both modes.

    It also refuses hosts that cannot meet the requests at all, so it never
    passes a host that PciPassthroughFilter refuses.  On rebuild placement
    is not asked and there are no candidates, hence ``RUN_ON_REBUILD``.
    """

    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        view = nova_objects.request_view(spec_obj)
        if not view.has_gpu:
            return True
        requests, policy = view.requests, view.policy
        candidates = list(host_state.allocation_candidates or ())
        result = decision.decide(
            nova_objects.pools(host_state), requests, policy,
            nova_objects.candidate_mappings(host_state), move=view.move)
        host_state.allocation_candidates = [
            candidates[i] for i in result.order]
        if LOG.isEnabledFor(logging.DEBUG):
            _log(host_state, requests, policy, result, len(candidates))
        return result.passes


def _log(host_state, requests, policy, result, total):
    LOG.debug('%(host)s %(verdict)s GPU request(s) %(requests)s (%(policy)s; '
              'free: %(free)s)%(reason)s; kept %(kept)d of %(total)d '
              'allocation candidate(s)',
              {'host': host_state,
               'verdict': 'passes' if result.passes else 'fails',
               'requests': ', '.join(r.label() for r in requests),
               'policy': policy, 'free': result.free.describe(),
               'reason': f': {result.reason}' if result.reason else '',
               'kept': len(result.order), 'total': total})
