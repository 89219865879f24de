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

"""Smoke tests of benchmarks/ on tiny fleets, so the code cannot rot.

They assert structure and obvious truths, never timings.
"""

import io
import logging
import random

import fixtures

from benchmarks import __main__ as bench_main
from benchmarks import cost
from benchmarks import packing
from benchmarks import report
from benchmarks import workload
from nova_gpu_ext.harness import sim
from tests import base as test_base


TINY = ['--fleet-hosts', '20', '--placement-hosts', '3',
        '--placement-latency', '0',
        '--cost-hosts', '6', '--max-results', '5', '--repetitions', '1',
        '--loads', '1.0', '--packing-requests', '40', '--packing-seeds', '1',
        '--packing-modes', 'legacy']


def request(alias, count, lifetime=1000):
    return packing.Request(alias, count, lifetime)


class TestPacking(test_base.TestCase):

    def test_ours_never_mixes_models(self):
        stream = packing.requests(3, 1.2, 5 * 8, 60)
        for placement in (False, True):
            tally = packing.run(workload.OURS, placement, stream, 0,
                                fleet_hosts=5)
            self.assertEqual(0, tally.mixed)
            self.assertEqual(sum(r.count for r in stream),
                             sum(tally.offered.values()))

    def test_mixed_placement_holds_gpus_but_is_not_served(self):
        # The fifth host is the half-half one: the class alias there gives
        # nova 4 GPUs of each model.
        stream = [request(workload.ALIAS_A, 8)] * 2 + [
            request(workload.ALIAS_B, 8)] * 2 + [
            request(workload.ALIAS_ANY, 8), request(workload.ALIAS_A, 1)]
        nova = packing.run(workload.IN_TREE, False, stream, 0, fleet_hosts=5)
        ours = packing.run(workload.OURS, False, stream, 0, fleet_hosts=5)
        self.assertEqual((1, 32), (nova.mixed, nova.served[8]))
        # nova's mixed server holds the last free GPUs: the 1-GPU request
        # finds none; ours refused the mix and serves it.
        self.assertEqual((0, 32, 1), (ours.mixed, ours.served[8],
                                      ours.served[1]))
        self.assertEqual(0, nova.served[1])

    def test_limit_is_one_pool_per_model(self):
        stream = [request(workload.ALIAS_A, 8)] * 3 + [
            request(workload.ALIAS_ANY, 8)] * 3
        tally = packing.limit(stream, 0, fleet_hosts=5)
        # 5 hosts: 2 A, 2 B, 1 half-half: 20 GPUs of each model.
        self.assertEqual(32, tally.served[8])
        self.assertEqual(100.0 * 32 / 48, tally.share())

    def test_requests_same_stream_at_every_load_lifetimes_follow_it(self):
        low = packing.requests(1, 0.8, 320, 3000)
        high = packing.requests(1, 1.2, 320, 3000)
        self.assertEqual([(r.alias, r.count) for r in low],
                         [(r.alias, r.count) for r in high])
        for stream, load in ((low, 0.8), (high, 1.2)):
            mean = sum(r.lifetime for r in stream) / len(stream)
            expected = packing.mean_lifetime(load, 320)
            self.assertLess(abs(mean - expected) / expected, 0.1)

    def test_release_gives_the_gpus_back(self):
        stream = [request(workload.ALIAS_A, 8, lifetime=1)] * 4
        tally = packing.run(workload.OURS, False, stream, 0, fleet_hosts=1)
        self.assertEqual(32, tally.served[8])

    def test_switch_single_is_served_only_below_one_switch(self):
        # One host of 8 A GPUs, 4 below each switch: after a 3-GPU server,
        # a 2-GPU gpu:switch=single one finds 1 free below sw0, 4 below
        # sw1.  nova's walk takes one of each (a split, not served).
        stream = [request(workload.ALIAS_A, 3),
                  packing.Request(workload.ALIAS_A, 2, 1000, True)]
        for placement in (False, True):
            nova = packing.run(workload.IN_TREE, placement, stream, 0,
                               fleet_hosts=1, switches=True)
            ours = packing.run(workload.OURS, placement, stream, 0,
                               fleet_hosts=1, switches=True)
            self.assertEqual((1, 0, 3), (nova.switch_splits,
                                         nova.switch_served, nova.served[3]))
            # Legacy: the compute's walk would split, so ours refuses the
            # host; placement: ours claims two GPUs below sw1.
            self.assertEqual((0, 2 if placement else 0),
                             (ours.switch_splits, ours.switch_served))

    def test_switch_share_marks_only_2_and_4_gpu_requests(self):
        stream = packing.requests(1, 1.0, 320, 2000, switch_share=0.5)
        marked = [r for r in stream if r.switch_single]
        self.assertEqual({2, 4}, {r.count for r in marked})
        sized = [r for r in stream if r.count in (2, 4)]
        self.assertLess(abs(len(marked) / len(sized) - 0.5), 0.05)
        self.assertEqual([(r.alias, r.count) for r in stream],
                         [(r.alias, r.count) for r in packing.requests(
                             1, 1.0, 320, 2000)])


