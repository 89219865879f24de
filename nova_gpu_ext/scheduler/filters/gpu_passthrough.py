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

"""GpuPassthroughFilter: nova's PCI filter, with identical GPUs per request.
"""

from oslo_log import log as logging

from nova.scheduler import filters
from nova.scheduler import utils

from nova_gpu_ext.gpu import decision
from nova_gpu_ext.scheduler import nova_objects

LOG = logging.getLogger(__name__)


class GpuPassthroughFilter(filters.BaseHostFilter):
    """A drop-in replacement for nova's PciPassthroughFilter.

    Every PCI request of the instance is walked as nova's claim will walk
    it: flavor (alias) requests and neutron port requests (SR-IOV VFs, PFs,
    vDPA and remote-managed ports) alike, and a host (or allocation
    candidate) whose walk cannot meet them is refused exactly as
    PciPassthroughFilter refuses it.  Flavor requests are GPU requests and
    must also fit the flavor's GPU policy; port requests have none.

    * legacy mode: the candidates do not name PCI providers, the compute
      walks the pools in order, and a host passes only if that walk gives
      every GPU request devices of one model (``gpu:same_model``, default
      ``[nova_gpu_ext] same_model_default``) and, under ``gpu:numa=single``,
      of one NUMA node, under ``gpu:switch=single`` below one PCIe switch
      (the pools' ``pcie_switch`` tag);
    * placement mode: each candidate fixes the providers; candidates that
      would mix models (or NUMA nodes under ``single``) are dropped and the
      rest are ordered best first (the nodes they fill most, then fewest
      NUMA nodes), because the scheduler claims the first one.

    Under ``gpu:numa=prefer`` a placement that splits a GPU request over
    NUMA nodes survives only if no host of the request's list can keep it
    on one node, and the same for ``gpu:switch=prefer`` and PCIe switches:
    decided in ``filter_all`` over the whole list, so it holds whatever
    the weighers do.

    A move (resize, cold migration, evacuation) is claimed by nova 34 with
    fresh requests that name no providers, so it is judged by the legacy
    walk in both modes.  On rebuild placement is not asked and there are no
    candidates, hence ``RUN_ON_REBUILD``.
    """

    RUN_ON_REBUILD = False

    def filter_all(self, filter_obj_list, spec_obj):
        hosts = list(filter_obj_list)
        if not self.RUN_ON_REBUILD and utils.request_is_rebuild(spec_obj):
            return hosts
        view = nova_objects.RequestView.of(spec_obj)
        if not view.requests:
            return hosts
        candidates = [list(h.allocation_candidates or ()) for h in hosts]
        judge = decision.Judge(view.requests, view.policy, view.move)
        decisions = decision.keep_local([
            judge.decide(nova_objects.pools(host),
                         nova_objects.candidate_mappings(host))
            for host in hosts], view.requests, view.policy).decisions
        debug = LOG.isEnabledFor(logging.DEBUG)
        passed = []
        for host, found, decided in zip(hosts, candidates, decisions):
            host.allocation_candidates = [found[i] for i in decided.order]
            if debug:
                _log(host, view, decided, len(found))
            if decided.passes:
                passed.append(host)
        if hosts and not passed:
            LOG.info('GpuPassthroughFilter: no host for instance %(uuid)s '
                     'requesting %(request)s among %(count)d host(s): '
                     '%(summary)s',
                     {'uuid': view.instance_uuid, 'request': view.describe(),
                      'count': len(hosts),
                      'summary': decision.no_host_summary(
                          view.requests, [(str(h.host), d) for h, d in
                                          zip(hosts, decisions)])})
        return passed

    def host_passes(self, host_state, spec_obj):
        """The decision on one host alone, as ``filter_all`` makes it."""
        return bool(self.filter_all([host_state], spec_obj))


def _log(host_state, view, decided, total):
    LOG.debug('%(host)s %(outcome)s PCI request(s) %(request)s (free: '
              '%(free)s)%(reason)s; kept %(kept)d of %(total)d allocation '
              'candidate(s)',
              {'host': host_state,
               'outcome': 'passes' if decided.passes else 'fails',
               'request': view.describe(), 'free': decided.free.describe(),
               'reason': f': {decided.reason}' if decided.reason else '',
               'kept': len(decided.order), 'total': total})
