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

"""Run both benchmarks and lay their figures out side by side."""

import sys

from benchmarks import cost
from benchmarks import packing
from benchmarks import workload

HEADER = ('figure', 'mode', 'nova in-tree', 'ours pack', 'ours spread',
          'ours pack + in-tree', 'pack / in-tree')
# The documented set-up (nova's filter and weigher kept next to ours) is
# timed on the smaller fleets only: it costs about both and would double
# the longest part of the run.
STACKED_MAX_HOSTS = 1000
LARGE_FLEET = 10000

PACKING_FIGURES = (
    ('fill', 'GPUs in use at first refusal',
     lambda t: t.in_use_at_first_refusal),
    ('fill', 'GPUs placed', lambda t: t.gpus_placed),
    ('fill', '4-GPU requests refused', lambda t: t.refused[4]),
    ('fill', '8-GPU requests refused', lambda t: t.refused[8]),
    ('fill', 'mixed-model placements', lambda t: t.mixed),
    ('fill', 'avoidable NUMA splits', lambda t: t.avoidable_splits),
    ('churn', 'GPUs placed', lambda t: t.gpus_placed),
    ('churn', '4-GPU requests refused', lambda t: t.refused[4]),
    ('churn', '8-GPU requests refused', lambda t: t.refused[8]),
    ('churn', 'mixed-model placements', lambda t: t.mixed),
    ('churn', '4-/8-GPU refused or mixed', lambda t: t.failed_large),
    ('churn', 'avoidable NUMA splits', lambda t: t.avoidable_splits),
)


def progress(message: str):
    print(message, file=sys.stderr, flush=True)


def ratio(ours, theirs) -> str:
    if ours is None or theirs is None:
        return '-'
    if not theirs:
        return '-' if ours else '1.00'
    return f'{ours / theirs:.2f}'


def cost_rows(args) -> tuple[list, dict]:
    """Rows of the cost benchmark and the pack/in-tree ratios by mode."""
    rows, ratios = [], {}
    pack, stacked = workload.ours('pack'), workload.ours('pack', True)
    for hosts in args.cost_hosts:
        for mode, placement in workload.MODES:
            progress(f'cost: {hosts} hosts, {mode} mode')
            setups = [workload.IN_TREE, pack]
            if hosts <= STACKED_MAX_HOSTS:
                setups.append(stacked)
            reps = (args.large_repetitions if hosts >= LARGE_FLEET
                    else args.repetitions)
            us = cost.measure(hosts, placement, setups, reps, args.seed)
            r = us[pack.label] / us[workload.IN_TREE.label]
            ratios[hosts, mode] = r
            rows.append((f'cost: us per host, {hosts:,} hosts', mode,
                         f'{us[workload.IN_TREE.label]:.1f}',
                         f'{us[pack.label]:.1f}', '-',
                         f'{us[stacked.label]:.1f}'
                         if stacked.label in us else '-', f'{r:.2f}'))
    return rows, ratios


def packing_results(args) -> dict:
    """Packing results by (mode, set-up label)."""
    setups = (workload.IN_TREE, workload.ours('pack', True),
              workload.ours('spread', True))
    results = {}
    for mode, placement in workload.MODES:
        for setup in setups:
            progress(f'packing: {mode} mode, {setup.label}')
            results[mode, setup.label] = packing.run(
                setup, args.packing_hosts, placement, args.seed,
                args.fill_stop, args.churn_requests)
    return results


def packing_rows(results: dict) -> list:
    in_tree, pack, spread = (workload.IN_TREE.label,
                             workload.ours('pack', True).label,
                             workload.ours('spread', True).label)
    rows = []
    for mode, _ in workload.MODES:
        for run, name, get in PACKING_FIGURES:
            figures = [get(getattr(results[mode, label], run))
                       for label in (in_tree, pack, spread)]
            rows.append((f'{run}: {name}', mode,
                         *('-' if f is None else str(f) for f in figures),
                         '-', ratio(figures[1], figures[0])))
    return rows


def verdict(holds: bool) -> str:
    return 'holds' if holds else 'DOES NOT HOLD'


def targets(ratios: dict, results: dict) -> list:
    """The targets of the benchmark, each with the figures behind it."""
    lines = []
    for (hosts, mode), r in sorted(ratios.items()):
        if hosts >= LARGE_FLEET:
            lines.append(f'cost ratio <= 1.0 (aim 0.5), {mode}, '
                         f'{hosts:,} hosts: {r:.2f} - {verdict(r <= 1.0)}')
    in_tree = workload.IN_TREE.label
    ours = [label for _, label in results if label != in_tree]
    mixed = sum(getattr(results[key], run).mixed
                for key in results if key[1] in ours
                for run in ('fill', 'churn'))
    nova_mixed = sum(getattr(results[key], run).mixed
                     for key in results if key[1] == in_tree
                     for run in ('fill', 'churn'))
    lines.append(f'0 mixed-model placements: ours {mixed}, nova in-tree '
                 f'{nova_mixed} - {verdict(mixed == 0)}')
    pack = workload.ours('pack', True).label
    for mode, _ in workload.MODES:
        lines.extend(_churn_targets(mode, results[mode, in_tree].churn,
                                    results[mode, pack].churn))
    return lines


def _churn_targets(mode: str, nova: packing.Tally,
                   ours: packing.Tally) -> list:
    large = (f'{ours.refused_large} vs {nova.refused_large} '
             f'({ratio(ours.refused_large, nova.refused_large)})')
    splits = (f'{ours.avoidable_splits} vs {nova.avoidable_splits}')
    return [
        f'churn, {mode}: GPUs placed >= in-tree: {ours.gpus_placed} vs '
        f'{nova.gpus_placed} - '
        f'{verdict(ours.gpus_placed >= nova.gpus_placed)}',
        f'churn, {mode}: fewer 4-/8-GPU refusals (aim 10 % fewer): {large} '
        f'- {verdict(ours.refused_large < nova.refused_large)}',
        f'churn, {mode}: avoidable NUMA splits <= 1/5 of in-tree (aim '
        f'1/10): {splits} - '
        f'{verdict(ours.avoidable_splits * 5 <= nova.avoidable_splits)}',
    ]


def collect(args) -> tuple[list, list]:
    rows, ratios = cost_rows(args)
    results = packing_results(args)
    return rows + packing_rows(results), targets(ratios, results)


def table(rows: list) -> str:
    widths = [max(len(str(row[c])) for row in [HEADER] + rows)
              for c in range(len(HEADER))]
    rule = '  '.join('-' * w for w in widths)
    lines = [rule,
             '  '.join(h.ljust(w) for h, w in zip(HEADER, widths)),
             rule]
    for row in rows:
        cells = [str(row[0]).ljust(widths[0]), str(row[1]).ljust(widths[1])]
        cells += [str(v).rjust(w) for v, w in zip(row[2:], widths[2:])]
        lines.append('  '.join(cells))
    lines.append(rule)
    return '\n'.join(lines)
