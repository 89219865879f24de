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

import dataclasses
import sys

import prettytable

from benchmarks import cost
from benchmarks import fleet
from benchmarks import packing
from benchmarks import placement_calls
from benchmarks import workload

# The set-up with both filters costs about both; it is timed on the
# smaller fleets only, where it does not dominate the run.
STACKED_MAX_HOSTS = 1000
LARGE_FLEET = 10000
COST_TARGET = 0.5
COUNTS = (2, 4)
# nova_gpu_ext with gpu:numa=any, beside the default (prefer), to show what
# keeping requests on one NUMA node costs in packing.
OURS_ANY = dataclasses.replace(
    workload.OURS, label='nova_gpu_ext numa=any',
    overrides={('nova_gpu_ext', 'numa_default'): 'any'})


def progress(message: str):
    print(message, file=sys.stderr, flush=True)


def verdict(holds: bool) -> str:
    return 'holds' if holds else 'DOES NOT HOLD'


def cost_cases(args) -> list:
    """The cases of the cost table.

    Every size and cap on the mixed fleet; the other fleets at the largest
    size, with placement's first cap (nova's default).
    """
    cases = []
    for hosts in args.cost_hosts:
        cases += [cost.Case(False, hosts, hosts, n) for n in COUNTS]
        cases += [cost.Case(True, hosts, cap, n)
                  for cap in args.max_results for n in COUNTS]
    hosts = max(args.cost_hosts)
    for kind in cost.FLEETS:
        if kind != 'mixed':
            cases += [cost.Case(placement, hosts, cap, n, kind)
                      for placement, cap in ((False, hosts),
                                             (True, args.max_results[0]))
                      for n in COUNTS]
    return cases


def cost_results(args) -> list:
    """(case, timing) for every case, one fleet per size and mode."""
    results = []
    fleets = {}
    for case in cost_cases(args):
        key = (case.hosts, case.placement, case.fleet)
        if key not in fleets:
            fleets.clear()
            fleets[key] = cost.fleet(case.hosts, case.placement, args.seed,
                                     case.fleet)
        progress(f'cost: {case.mode}, {case.hosts} hosts ({case.fleet}), '
                 f'{case.max_results} results, class x{case.count}')
        setups = [workload.IN_TREE, workload.OURS]
        if case.hosts <= STACKED_MAX_HOSTS:
            setups.append(workload.STACKED)
        reps = (args.large_repetitions if case.hosts >= LARGE_FLEET
                else args.repetitions)
        results.append((case, cost.measure(fleets[key], case, setups, reps)))
    return results


def cost_table(results: list) -> prettytable.PrettyTable:
    table = prettytable.PrettyTable([
        'mode', 'fleet', 'hosts', 'max results', 'request', 'hosts offered',
        'candidates', 'in-tree ms', 'ours ms', 'ours / in-tree',
        'in-tree us/cand.', 'ours us/cand.', 'both filters ms'])
    for case, t in results:
        nova = t.ms[workload.IN_TREE.label]
        ours = t.ms[workload.OURS.label]
        both = t.ms.get(workload.STACKED.label)
        per = max(t.candidates, 1) / 1e3
        table.add_row([
            case.mode, case.fleet, f'{case.hosts:,}',
            f'{case.max_results:,}',
            f'class x{case.count}', f'{t.hosts_offered:,}',
            f'{t.candidates:,}', f'{nova:.1f}', f'{ours:.1f}',
            f'{ours / nova:.2f}', f'{nova / per:.1f}', f'{ours / per:.1f}',
            '-' if both is None else f'{both:.1f}'])
    table.align = 'r'
    table.align['mode'] = 'l'
    table.align['fleet'] = 'l'
    return table


def growth(results: list) -> list:
    """How the time of each set-up grows with hosts and with candidates.

    Legacy: from the smallest to the largest fleet (every host one
    candidate).  Placement: from the smallest to the largest
    ``max_placement_results`` on one fleet, and from the smallest to the
    largest fleet at one ``max_placement_results``; on the mixed fleet.
    """
    by = {(c.placement, c.hosts, c.max_results, c.count): t
          for c, t in results if c.fleet == 'mixed'}
    hosts = sorted({k[1] for k in by})
    caps = sorted({k[2] for k in by if k[0]})
    pairs = [(f'legacy, {hosts[0]:,} -> {hosts[-1]:,} hosts',
              (False, hosts[0], hosts[0]), (False, hosts[-1], hosts[-1]))]
    pairs += [(f'placement, {n:,} hosts, {caps[0]:,} -> {caps[-1]:,} '
               f'results', (True, n, caps[0]), (True, n, caps[-1]))
              for n in hosts if caps]
    pairs += [(f'placement, {cap:,} results, {hosts[0]:,} -> '
               f'{hosts[-1]:,} hosts', (True, hosts[0], cap),
               (True, hosts[-1], cap)) for cap in caps]
    lines = []
    for name, small, large in pairs:
        for count in COUNTS:
            a, b = by.get(small + (count,)), by.get(large + (count,))
            if a is None or b is None or small == large:
                continue
            lines.append(
                f'{name}, class x{count} ({a.candidates:,} -> '
                f'{b.candidates:,} candidates): in-tree x' +
                ', ours x'.join(f'{b.ms[s.label] / a.ms[s.label]:.1f}'
                                for s in (workload.IN_TREE, workload.OURS)))
    return lines


