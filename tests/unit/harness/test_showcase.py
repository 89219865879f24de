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

"""The demo's report: the fleet, the table, the reasons, the picture."""

import dataclasses
import io
import os
import re

import fixtures

from nova_gpu_ext import exception
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.harness import scenario
from nova_gpu_ext.harness import showcase
from tests import base as test_base


ANSI = re.compile(r'\033\[[0-9;]*m')
Gpu = scenario.Gpu
Outcome = scenario.Outcome
REASON = 'no host has 4 free GPUs (K4200 or V100): gpu-k4200 has 3 K4200'

SW_A = scenario.SWITCH_A
SW_B = scenario.SWITCH_B

# The stream's flavors, in order: gpu.x2, v100.x1, gpu.x1, gpu.x4,
# gpu.x2.numa, a100.x1, a100.x2.switch, a100.x2.numa, cpu.small.
IN_TREE = [
    Outcome('gpu.x2', 'gpu-mixed', (Gpu('K4200', 0, 0), Gpu('V100', 1, 1))),
    Outcome('v100.x1', 'gpu-v100', (Gpu('V100', 0, 0),)),
    Outcome('gpu.x1', 'gpu-k4200', (Gpu('K4200', 0, 0),)),
    Outcome('gpu.x4', None, reason=REASON),
    Outcome('gpu.x2.numa', 'gpu-k4200',
            (Gpu('K4200', 0, 1), Gpu('K4200', 1, 2))),
    Outcome('a100.x1', 'gpu-a100-sw', (Gpu('A100', 0, 0, SW_A),)),
    Outcome('a100.x2.switch', 'gpu-a100-sw',
            (Gpu('A100', 0, 1, SW_A), Gpu('A100', 0, 2, SW_B))),
    Outcome('a100.x2.numa', 'gpu-a100',
            (Gpu('A100', 1, 1), Gpu('A100', 1, 2))),
    Outcome('cpu.small', 'cpu-only'),
]
OURS = [
    Outcome('gpu.x2', 'gpu-k4200', (Gpu('K4200', 0, 0), Gpu('K4200', 0, 1))),
    Outcome('v100.x1', 'gpu-mixed', (Gpu('V100', 1, 1),)),
    Outcome('gpu.x1', 'gpu-mixed', (Gpu('K4200', 0, 0),)),
    Outcome('gpu.x4', 'gpu-v100', tuple(Gpu('V100', n, s) for s, n in
                                        enumerate((0, 0, 1, 1)))),
    Outcome('gpu.x2.numa', 'gpu-k4200',
            (Gpu('K4200', 1, 2), Gpu('K4200', 1, 3))),
    Outcome('a100.x1', 'gpu-a100', (Gpu('A100', 0, 0),)),
    Outcome('a100.x2.switch', 'gpu-a100-sw',
            (Gpu('A100', 0, 0, SW_A), Gpu('A100', 0, 1, SW_A))),
    Outcome('a100.x2.numa', 'gpu-a100-sw',
            (Gpu('A100', 0, 2, SW_B), Gpu('A100', 0, 3, SW_B))),
    Outcome('cpu.small', 'cpu-only'),
]
RUNS = {'nova in-tree': IN_TREE, 'nova_gpu_ext': OURS}
OPTIONS = showcase.Options()


def server(flavor: str) -> int:
    """The index of the first server of a flavor in the stream."""
    return [name for name, _, _ in scenario.STREAM].index(flavor)


def rows(table_text: str) -> list:
    """The cells of a text table's rows, stripped."""
    return [[cell.strip() for cell in line.strip('|').split('|')]
            for line in table_text.splitlines() if line.startswith('|')]


