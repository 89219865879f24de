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

"""GpuWeigher: model-aware best fit for GPU requests."""

from oslo_log import log as logging

from nova.scheduler import utils
from nova.scheduler import weights

from nova_gpu_ext import conf
from nova_gpu_ext.gpu import decision
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import scoring
from nova_gpu_ext.scheduler import nova_objects

LOG = logging.getLogger(__name__)
CONF = conf.CONF


class GpuWeigher(weights.BaseHostWeigher):
    """Pack (or spread) GPU requests by model; keep GPU hosts for GPU work.

    For a GPU request the weigher replays the device walk the compute will
    do (on the first allocation candidate, the one the scheduler claims, as
    ordered by GpuPassthroughFilter) and scores the host by the free GPUs of
    the taken model left on the touched NUMA nodes, PCIe switches (the
    pools' ``pcie_switch`` tags) and on the host (``[nova_gpu_ext]
    weigher_policy``); among equal fits a request kept on one NUMA node
    and below one switch wins, then, for a class alias, the model the
    weighed hosts have the most of free.  A request without GPUs prefers
    hosts with fewer free whole PCI devices.  The RequestSpec is read once
    per call of ``weigh_objects``, for all hosts.
    """

    def weight_multiplier(self, host_state):
        return utils.get_weight_multiplier(
            host_state, 'gpu_weight_multiplier',
            CONF.nova_gpu_ext.gpu_weight_multiplier)

    def weigh_objects(self, weighed_obj_list, weight_properties):
        view = nova_objects.RequestView.of(weight_properties)
        scorer = scoring.Scorer(
            view.requests, CONF.nova_gpu_ext.weigher_policy == 'spread')
        hosts = [w.obj for w in weighed_obj_list]
        pools = [nova_objects.pools(h) for h in hosts]
        if not view.has_gpu:
            return [_weigh_no_gpu(h, p) for h, p in zip(hosts, pools)]
        kinds = scorer.rank_models(pools)
        return [_weigh(h, p, k, view, scorer)
                for h, p, k in zip(hosts, pools, kinds)]

    def _weigh_object(self, host_state, weight_properties):
        return self.weigh_objects([weights.WeighedHost(host_state, 0.0)],
                                  weight_properties)[0]


def _weigh_no_gpu(host_state, pools):
    free = scoring.free_passthrough_devices(pools)
    LOG.debug('%(host)s: %(free)d free whole PCI device(s) for a request '
              'without GPUs', {'host': host_state, 'free': free})
    return -float(free)


def _weigh(host_state, pools, kind, view, scorer):
    mappings = nova_objects.candidate_mappings(host_state)
    claimed = (decision.claimed_mappings(mappings[:1], view.move)
               or [decision.LEGACY_MAPPING])[0]
    scored = scorer.score(pools, claimed, kind)
    if LOG.isEnabledFor(logging.DEBUG):
        LOG.debug('%(host)s: raw GPU weight %(weight)s (%(policy)s) for '
                  '%(request)s taking %(takes)s; free: %(free)s',
                  {'host': host_state, 'weight': scored.weight,
                   'policy': 'spread' if scorer.spread else 'pack',
                   'request': view.describe(),
                   'takes': fit.describe_takes(view.requests, scored.result),
                   'free': scored.free.describe()})
    return scored.weight