class TestCost(test_base.TestCase):

    def test_measure_gives_milliseconds_for_each_setup(self):
        setups = [workload.IN_TREE, workload.OURS]
        for placement in (False, True):
            hosts = cost.fleet(6, placement, 2)
            timing = cost.measure(hosts, cost.Case(placement, 6, 6, 2),
                                  setups, repetitions=1)
            self.assertEqual({s.label for s in setups}, set(timing.ms))
            self.assertTrue(all(v > 0 for v in timing.ms.values()))

    def test_placement_results_are_capped_over_all_hosts(self):
        hosts = [sim.Host(f'h{i}', workload.gpus('A'), placement=True)
                 for i in range(4)]
        offer = cost.make_offer(hosts, 2, True, max_results=40)
        # Every 2-of-8 combination: 28 per free host.
        self.assertEqual([28, 12], [len(c) for c in offer.candidates])
        self.assertEqual(40, offer.candidate_count)

    def test_legacy_offers_every_host_one_candidate(self):
        hosts = workload.fleet(6, False, random.Random(4), occupancy=True)
        offer = cost.make_offer(hosts, 4, False, max_results=6)
        self.assertEqual(6, len(offer.states))
        self.assertEqual(6, offer.candidate_count)


class TestReport(test_base.TestCase):

    def test_tables_and_targets(self):
        # The run schedules a few thousand requests; where an earlier test
        # of the process left a logger at DEBUG, their debug lines made a
        # test detail larger than subunit carries (4.5 MB).  INFO and up
        # only, whatever the loggers' levels.
        handler = logging.StreamHandler(io.StringIO())
        handler.setLevel(logging.INFO)
        self.useFixture(fixtures.LogHandler(handler))
        out = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', io.StringIO()))
        self.assertEqual(0, bench_main.main(TINY))
        text = out.getvalue()
        self.assertIn('| legacy    | mixed      |     6 |           6 | class '
                      'x2 |', text)
        self.assertIn('| placement | mixed      |     6 |           5 | class '
                      'x4 |', text)
        self.assertIn('| legacy    | two models |     6 |           6 |', text)
        self.assertIn('| placement | switches   |     6 |           5 |', text)
        self.assertIn('all: limit %', text)
        self.assertIn('| legacy |  1.0 |', text)
        self.assertEqual(12, text.count('cost ours / in-tree <= 0.5'))
        self.assertIn('packing, legacy, load 1.0, 4-8 GPU requests: ours >= '
                      'in-tree', text)
        self.assertIn('switch single: ours %', text)
        self.assertIn('packing with PCIe switches, legacy, load 1.0, '
                      'gpu:switch=single GPUs: ours >= in-tree', text)
        self.assertIn('| capacity ', text)
        self.assertIn('capacity on 20 hosts under 5 s and 500 MB', text)
        # 3 hosts of 8 devices: two calls per device, three listings (and
        # one version discovery the first time).
        self.assertRegex(
            text, r'\| 8 at a time \(capacity now\) +\| +5[12] \|')

    def test_growth_pairs_the_smallest_and_largest_cases(self):
        timing = {n: cost.Timing(n, n, {workload.IN_TREE.label: n,
                                        workload.OURS.label: n / 2})
                  for n in (10, 100)}
        results = [(cost.Case(False, n, n, c), timing[n])
                   for n in (10, 100) for c in report.COUNTS]
        self.assertEqual(
            'legacy, 10 -> 100 hosts, class x2 (10 -> 100 candidates): '
            'in-tree x10.0, ours x10.0', report.growth(results)[0])