class TestReport(test_base.TestCase):

    def test_the_fleet_is_drawn_per_numa_node_and_pcie_switch(self):
        fleet = rows(showcase.fleet_table().get_string())
        self.assertIn(['gpu-a100', '8', '16 GB', '1 x A100', '3 x A100'],
                      fleet)
        self.assertIn(['gpu-a100-sw', '12', '32 GB',
                       '[2 x A100]  [2 x A100]', '-'], fleet)

    def test_each_flavor_says_what_each_scheduler_is_asked(self):
        text = showcase.flavor_table().get_string()
        flavors = rows(text)
        self.assertEqual(['flavor', 'GPUs', 'nova in-tree is asked',
                          'nova_gpu_ext is asked'], flavors[0])
        # nova's own means for one NUMA node, a spec a line.
        self.assertIn(['gpu.x2.numa', '2 x gpu (K4200 or V100)',
                       'hw:numa_nodes=1', 'gpu:numa=single'], flavors)
        self.assertIn(['', '', 'hw:pci_numa_affinity_policy=required', ''],
                      flavors)
        self.assertIn(['a100.x2.switch', '2 x a100 (A100)',
                       '(nova has no means for gpu:switch=single)',
                       'gpu:switch=single'], flavors)
        self.assertIn(['cpu.small', 'no GPU', '-', '-'], flavors)

    def test_each_refusal_points_to_its_reason(self):
        table = rows(showcase.results_table(RUNS).get_string())
        self.assertIn(['4', 'gpu.x4', 'nova in-tree', 'NO VALID HOST', '-',
                       '-', 'refused [1]'], table)
        self.assertEqual(f'[1] #4 gpu.x4, nova in-tree: {REASON}',
                         ' '.join(showcase.notes_text(RUNS).split()))

    def test_each_server_says_what_its_user_gets(self):
        results, number = {}, None
        for row in rows(showcase.results_table(RUNS).get_string())[1:]:
            number = row[0] or number
            results[number, row[2]] = row[-1]
        self.assertEqual('MIXED MODELS', results['1', 'nova in-tree'])
        self.assertEqual('ok', results['1', 'nova_gpu_ext'])
        self.assertEqual('NUMA split, asked single',
                         results['5', 'nova in-tree'])
        self.assertEqual('NUMA split', results['4', 'nova_gpu_ext'])
        self.assertEqual('switch split, asked single',
                         results['7', 'nova in-tree'])
        self.assertEqual('ok', results['7', 'nova_gpu_ext'])

    def test_a_split_the_flavor_did_not_ask_against_is_a_split(self):
        # Two GPUs below two switches of a flavor asking nothing of them.
        split = Outcome('a100.x1', 'gpu-a100-sw',
                        (Gpu('A100', 0, 1, SW_A), Gpu('A100', 0, 2, SW_B)))
        self.assertEqual('switch-split', showcase.state(split))
        # Over NUMA nodes and switches: the NUMA level is named.
        both = Outcome('a100.x2.switch', 'h',
                       (Gpu('A100', 0, 0, SW_A), Gpu('A100', 1, 1, SW_B)))
        self.assertEqual('switch-unfit', showcase.state(both))
        self.assertEqual('numa-split', showcase.state(
            dataclasses.replace(both, flavor='a100.x1')))

    def test_gpus_below_no_switch_are_not_split_over_switches(self):
        # gpu-a100 has no switches: its GPUs are in no switch domain.
        self.assertEqual('ok', showcase.state(OURS[server('a100.x1')]))
        self.assertFalse(IN_TREE[server('a100.x2.numa')].split(fit.SWITCH))

    def test_summary_counts_what_users_get(self):
        self.assertEqual(
            [['servers', 'nova in-tree', 'nova_gpu_ext'],
             ['placed, GPUs working', '7', '9'],
             ['of these, split over NUMA nodes', '1', '1'],
             ['where the flavor asks single', '1', '0'],
             ['of these, split over PCIe switches', '1', '0'],
             ['where the flavor asks single', '1', '0'],
             ['placed, mixed GPU models (CUDA multi-GPU fails)', '1', '0'],
             ['refused, reason given', '1', '0']],
            rows(showcase.summary_table(RUNS).get_string()))

    def test_the_difference_is_explained(self):
        self.assertEqual(
            ['nova in-tree gave #1 GPUs of two models: the server boots, '
             'but a CUDA job across its GPUs fails.',
             'nova in-tree split #5 over NUMA nodes although its flavor '
             'asks hw:numa_nodes=1, hw:pci_numa_affinity_policy=required.',
             'nova in-tree split #7 over PCIe switches: nova has no means '
             'to be asked for one (nova_gpu_ext is asked '
             'gpu:switch=single).',
             'nova in-tree refused #4, which nova_gpu_ext placed: see the '
             'reasons under the table.',
             'Servers placed with working GPUs: nova in-tree 7 of 9, '
             'nova_gpu_ext 9 of 9.'],
            showcase.difference(RUNS))

    def test_a_split_by_nova_gpu_ext_names_what_it_was_asked(self):
        ours = list(OURS)
        ours[server('a100.x2.switch')] = IN_TREE[server('a100.x2.switch')]
        self.assertIn(
            'nova_gpu_ext split #7 over PCIe switches although its flavor '
            'asks gpu:switch=single.',
            showcase.difference({'nova in-tree': IN_TREE,
                                 'nova_gpu_ext': ours}))

    def test_the_picture_shows_who_holds_each_slot(self):
        picture = rows(showcase.picture_table(RUNS).get_string())
        self.assertIn(['gpu-mixed', 'nova in-tree', 'K4200 #1!', 'V100 #1!'],
                      picture)
        self.assertIn(['', 'nova_gpu_ext', 'K4200 #1  K4200 #1',
                       'K4200 #5  K4200 #5'], picture)
        self.assertIn(['gpu-a100', 'nova in-tree', 'A100 -',
                       'A100 #8  A100 #8  A100 -'], picture)
        self.assertNotIn('cpu-only', [row[0] for row in picture])

    def test_the_picture_brackets_the_gpus_below_each_switch(self):
        picture = rows(showcase.picture_table(RUNS).get_string())
        self.assertIn(['gpu-a100-sw', 'nova in-tree',
                       '[A100 #6  A100 #7!]  [A100 #7!  A100 -]', ''],
                      picture)
        self.assertIn(['', 'nova_gpu_ext',
                       '[A100 #7  A100 #7]  [A100 #8  A100 #8]', ''],
                      picture)

    def test_colour_changes_no_text_and_no_alignment(self):
        plain = showcase.report(RUNS, OPTIONS)
        coloured = showcase.report(RUNS, OPTIONS, colour=True)
        self.assertNotIn('\033[', plain)
        self.assertIn('\033[1;31mMIXED MODELS\033[0m', coloured)
        self.assertEqual(plain, ANSI.sub('', coloured))

    def test_the_page_is_self_contained_with_the_same_picture(self):
        page = showcase.html_page(RUNS, OPTIONS)
        self.assertNotRegex(page, r'(src|href)=|<link|<script')
        self.assertIn('<span class="slot mixed">K4200 #1</span>', page)
        self.assertIn('<span class="slot free">A100 free</span>', page)
        self.assertIn('<span class="switch"><span class="slot ok">A100 #6'
                      '</span><span class="slot switch-unfit">A100 #7</span>'
                      '</span>', page)
        # Each slot once per scheduler, and the legend.
        slots = sum(len(host.gpus) for host in scenario.FLEET)
        self.assertEqual(2 * slots + len(showcase.RESULTS) + 1,
                         page.count('<span class="slot '))


