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

"""Property tests: GpuPassthroughFilter is nova's PciPassthroughFilter plus
the GPU policy, and nothing else.

Random host lists with GPU, SR-IOV VF, PF and vDPA pools get random
flavor (alias) and neutron port requests, in legacy and placement mode;
nova's own ``PciDeviceStats.apply_requests`` and ``PciPassthroughFilter``,
through nova's ``HostFilterHandler``, are the oracles:

* the walk takes, request by request, what nova's claim takes;
* never looser: every host and allocation candidate ours keeps, nova keeps;
* never stricter except by the GPU policy: with the policy off
  (``gpu:same_model=false``, ``gpu:numa=any``) both keep the same hosts and
  candidates; with it on, every candidate nova keeps and ours drops gives a
  GPU request mixed models or NUMA nodes the flavor refuses.
"""

import collections
import copy

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from nova import exception
from nova.scheduler import filters
from nova.scheduler.filters import pci_passthrough_filter
from nova import test

from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models
from nova_gpu_ext.scheduler.filters import gpu_passthrough
from nova_gpu_ext.scheduler import nova_objects
from tests.unit.scheduler import fakes

GPUS = [fakes.K4200, fakes.V100, ('10de', '20b0')]
NEUTRAL = {'gpu:same_model': 'false', 'gpu:numa': 'any'}
PREFER_ONLY = {'gpu:same_model': 'false', 'gpu:numa': 'prefer'}
POLICIES = [{}, NEUTRAL, PREFER_ONLY, {'gpu:same_model': 'false'},
            {'gpu:numa': 'single'}, {'gpu:numa': 'prefer'},
            {'gpu:numa': 'any'},
            {'gpu:same_model': 'false', 'gpu:numa': 'single'}]
NUMA = st.sampled_from([0, 1, None])
PHYSNET = st.sampled_from(['physnet1', 'physnet2'])

gpu_pool_st = st.builds(
    lambda model, numa, count, dev_type: ('gpu', model, numa, count,
                                          dev_type),
    st.sampled_from(GPUS), NUMA, st.sampled_from([1, 1, 1, 2, 3, 0]),
    st.sampled_from(['type-PCI', 'type-PCI', 'type-PF']))
nic_pool_st = st.builds(
    lambda dev_type, numa, count, physnet, remote: (
        'nic', dev_type, numa, count, physnet, remote),
    st.sampled_from(['type-VF', 'type-VF', 'type-PF', 'vdpa']), NUMA,
    st.sampled_from([1, 2, 4, 0]), PHYSNET,
    st.sampled_from(['false', 'false', 'true']))


def build_pool(index, drawn):
    address = f'0000:{0x10 + index:02x}:00.0'
    if drawn[0] == 'gpu':
        _, model, numa, count, dev_type = drawn
        return fakes.pool(model, numa=numa, count=count, dev_type=dev_type,
                          address=address, rp_uuid=f'rp{index}')
    _, dev_type, numa, count, physnet, remote = drawn
    return fakes.nic_pool(dev_type=dev_type, numa=numa, count=count,
                          physnet=physnet, remote_managed=remote,
                          address=address)


gpu_request_st = st.tuples(
    st.just('gpu'), st.sampled_from([1, 1, 2, 2, 3, 4, 0]),
    st.lists(st.sampled_from(GPUS), min_size=1, max_size=3, unique=True),
    st.sampled_from([False, False, False, True]))
vf_alias_st = st.tuples(st.just('vf-alias'), st.integers(1, 2))
port_request_st = st.tuples(
    st.just('port'), st.sampled_from([None, None, 'type-PF', 'vdpa']),
    PHYSNET, st.booleans())


def build_request(drawn):
    if drawn[0] == 'gpu':
        _, count, models_, pf = drawn
        return fakes.request(count, *models_,
                             **({'dev_type': 'type-PF'} if pf else {}))
    if drawn[0] == 'vf-alias':
        return fakes.request(drawn[1], (fakes.NIC[0], fakes.NIC_VF),
                             alias='vfs', dev_type='type-VF')
    _, dev_type, physnet, remote = drawn
    return fakes.port_request(dev_type=dev_type, physnet=physnet,
                              remote_managed=remote)


@st.composite
def host_pools(draw):
    drawn = draw(st.lists(st.one_of(gpu_pool_st, gpu_pool_st, nic_pool_st),
                          min_size=2, max_size=8))
    return [build_pool(i, d) for i, d in enumerate(drawn)]


@st.composite
def candidates_for(draw, pools, requests, host_name):
    """Allocation candidates: the root only, or providers per group."""
    rps = [p.tags['rp_uuid'] for p in pools
           if 'rp_uuid' in p.tags and p.count]
    found = []
    for index in range(draw(st.sampled_from([1, 1, 2, 3, 0]))):
        mappings = {'': [fakes.ROOT]}
        if rps and draw(st.booleans()):
            for r in requests:
                if r.alias_name:
                    for i in range(r.count):
                        mappings[f'{r.request_id}-{i}'] = [
                            draw(st.sampled_from(rps))]
        found.append({'allocations': {f'{host_name}/{index}': {}},
                      'mappings': mappings})
    return found