def cost_targets(results: list) -> list:
    return [
        f'cost ours / in-tree <= {COST_TARGET}, {case.mode}, '
        f'{case.hosts:,} hosts ({case.fleet}), {case.max_results:,} '
        f'results, class x{case.count}: {ratio:.2f} - '
        f'{verdict(ratio <= COST_TARGET)}'
        for case, t in results
        for ratio in [t.ms[workload.OURS.label] /
                      t.ms[workload.IN_TREE.label]]]


PACKING_SETUPS = (workload.IN_TREE, workload.OURS, OURS_ANY)


def packing_results(args, setups: tuple = PACKING_SETUPS,
                    switch_share: float = 0.0) -> dict:
    """Tallies by (mode, load, label); the limit under label 'limit'.

    ``switch_share`` > 0: the fleet with PCIe switches, that share of the
    2- and 4-GPU requests asking for ``gpu:switch=single``.
    """
    switches = switch_share > 0
    results = {}
    hosts = workload.fleet(packing.FLEET_HOSTS, False)
    capacity = workload.capacity(hosts)
    for mode, placement in workload.MODES:
        if mode not in args.packing_modes:
            continue
        for load in args.loads:
            progress(f'packing: {mode} mode, load {load}'
                     + (', PCIe switches' if switches else ''))
            warmup = min(int(3 * packing.mean_lifetime(load, capacity)),
                         args.packing_requests // 2)
            for seed in range(args.seed, args.seed + args.packing_seeds):
                stream = packing.requests(seed, load, capacity,
                                          args.packing_requests,
                                          switch_share)
                tallies = [('limit', packing.limit(stream, warmup))]
                tallies += [(s.label, packing.run(s, placement, stream,
                                                  warmup,
                                                  switches=switches))
                            for s in setups]
                for label, tally in tallies:
                    results.setdefault((mode, load, label),
                                       packing.Tally())
                    results[mode, load, label] += tally
    return results


def packing_table(results: list) -> prettytable.PrettyTable:
    labels = [s.label for s in PACKING_SETUPS] + ['limit']
    short = {workload.IN_TREE.label: 'in-tree', workload.OURS.label: 'ours',
             OURS_ANY.label: 'ours any', 'limit': 'limit'}
    table = prettytable.PrettyTable(
        ['mode', 'load'] + [f'all: {short[x]} %' for x in labels] +
        [f'4-8: {short[x]} %' for x in labels] + ['in-tree mixed'])
    for mode, load in sorted({k[:2] for k in results}):
        tallies = [results[mode, load, label] for label in labels]
        table.add_row(
            [mode, f'{load:.1f}'] + [f'{t.share():.1f}' for t in tallies] +
            [f'{t.share(workload.LARGE):.1f}' for t in tallies] +
            [str(tallies[0].mixed)])
    table.align = 'r'
    table.align['mode'] = 'l'
    return table


def no_worse(case: str, ours: float, in_tree: float) -> str:
    """The target line: ours serves at least the share in-tree serves."""
    return (f'{case}: ours >= in-tree: {ours:.1f} vs {in_tree:.1f} % - '
            f'{verdict(ours >= in_tree)}')


def packing_targets(results: dict) -> list:
    lines = []
    for mode, load in sorted({k[:2] for k in results}):
        nova, ours, best = (results[mode, load, label] for label in (
            workload.IN_TREE.label, workload.OURS.label, 'limit'))
        for name, sizes in (('all GPUs', workload.SIZES),
                            ('4-8 GPU requests', workload.LARGE)):
            lines.append(no_worse(f'packing, {mode}, load {load:.1f}, '
                                  f'{name}', ours.share(sizes),
                                  nova.share(sizes)))
        if load == max(k[1] for k in results):
            half = (nova.share() + best.share()) / 2
            lines.append(
                f'packing, {mode}, load {load:.1f}: half of the gap from '
                f'in-tree to the limit closed (aim): ours {ours.share():.1f} '
                f'vs {half:.1f} % - {verdict(ours.share() >= half)}')
    return lines


SWITCH_SETUPS = (workload.IN_TREE, workload.OURS)


def switch_table(results: dict) -> prettytable.PrettyTable:
    table = prettytable.PrettyTable(
        ['mode', 'load', 'all: in-tree %', 'all: ours %', 'all: limit %',
         'switch single: in-tree %', 'switch single: ours %',
         'in-tree switch splits', 'ours switch splits'])
    for mode, load in sorted({k[:2] for k in results}):
        nova, ours, best = (results[mode, load, label] for label in (
            workload.IN_TREE.label, workload.OURS.label, 'limit'))
        table.add_row([mode, f'{load:.1f}', f'{nova.share():.1f}',
                       f'{ours.share():.1f}', f'{best.share():.1f}',
                       f'{nova.switch_share():.1f}',
                       f'{ours.switch_share():.1f}',
                       str(nova.switch_splits), str(ours.switch_splits)])
    table.align = 'r'
    table.align['mode'] = 'l'
    return table


def switch_targets(results: dict) -> list:
    lines = []
    for mode, load in sorted({k[:2] for k in results}):
        nova, ours = (results[mode, load, label] for label in (
            workload.IN_TREE.label, workload.OURS.label))
        for name, a, b in (
                ('all GPUs', ours.share(), nova.share()),
                ('gpu:switch=single GPUs', ours.switch_share(),
                 nova.switch_share())):
            lines.append(no_worse(f'packing with PCIe switches, {mode}, '
                                  f'load {load:.1f}, {name}', a, b))
    return lines


def collect(args) -> tuple[list, list]:
    """The tables and lines to print, and the targets."""
    costs = cost_results(args)
    packs = packing_results(args)
    out = ['Cost per scheduling request: class alias of two models, '
           '8-GPU hosts, filters and weighers through nova\'s handlers',
           cost_table(costs).get_string(), '',
           'Growth of the time per request:']
    out += [f'  {line}' for line in growth(costs)]
    switched = packing_results(args, SWITCH_SETUPS, packing.SWITCH_SHARE)
    out += ['', 'Packing: GPUs served right, % of the GPUs asked for, '
            f'{packing.FLEET_HOSTS} 8-GPU hosts',
            packing_table(packs).get_string()]
    out += ['', 'Packing with PCIe switches: the same hosts, 4 GPUs below '
            'one switch per NUMA node; '
            f'{packing.SWITCH_SHARE:.0%} of the 2- and 4-GPU requests '
            'gpu:switch=single, served right only below one switch',
            switch_table(switched).get_string()]
    targets = (cost_targets(costs) + packing_targets(packs) +
               switch_targets(switched))
    if args.fleet_hosts:
        lines, fleet_targets = fleet_report(args)
        out += [''] + lines
        targets += fleet_targets
    return out, targets


# The fleet commands' targets on a 10,000-host cell database.
CAPACITY_SECONDS = 5.0
CAPACITY_MB = 500.0
WHATIF_SECONDS = 30.0
WHATIF_MB = 500.0


def fleet_report(args) -> tuple[list, list]:
    """capacity/explain/what-if on a cell database; Placement's calls."""
    progress(f'fleet: {args.fleet_hosts} hosts in a cell database')
    built, results = fleet.run(args.fleet_hosts, args.seed)
    table = prettytable.PrettyTable(
        ['question', 'wall s', 'CPU s', 'peak MB', 'records'])
    table.align = 'r'
    table.align['question'] = 'l'
    for r in results:
        table.add_row([r['question'], f'{r["seconds"]:.2f}',
                       f'{r["cpu_seconds"]:.2f}', f'{r["peak_mb"]:.0f}',
                       r['records']])
    progress(f'fleet: Placement, {args.placement_hosts} hosts')
    calls = placement_calls.run(args.placement_hosts,
                                args.placement_latency)
    hosts = args.placement_hosts
    placement_table = prettytable.PrettyTable(
        ['Placement snapshot', 'calls', 'calls per host', 'wall s'])
    placement_table.align = 'r'
    placement_table.align['Placement snapshot'] = 'l'
    for workers, label in ((8, '8 at a time (capacity now)'),
                           (1, 'one by one (capacity before)')):
        seconds, count = calls[workers]
        placement_table.add_row([label, count, f'{count / hosts:.2f}',
                                 f'{seconds:.2f}'])
    lines = [f'Fleet commands on a synthetic cell database of '
             f'{args.fleet_hosts:,} hosts x 8 GPUs (SQLite, built in '
             f'{built:.1f} s), each in a fresh process',
             table.get_string(), '',
             f'Placement source: {hosts} hosts x 8 GPU devices, '
             f'{args.placement_latency * 1000:.0f} ms per answer',
             placement_table.get_string()]
    capacity = next(r for r in results if r['question'] == 'capacity')
    holds = (capacity['seconds'] < CAPACITY_SECONDS
             and capacity['peak_mb'] < CAPACITY_MB)
    targets = [f'capacity on {args.fleet_hosts:,} hosts under '
               f'{CAPACITY_SECONDS:g} s and {CAPACITY_MB:g} MB: '
               f'{capacity["seconds"]:.2f} s, {capacity["peak_mb"]:.0f} MB '
               f'- {verdict(holds)}']
    big = next(r for r in results if r['question'] == 'what-if x100')
    holds = big['seconds'] < WHATIF_SECONDS and big['peak_mb'] < WHATIF_MB
    servers = fleet.PLAN_SCALE * sum(int(p.split('=')[1]) for p in fleet.PLAN)
    targets.append(
        f'what-if of {servers:,} servers on {args.fleet_hosts:,} hosts '
        f'under {WHATIF_SECONDS:g} s '
        f'and {WHATIF_MB:g} MB: {big["seconds"]:.2f} s, '
        f'{big["peak_mb"]:.0f} MB ({big["records"]} placed by ours) - '
        f'{verdict(holds)}')
    return lines, targets
