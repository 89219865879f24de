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

"""The demo's in-process clouds show the contrast they are there to show.

Each run boots the whole stream in a child process (about 10 s of CPU),
the runs a test asks for in parallel; a run is done once per test worker
and shared by its tests.
"""

import collections
import os
import re
import textwrap

import fixtures

from nova_gpu_ext import exception
from nova_gpu_ext.harness import runner
from nova_gpu_ext.harness import scenario
from nova_gpu_ext.harness import showcase
from tests import base as test_base
from tests.unit.cmd import cli


IN_TREE = runner.Run(ours=False)
OURS = runner.Run(ours=True)
SPREAD = runner.Run(ours=True, policy='spread')
IN_TREE_PLACEMENT = runner.Run(ours=False, placement=True)
OURS_PLACEMENT = runner.Run(ours=True, placement=True)
DOC = os.path.join(test_base.DOC, 'cli', 'demo.rst')

_done = {}


def runs(*wanted: runner.Run) -> list:
    """The outcomes of each run, booting those not done yet."""
    missing = [r for r in wanted if r not in _done]
    if missing:
        _done.update(zip(missing, runner.run(missing)))
    return [_done[r] for r in wanted]


def twice(*pair: runner.Run) -> tuple:
    """Two runs of each of ``pair``, the four in parallel if none is done."""
    if all(r in _done for r in pair):
        return runs(*pair), runner.run(pair)
    found = runner.run(pair * 2)
    _done.update(zip(pair, found))
    return found[:len(pair)], found[len(pair):]


def server(flavor: str) -> int:
    """The index of the first server of a flavor in the stream."""
    return [name for name, _, _ in scenario.STREAM].index(flavor)


def documented_examples() -> list:
    """The literal blocks of doc/source/cli/demo.rst, as printed."""
    with open(DOC, encoding='utf-8') as f:
        blocks = re.findall(r'\n::\n\n((?:    .*\n|\n)+)', f.read())
    return [textwrap.dedent(block).strip('\n') + '\n' for block in blocks]


class TestDemoStream(test_base.TestCase):

    def test_nova_mixes_and_fragments_nova_gpu_ext_does_not(self):
        in_tree, ours = runs(IN_TREE, OURS)
        self.assertEqual(len(scenario.STREAM), len(ours))
        self.assertEqual(['mixed'], [showcase.state(o) for o in in_tree
                                     if o.mixed])
        self.assertEqual([], [o for o in ours if o.mixed or o.refused])
        # Small servers spread over the 4-GPU hosts leave no host with
        # four free, and the refusal says so; packed by model, one host
        # stays whole.
        self.assertEqual(
            'no host has 4 free GPUs (K4200 or V100), though 6 are free in '
            'all: gpu-k4200 has 3 K4200; gpu-v100 has 3 V100',
            in_tree[server('gpu.x4')].reason)
        self.assertIsNotNone(ours[server('gpu.x4')].host)

    def test_nova_splits_over_pcie_switches_nova_gpu_ext_does_not(self):
        # Legacy mode: nova's claim takes the first free GPUs of the
        # switch host, the last below one switch and the first below the
        # other; nova_gpu_ext passes only a host whose claim stays below
        # one. Placement mode: nova claims placement's first candidate.
        switch = server('a100.x2.switch')
        for in_tree, ours in (runs(IN_TREE, OURS),
                              runs(IN_TREE_PLACEMENT, OURS_PLACEMENT)):
            self.assertEqual('switch-unfit', showcase.state(in_tree[switch]))
            self.assertEqual({scenario.SWITCH_A, scenario.SWITCH_B},
                             {g.switch for g in in_tree[switch].gpus})
            self.assertEqual('ok', showcase.state(ours[switch]))
            self.assertEqual('gpu-a100-sw', ours[switch].host)
            self.assertEqual(1, len({g.switch for g in ours[switch].gpus}))

    def test_nova_keeps_one_numa_node_when_asked_by_its_own_means(self):
        # hw:numa_nodes=1 with hw:pci_numa_affinity_policy=required, and
        # NUMATopologyFilter: nova's claim takes the GPUs on the guest's
        # one NUMA cell, as nova_gpu_ext does for gpu:numa=single.
        for found in runs(IN_TREE, OURS, IN_TREE_PLACEMENT, OURS_PLACEMENT):
            for flavor in ('gpu.x2.numa', 'a100.x2.numa'):
                outcome = found[server(flavor)]
                self.assertEqual('ok', showcase.state(outcome), outcome)
                self.assertEqual(2, len(outcome.gpus))

    def test_spread_changes_where_nova_gpu_ext_puts_servers(self):
        pack, spread = runs(OURS, SPREAD)
        # Pack fills the mixed host's V100; spread takes one on the host
        # with the most V100 left, and the 4-GPU server then finds no
        # host, for a reason given.
        second = server('v100.x1')
        self.assertEqual('gpu-mixed', pack[second].host)
        self.assertEqual('gpu-v100', spread[second].host)
        x4 = spread[server('gpu.x4')]
        self.assertIsNone(x4.host)
        self.assertRegex(x4.reason, r'^no host can give 4 GPUs \(K4200 or '
                         r'V100\) of one model, though \d+ are free in all: ')

    def test_same_outcomes_run_after_run_in_placement_mode(self):
        # Placement mode: the scheduler's host order and placement's
        # candidate order both come from sets.
        first, second = twice(IN_TREE_PLACEMENT, OURS_PLACEMENT)
        self.assertEqual(first, second)

    def test_the_documented_examples_are_the_real_output(self):
        labels = (IN_TREE.label, OURS.label)
        legacy = dict(zip(labels, runs(IN_TREE, OURS)))
        placement = dict(zip(labels, runs(IN_TREE_PLACEMENT,
                                          OURS_PLACEMENT)))
        example, excerpt = documented_examples()
        self.assertEqual(example, showcase.report(legacy, showcase.Options()))
        text = showcase.report(placement, showcase.Options(placement=True))
        self.assertEqual(excerpt, text[text.index('Where each server'):])


class TestFailures(test_base.TestCase):

    def test_a_failed_cloud_says_what_nova_said(self):
        bad = runner.Run(ours=True, policy='sideways')
        exc = self.assertRaises(runner.CloudFailed, runner.run, [bad])
        self.assertIn('nova_gpu_ext failed', str(exc))
        self.assertIn('sideways', str(exc))

    def test_a_cloud_that_does_not_finish_in_time_is_stopped(self):
        exc = self.assertRaises(exception.Unreachable, runner.run,
                                [OURS], timeout=0.5)
        self.assertIn('within 0.5 s', str(exc))


class TestDemoKeep(test_base.TestCase):
    """``demo --keep DIR``: the fleet commands read what the run left."""

    def test_capacity_of_the_kept_database_is_the_servers_of_the_run(self):
        folder = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable(runner.KEEP_ENV,
                                                     folder))
        [outcomes] = runner.run([OURS])
        database = os.path.join(folder, 'nova_gpu_ext', 'cell1.sqlite')
        status, rows, err = cli.records(
            'capacity', '--connection', f'sqlite:///{database}',
            '--catalog', os.path.join(folder, 'gpu-catalog.conf'))
        self.assertEqual(0, status, err)
        used = collections.Counter()
        for row in rows:
            used[row['host']] += row['used']
        expected = collections.Counter()
        for outcome in outcomes:
            expected[outcome.host] += len(outcome.gpus)
        self.assertEqual(+expected, +used)