@st.composite
def scenarios(draw):
    requests = [build_request(d) for d in draw(st.lists(
        st.one_of(gpu_request_st, gpu_request_st, vf_alias_st,
                  port_request_st), min_size=1, max_size=3).filter(
        lambda drawn: len(drawn) < 3 or drawn[0][0] == 'port'))]
    hosts = []
    for index in range(draw(st.integers(1, 4))):
        pools = draw(host_pools())
        name = f'h{index}'
        hosts.append((name, pools, draw(candidates_for(pools, requests,
                                                       name))))
    return hosts, requests, draw(st.sampled_from(POLICIES))


def host_states(hosts):
    return [fakes.host(name, copy.deepcopy(pools), copy.deepcopy(found))
            for name, pools, found in hosts]


def kept(handler, filt, hosts, spec):
    """{host: {candidate label}} of the hosts that pass ``filt``."""
    passed = handler.get_filtered_objects([filt], host_states(hosts), spec)
    return {h.host: {label for c in h.allocation_candidates
                     for label in c['allocations']} for h in passed or ()}


def nova_takes(stats, requests, mapping):
    """Per request, the (model, NUMA node) of each device nova's claim takes.

    None if nova's claim fails.
    """
    stats = copy.deepcopy(stats)
    takes = []
    for request in requests:
        before = {id(p): (p, p['count']) for p in stats.pools}
        try:
            stats.apply_requests([request], mapping)
        except exception.PciDeviceRequestFailed:
            return None
        after = {id(p): p['count'] for p in stats.pools}
        taken = collections.Counter()
        for key, (pool, count) in before.items():
            taken[models.model_of(pool), pool.get('numa_node')] += (
                count - after.get(key, 0))
        takes.append(+taken)
    return takes


def refused_by_policy(request, taken, policy):
    if not request.alias_name:
        return False
    if policy.same_model and len({m for m, _ in taken}) > 1:
        return True
    return (policy.numa is not models.NumaMode.ANY and
            len({numa for _, numa in taken}) > 1)


class TestParity(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.handler = filters.HostFilterHandler()
        self.ours = gpu_passthrough.GpuPassthroughFilter()
        self.nova = pci_passthrough_filter.PciPassthroughFilter()

    @settings(max_examples=300, deadline=None)
    @given(scenarios())
    def test_walk_takes_what_nova_takes_request_by_request(self, scenario):
        hosts, requests, _ = scenario
        ours_requests = nova_objects.device_requests(fakes.spec(*requests))
        for state in host_states(hosts):
            for mapping in [None] + [c['mappings'] for c in
                                     state.allocation_candidates]:
                expected = nova_takes(state.pci_stats, requests, mapping)
                result = claims.walk(nova_objects.pools(state),
                                     ours_requests, mapping)
                if expected is None:
                    self.assertFalse(result.ok)
                    continue
                self.assertTrue(result.ok)
                got = []
                for takes in result.takes:
                    taken = collections.Counter()
                    for t in takes:
                        taken[t.model, t.numa_node] += t.count
                    got.append(taken)
                self.assertEqual(expected, got)

    @settings(max_examples=300, deadline=None)
    @given(scenarios())
    def test_never_looser_never_stricter_but_by_the_gpu_policy(
            self, scenario):
        hosts, requests, extra_specs = scenario
        spec = fakes.spec(*requests, extra_specs=extra_specs)
        ours = kept(self.handler, self.ours, hosts, spec)
        nova = kept(self.handler, self.nova, hosts, spec)
        for host, labels in ours.items():
            self.assertIn(host, nova)
            self.assertLessEqual(labels, nova[host])
        if extra_specs == NEUTRAL:
            self.assertEqual(nova, ours)
            return
        if extra_specs == PREFER_ONLY:
            # prefer drops a split only for a host that keeps one node.
            self.assertEqual(bool(nova), bool(ours))
        # The policy the filter judged by: the scheduler's options for
        # what the flavor leaves unset.
        policy = nova_objects.gpu_policy(spec, nova_objects.default_policy())
        for state in host_states(hosts):
            for candidate in state.allocation_candidates:
                label = next(iter(candidate['allocations']))
                if (label not in nova.get(state.host, ()) or
                        label in ours.get(state.host, ())):
                    continue
                takes = nova_takes(state.pci_stats, requests,
                                   candidate['mappings'])
                self.assertTrue(any(
                    refused_by_policy(r, t, policy)
                    for r, t in zip(requests, takes)), (state.host, label))
