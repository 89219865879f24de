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

"""Property tests: our walk is nova's, and the filter is never laxer.

Random hosts and requests are built as real nova objects; nova's own
``PciDeviceStats.apply_requests`` and ``PciPassthroughFilter`` are the
oracles.
"""

import collections
import copy

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from nova import exception
from nova.scheduler.filters import pci_passthrough_filter
from nova import test

from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models
from nova_gpu_ext.scheduler.filters import gpu_passthrough
from nova_gpu_ext.scheduler import nova_objects
from tests.unit.scheduler import fakes

MODELS = [fakes.K4200, fakes.V100, ('10de', '20b0')]

pool_st = st.tuples(
    st.sampled_from(MODELS), st.sampled_from([0, 1, None]),
    st.integers(0, 3), st.sampled_from(['type-PCI', 'type-PCI', 'type-PF']))
request_st = st.tuples(
    st.integers(0, 4),
    st.lists(st.sampled_from(MODELS), min_size=1, max_size=3, unique=True),
    st.booleans())


@st.composite
def scenarios(draw):
    pools = draw(st.lists(pool_st, min_size=0, max_size=8))
    host_pools = [
        fakes.pool(m, numa=n, count=c, dev_type=t, rp_uuid=f'rp{i}')
        for i, (m, n, c, t) in enumerate(pools)]
    requests = [
        fakes.request(count, *ms, **({'dev_type': 'type-PF'} if pf else {}))
        for count, ms, pf in draw(st.lists(request_st, min_size=1,
                                           max_size=3))]
    candidates = []
    for _ in range(draw(st.integers(0, 3))):
        if not pools or draw(st.booleans()):
            candidates.append({'allocations': {},
                               'mappings': {'': [fakes.ROOT]}})
            continue
        rps = {}
        for r in requests:
            for i in range(r.count):
                rps[f'{r.request_id}-{i}'] = [
                    f'rp{draw(st.integers(0, len(pools) - 1))}']
        candidates.append({'allocations': {},
                           'mappings': {'': [fakes.ROOT], **rps}})
    return host_pools, requests, candidates, draw(st.sampled_from(
        [{}, {'gpu:same_model': 'false'}, {'gpu:numa': 'single'},
         {'gpu:numa': 'prefer'}]))


def nova_taken(stats, requests, mapping):
    """Per (model, numa) devices nova's apply_requests takes, or None."""
    before = collections.Counter()
    for p in stats.pools:
        before[models.model_of(p), p.get('numa_node')] += p['count']
    stats = copy.deepcopy(stats)
    try:
        stats.apply_requests(requests, mapping)
    except exception.PciDeviceRequestFailed:
        return None
    for p in stats.pools:
        before[models.model_of(p), p.get('numa_node')] -= p['count']
    return +before


class TestParity(test.NoDBTestCase):

    @settings(max_examples=300, deadline=None)
    @given(scenarios())
    def test_walk_takes_what_nova_takes(self, scenario):
        host_pools, requests, candidates, _ = scenario
        host = fakes.host('h', host_pools, candidates)
        ours_requests = nova_objects.device_requests(fakes.spec(*requests))
        for mapping in [None] + [c['mappings'] for c in candidates]:
            expected = nova_taken(host.pci_stats, requests, mapping)
            result = claims.walk(nova_objects.pools(host), ours_requests,
                                 mapping)
            if expected is None:
                self.assertFalse(result.ok)
                continue
            self.assertTrue(result.ok)
            taken = collections.Counter()
            for takes in result.takes:
                for t in takes:
                    taken[t.model, t.numa_node] += t.count
            self.assertEqual(expected, taken)

    @settings(max_examples=300, deadline=None)
    @given(scenarios())
    def test_filter_never_raises_and_never_passes_what_nova_refuses(
            self, scenario):
        host_pools, requests, candidates, extra_specs = scenario
        spec = fakes.spec(*requests, extra_specs=extra_specs)
        ours = gpu_passthrough.GpuPassthroughFilter().host_passes(
            fakes.host('h', host_pools, copy.deepcopy(candidates)), spec)
        nova = pci_passthrough_filter.PciPassthroughFilter().host_passes(
            fakes.host('h', host_pools, copy.deepcopy(candidates)), spec)
        self.assertFalse(ours and not nova)
