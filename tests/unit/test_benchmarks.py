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
import random

import fixtures
from oslotest import base

from benchmarks import __main__ as bench_main
from benchmarks import cost
from benchmarks import packing
from benchmarks import report
from benchmarks import workload
from nova_gpu_ext.harness import sim

TINY = ['--cost-hosts', '6', '--repetitions', '1', '--packing-hosts', '3',
        '--fill-stop', '2', '--churn-requests', '10']


class TestPacking(base.BaseTestCase):

    def _run(self, setup, placement):
        return packing.run(setup, host_count=3, placement=placement, seed=3,
                           fill_stop=3, churn_requests=30)

    def test_ours_never_mixes_models(self):
        for placement in (False, True):
            result = self._run(workload.ours('pack', stacked=True), placement)
            self.assertEqual((0, 0), (result.fill.mixed, result.churn.mixed))

    def test_tallies_add_up(self):
        result = self._run(workload.IN_TREE, placement=False)
        for tally in (result.fill, result.churn):
            self.assertEqual(tally.offered,
                             tally.placed + sum(tally.refused.values()))
        self.assertLessEqual(result.fill.gpus_placed, 3 * 8)
        self.assertIsNotNone(result.fill.in_use_at_first_refusal)

    def test_class_alias_on_a_mixed_host_counts_as_mixed_for_nova(self):
        mixed = {}
        for setup in (workload.IN_TREE, workload.ours('pack', True)):
            run = packing.Run(setup, host_count=0, placement=False, seed=1)
            run.hosts = [sim.Host('ab', workload.gpus('AB'))]
            tally = packing.Tally()
            with setup.configured():
                run.offer(workload.ALIAS_ANY, 8, tally)
            mixed[setup.label] = (tally.mixed, tally.refused[8])
        self.assertEqual({'nova in-tree': (1, 0),
                          'nova_gpu_ext pack +in-tree': (0, 1)}, mixed)

    def test_avoidable_split_is_counted(self):
        run = packing.Run(workload.IN_TREE, host_count=0, placement=False,
                          seed=1)
        host = sim.Host('a', workload.gpus('A'))
        run.hosts = [host]
        for pool in host.pools[:3]:
            pool['count'] = 0
        host.report()
        tally = packing.Tally()
        run.offer(workload.ALIAS_A, 2, tally)
        self.assertEqual(1, tally.avoidable_splits)


class TestCost(base.BaseTestCase):

    def test_measure_gives_microseconds_per_host_for_each_setup(self):
        setups = [workload.IN_TREE, workload.ours('pack')]
        for placement in (False, True):
            us = cost.measure(6, placement, setups, repetitions=1, seed=2)
            self.assertEqual({s.label for s in setups}, set(us))
            self.assertTrue(all(v > 0 for v in us.values()))

    def test_placement_offers_only_hosts_with_candidates(self):
        hosts = workload.fleet(6, True, random.Random(4), occupancy=True)
        for offer in cost.offers(hosts, placement=True):
            self.assertTrue(all(offer.candidates))
            self.assertEqual(len(offer.states), len(offer.candidates))


class TestReport(base.BaseTestCase):

    def test_one_table_with_every_figure_and_the_targets(self):
        out = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', io.StringIO()))
        self.assertEqual(0, bench_main.main(TINY))
        text = out.getvalue()
        self.assertIn('pack / in-tree', text)
        for _, name, _ in report.PACKING_FIGURES:
            self.assertIn(name, text)
        self.assertIn('0 mixed-model placements: ours 0', text)
        self.assertEqual(2, text.count('cost: us per host'))