class TestRun(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def run_demo(self, **options):
        out, err = io.StringIO(), io.StringIO()
        status = showcase.run(showcase.Options(engine='objects', **options),
                              out, err)
        return status, out.getvalue(), err.getvalue()

    def test_objects_engine_prints_the_report_and_writes_the_page(self):
        page = os.path.join(self.tmp, 'demo.html')
        status, out, err = self.run_demo(html=page)
        self.assertEqual(0, status)
        self.assertIn('Where each server landed', out)
        self.assertNotIn('\033[', out)
        self.assertEqual(f'Wrote {page}\n', err)
        with open(page, encoding='utf-8') as f:
            self.assertIn('<h2>GPU slots at the end</h2>', f.read())

    def test_objects_engine_shows_a_split_over_switches_nova_gpu_ext_avoids(
            self):
        runs = showcase.outcomes(showcase.Options(engine='objects'))
        switch = server('a100.x2.switch')
        in_tree = runs['nova in-tree'][switch]
        ours = runs['nova_gpu_ext'][switch]
        self.assertEqual('switch-unfit', showcase.state(in_tree))
        self.assertEqual(('gpu-a100-sw', {SW_A, SW_B}),
                         (in_tree.host, {g.switch for g in in_tree.gpus}))
        self.assertEqual('ok', showcase.state(ours))
        self.assertEqual(1, len({g.switch for g in ours.gpus} - {None}))

    def test_objects_engine_asks_nova_for_one_numa_node_its_own_way(self):
        # hw:numa_nodes=1 with the required PCI NUMA affinity policy:
        # nova's NUMATopologyFilter and claim keep the GPUs on one node.
        runs = showcase.outcomes(showcase.Options(engine='objects'))
        for flavor in ('gpu.x2.numa', 'a100.x2.numa'):
            outcome = runs['nova in-tree'][server(flavor)]
            self.assertEqual(1, len({g.numa_node for g in outcome.gpus}),
                             outcome)

    def test_same_report_run_after_run(self):
        self.assertEqual(self.run_demo()[1], self.run_demo()[1])

    def test_policy_reaches_the_weigher(self):
        pack = showcase.outcomes(showcase.Options(engine='objects'))
        spread = showcase.outcomes(
            showcase.Options(engine='objects', policy='spread'))
        self.assertEqual(pack['nova in-tree'], spread['nova in-tree'])
        self.assertNotEqual([o.host for o in pack['nova_gpu_ext']],
                            [o.host for o in spread['nova_gpu_ext']])

    def test_placement_needs_the_cloud_engine(self):
        exc = self.assertRaises(exception.BadInput, self.run_demo,
                                placement=True)
        self.assertEqual('--placement needs --engine cloud', str(exc))

    def test_page_in_a_missing_folder_is_refused_before_running(self):
        page = os.path.join(self.tmp, 'nowhere', 'demo.html')
        exc = self.assertRaises(exception.BadInput, self.run_demo, html=page)
        self.assertIn(f'--html {page}: no directory', str(exc))
