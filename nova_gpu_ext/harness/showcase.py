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

"""The demo: one server stream under two schedulers, shown side by side.

``nova-gpu-ext demo`` is a thin command over :func:`run`: it boots the
stream of :mod:`scenario` with nova's in-tree PCI scheduling and with
nova_gpu_ext, each in its own in-process cloud (:mod:`runner`), or on
nova's scheduler objects only (``engine='objects'``), and prints the
fleet, a table of where each server landed with every refusal explained,
what a user gets under each scheduler, and a picture of the GPU slots.
``html`` writes the same as a self-contained page.
"""

import collections
import dataclasses
import html
import importlib.util
import itertools
import os
import sys
import textwrap
import warnings

import prettytable

from nova_gpu_ext import exception
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import runner
from nova_gpu_ext.harness import scenario

SCHEDULERS = (False, True)  # nova in-tree, then nova_gpu_ext
WIDTH = 79

# What a server's user gets, and how each state is shown: in the result
# column, in colour on a terminal, and as a mark in the picture of the
# GPU slots (the marks tell the states apart without colour). A split is
# over the domains of a level of fit.LEVELS, ``<level.policy>-split``, or
# ``-unfit`` where the flavor asks that level ``single``.
RESULTS = {'ok': 'ok', 'numa-split': 'NUMA split',
           'numa-unfit': 'NUMA split, asked single',
           'switch-split': 'switch split',
           'switch-unfit': 'switch split, asked single',
           'mixed': 'MIXED MODELS'}
RESET = '\033[0m'
COLOURS = {'ok': '\033[32m', 'numa-split': '\033[33m',
           'numa-unfit': '\033[31m', 'switch-split': '\033[33m',
           'switch-unfit': '\033[31m', 'mixed': '\033[1;31m',
           'refused': '\033[35m', 'free': '\033[2m'}
HTML_COLOURS = {'ok': '#c8ecc8', 'numa-split': '#fbe3a6',
                'numa-unfit': '#f7b9a1', 'switch-split': '#fbe3a6',
                'switch-unfit': '#f7b9a1', 'mixed': '#f08c8c',
                'free': '#eeeeee'}
MARKS = {'ok': '', 'numa-split': '~', 'numa-unfit': '!',
         'switch-split': '~', 'switch-unfit': '!', 'mixed': '!', 'free': ''}
LEGEND = ('#N: the server holding the GPU; ! mixed models, or split against '
          'gpu:numa=single or gpu:switch=single; ~ split over NUMA nodes or '
          'PCIe switches; - free; [ ] the GPUs below one PCIe switch')


@dataclasses.dataclass(frozen=True)
class Options:
    """What the demo runs: engine, PCI mode, weigher policy, page."""

    engine: str = 'cloud'
    placement: bool = False
    policy: str = 'pack'
    html: str | None = None


def label(ours: bool) -> str:
    return runner.Run(ours).label


def run(options: Options, out=None, err=None) -> int:
    """Run the demo, print the report; BadInput for unusable options."""
    out, err = out or sys.stdout, err or sys.stderr
    _check(options)
    progress = _progress(err) if options.engine == 'cloud' else None
    runs = outcomes(options, progress)
    colour = out.isatty() and not os.environ.get('NO_COLOR')
    out.write(report(runs, options, colour))
    if options.html:
        try:
            with open(options.html, 'w', encoding='utf-8') as page:
                page.write(html_page(runs, options))
        except OSError as exc:
            raise exception.BadInput(
                f'--html {options.html}: cannot write: {exc.strerror}'
            ) from exc
        err.write(f'Wrote {options.html}\n')
    return exception.EXIT_OK


# What each engine imports, and what installs it.
NEEDS = {'cloud': (('nova', 'placement', 'wsgi_intercept'),
                   '"nova_gpu_ext[demo]" (or run tools/demo)'),
         'objects': (('nova',), '"nova_gpu_ext[nova]"')}


def _check(options: Options):
    if options.placement and options.engine != 'cloud':
        raise exception.BadInput('--placement needs --engine cloud')
    modules, extra = NEEDS[options.engine]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise exception.BadInput(
            f'--engine {options.engine} needs {", ".join(missing)}: '
            f'install {extra}')
    if options.html:
        folder = os.path.dirname(os.path.abspath(options.html))
        if not os.path.isdir(folder):
            raise exception.BadInput(
                f'--html {options.html}: no directory {folder}; give a '
                f'file in an existing directory')


def _progress(err):
    """A progress line on stderr while the clouds boot the stream.

    On a terminal the line counts the servers settled in each cloud;
    otherwise it is printed once.
    """
    err.write('Starting two in-process nova clouds...')
    if not err.isatty():
        err.write('\n')
        return None
    total = len(scenario.STREAM)

    def progress(done):
        text = ', '.join(f'{label(ours)} {n}/{total}'
                         for ours, n in zip(SCHEDULERS, done))
        end = '\n' if all(n == total for n in done) else ''
        err.write(f'\rServers settled: {text}{end}')
        err.flush()
    return progress


def outcomes(options: Options, progress=None) -> dict:
    """``{scheduler label: [Outcome, ...]}`` for both schedulers."""
    if options.engine == 'objects':
        return {label(ours): objects_run(ours, options.policy)
                for ours in SCHEDULERS}
    found = runner.run([runner.Run(ours, options.placement, options.policy)
                        for ours in SCHEDULERS], progress)
    return {label(ours): run_ for ours, run_ in zip(SCHEDULERS, found)}


def objects_run(ours: bool, policy: str) -> list:
    """The stream through nova's handlers on HostState objects only."""
    with warnings.catch_warnings():
        # nova's scheduler imports eventlet, which warns that it is
        # deprecated: noise here.
        warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
        from nova.scheduler.filters import numa_topology_filter
        from nova.scheduler.filters import pci_passthrough_filter
        from nova.scheduler.weights import pci

        from nova_gpu_ext import conf
        from nova_gpu_ext.harness import sim
        from nova_gpu_ext.scheduler.filters import gpu_passthrough
        from nova_gpu_ext.scheduler.weights import gpu

    # As the cloud's scheduler (cloud._StreamRun.scheduler_flags).
    filters = [numa_topology_filter.NUMATopologyFilter,
               pci_passthrough_filter.PciPassthroughFilter]
    weighers = [pci.PCIWeigher]
    if ours:
        filters.append(gpu_passthrough.GpuPassthroughFilter)
        weighers = [gpu.GpuWeigher]
    scheduler = sim.Scheduler(filters, weighers)
    hosts = [sim.Host(host.name, [
        sim.Gpu(m.key, numa, pcie_switch=scenario.switch_at(host.name, slot))
        for slot, (m, numa) in enumerate(host.gpus)],
        cpus=host.cpus, memory_mb=host.memory_gb * 1024)
        for host in scenario.FLEET]
    aliases = {name: sim.Alias(name, tuple(m.key for m in members))
               for name, members in scenario.ALIASES.items()}
    conf.CONF.set_override('weigher_policy', policy, 'nova_gpu_ext')
    found = []
    try:
        for flavor, items, _ in scenario.STREAM:
            spec = sim.request_spec(
                [(aliases[a], int(n)) for a, n in
                 (item.split(':') for item in items.split(',') if item)],
                scenario.extra_specs(flavor, ours))
            placed = scheduler.place(hosts, spec)
            found.append(_objects_outcome(flavor, placed, hosts, spec, ours))
    finally:
        conf.CONF.clear_override('weigher_policy', 'nova_gpu_ext')
    return found


def _objects_outcome(flavor, placed, hosts, spec,
                     ours: bool) -> scenario.Outcome:
    from nova_gpu_ext.harness import refusal
    from nova_gpu_ext.scheduler import nova_objects

    if placed.host is None:
        policy = (nova_objects.gpu_policy(spec, nova_objects.default_policy())
                  if ours else None)
        return scenario.Outcome(flavor, None, reason=refusal.explain(
            [(h.name, h.state.pci_stats.pools) for h in hosts],
            nova_objects.device_requests(spec), policy, False,
            scenario.name_of))
    slots = {id(p): i for i, p in enumerate(placed.host.pools)}
    return scenario.Outcome(flavor, placed.host.name, tuple(
        scenario.Gpu(scenario.name_of(models.model_of(p)), p['numa_node'],
                     slots[id(p)], p.get(claims.PCIE_SWITCH))
        for p in placed.taken))


def asked_single(flavor: str) -> list:
    """The levels of fit.LEVELS the flavor asks ``single`` of."""
    policy = models.policy_from_extra_specs(scenario.FLAVORS[flavor][1],
                                            models.IN_TREE)
    return [level for level in fit.LEVELS
            if level.mode(policy) == fit.SINGLE]


def unfit(outcome: scenario.Outcome, level: fit.Level) -> bool:
    """Whether the server is split at a level its flavor asks single."""
    return outcome.split(level) and level in asked_single(outcome.flavor)


def state(outcome: scenario.Outcome) -> str:
    """What the user of the server gets.

    ``ok``; ``numa-split``, ``switch-split``: GPUs over NUMA nodes or PCIe
    switches (slower peer-to-peer); ``numa-unfit``, ``switch-unfit``:
    split although the flavor asks ``gpu:numa=single`` or
    ``gpu:switch=single``; ``mixed``: GPUs of two models (CUDA multi-GPU
    jobs fail); ``refused``.  A split against the flavor comes first,
    then the NUMA level before the switch level.
    """
    if outcome.refused:
        return 'refused'
    if outcome.mixed:
        return 'mixed'
    for level in fit.LEVELS:
        if unfit(outcome, level):
            return f'{level.policy}-unfit'
    for level in fit.LEVELS:
        if outcome.split(level):
            return f'{level.policy}-split'
    return 'ok'


# -- text ------------------------------------------------------------------

def _table(header, align='l') -> prettytable.PrettyTable:
    table = prettytable.PrettyTable(header)
    table.align = align
    return table


def _paint(text: str, kind: str, colour: bool) -> str:
    return f'{COLOURS[kind]}{text}{RESET}' if colour and text else text


def _numa_nodes() -> list:
    return sorted({numa for host in scenario.FLEET for _, numa in host.gpus})


def _models(gpus, counted: bool = False) -> str:
    """``2 x K4200``, ``K4200 + V100``; ``1 x K4200`` if ``counted``."""
    counts = collections.Counter(gpus)
    return ' + '.join(f'{n} x {name}' if n > 1 or counted else name
                      for name, n in counts.items()) or '-'


def _below_switches(slots, text, wrap=lambda shown: f'[{shown}]',
                    sep: str = '  ') -> str:
    """The texts of ``(switch, item)`` slots, wrapped per PCIe switch.

    ``text`` formats the items of a run of slots below one switch (or
    below none), ``wrap`` the text of a run below a switch.
    """
    parts = []
    for switch, run in itertools.groupby(slots, key=lambda slot: slot[0]):
        shown = text([item for _, item in run])
        parts.append(wrap(shown) if switch else shown)
    return sep.join(parts)


def fleet_table() -> prettytable.PrettyTable:
    nodes = _numa_nodes()
    table = _table(['host', 'CPUs', 'RAM'] + [f'NUMA {n}' for n in nodes])
    table.align['CPUs'] = table.align['RAM'] = 'r'
    for host in scenario.FLEET:
        table.add_row([host.name, host.cpus, f'{host.memory_gb} GB'] + [
            _below_switches(
                [(scenario.switch_at(host.name, slot), m.name)
                 for slot, (m, numa) in enumerate(host.gpus)
                 if numa == node],
                lambda names: _models(names, counted=True)) or '-'
            for node in nodes])
    return table


def _asks(items: str) -> str:
    parts = []
    for item in filter(None, items.split(',')):
        alias, count = item.split(':')
        members = ' or '.join(m.name for m in scenario.ALIASES[alias])
        parts.append(f'{count} x {alias} ({members})')
    return ', '.join(parts) or 'no GPU'


def _specs(flavor: str, ours: bool) -> str:
    """What one scheduler's flavor asks beyond its GPUs, a spec a line.

    The in-tree side names the ``gpu:`` specs nova has no means for.
    """
    lines = [f'{k}={v}' for k, v in
             scenario.extra_specs(flavor, ours).items()]
    if not ours:
        lines += [f'(nova has no means for {k}={v})'
                  for k, v in scenario.FLAVORS[flavor][1].items()
                  if not scenario.IN_TREE_MEANS[k, v]]
    return '\n'.join(lines) or '-'


def flavor_table() -> prettytable.PrettyTable:
    table = _table(['flavor', 'GPUs'] +
                   [f'{label(ours)} is asked' for ours in SCHEDULERS])
    for name, (items, _) in scenario.FLAVORS.items():
        table.add_row([name, _asks(items)] +
                      [_specs(name, ours) for ours in SCHEDULERS],
                      divider=True)
    return table


def _notes(runs: dict) -> list:
    """``(scheduler label, server number, Outcome)`` of each refusal."""
    return [(name, i, o) for i in range(len(scenario.STREAM))
            for name, found in runs.items()
            for o in [found[i]] if o.refused]


def results_table(runs: dict, colour: bool = False) -> prettytable.PrettyTable:
    table = _table(['#', 'flavor', 'scheduler', 'host', 'GPUs', 'NUMA',
                    'result'])
    notes = {(name, i): n for n, (name, i, _) in enumerate(_notes(runs), 1)}
    names = list(runs)
    for i, (flavor, _, _) in enumerate(scenario.STREAM):
        for name in names:
            o = runs[name][i]
            kind = state(o)
            result = (f'refused [{notes[name, i]}]' if o.refused
                      else RESULTS[kind])
            nodes = ' + '.join(str(n) for n in sorted(
                {g.numa_node for g in o.gpus}, key=str)) or '-'
            first = name == names[0]
            table.add_row([
                i + 1 if first else '', flavor if first else '', name,
                o.host or 'NO VALID HOST', _models(g.model for g in o.gpus),
                nodes, _paint(result, kind, colour)],
                divider=name == names[-1])
    return table


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent,
                         subsequent_indent=' ' * len(indent))


def notes_text(runs: dict) -> str:
    return '\n'.join(
        _wrap(f'#{i + 1} {o.flavor}, {name}: {o.reason}', f'[{n}] ')
        for n, (name, i, o) in enumerate(_notes(runs), 1))


def working(outcome: scenario.Outcome) -> bool:
    """Placed with GPUs of one model: a CUDA job across them runs."""
    return not (outcome.refused or outcome.mixed)


SUMMARY_ROWS = (
    (('placed, GPUs working', working),) +
    tuple(row for level in fit.LEVELS for row in (
        (f'  of these, split over {level.domains}',
         lambda o, level=level: working(o) and o.split(level)),
        ('    where the flavor asks single',
         lambda o, level=level: working(o) and unfit(o, level)))) +
    (('placed, mixed GPU models (CUDA multi-GPU fails)',
      lambda o: state(o) == 'mixed'),
     ('refused, reason given', lambda o: o.refused))
)


def summary_table(runs: dict) -> prettytable.PrettyTable:
    table = _table(['servers'] + list(runs), align='r')
    table.align['servers'] = 'l'
    for text, test in SUMMARY_ROWS:
        table.add_row([text] + [sum(map(test, found))
                                for found in runs.values()])
    return table


def _numbers(found, test) -> str:
    return ', '.join(f'#{i}' for i, o in enumerate(found, 1) if test(o))


def _split_against(name: str, ours: bool, numbers: str,
                   level: fit.Level) -> str:
    """The sentence of servers split at a level their flavor asks single.

    It says what the scheduler was asked: nova in-tree by its own means,
    where it has one (scenario.IN_TREE_MEANS).
    """
    asked = {level.spec: fit.SINGLE}
    if not ours:
        asked = scenario.in_tree_specs(asked)
        if not asked:
            return (f'{name} split {numbers} over {level.domains}: nova '
                    f'has no means to be asked for one (nova_gpu_ext is '
                    f'asked {level.spec}={fit.SINGLE}).')
    specs = ', '.join(f'{k}={v}' for k, v in asked.items())
    return (f'{name} split {numbers} over {level.domains} although its '
            f'flavor asks {specs}.')


def difference(runs: dict) -> list:
    """What each scheduler did to the users, in sentences."""
    lines = []
    for name, found in runs.items():
        mixed = _numbers(found, lambda o: state(o) == 'mixed')
        if mixed:
            lines.append(f'{name} gave {mixed} GPUs of two models: the '
                         f'server boots, but a CUDA job across its GPUs '
                         f'fails.')
        for level in fit.LEVELS:
            split = _numbers(found, lambda o: working(o) and unfit(o, level))
            if split:
                lines.append(_split_against(name, name == label(True),
                                            split, level))
    pairs = list(runs.items())
    for (name, found), (other, theirs) in zip(pairs, pairs[::-1]):
        only = ', '.join(f'#{i}' for i, (o, t) in enumerate(
            zip(found, theirs), 1) if o.refused and not t.refused)
        if only:
            lines.append(f'{name} refused {only}, which {other} placed: '
                         f'see the reasons under the table.')
    lines.append('Servers placed with working GPUs: ' + ', '.join(
        f'{name} {sum(map(working, found))} of {len(found)}'
        for name, found in runs.items()) + '.')
    return lines


def _slots(runs: dict) -> dict:
    """``{(scheduler, host): {slot: (server number, state)}}``."""
    held = collections.defaultdict(dict)
    for name, found in runs.items():
        for i, o in enumerate(found, 1):
            for gpu in o.gpus:
                held[name, o.host][gpu.slot] = (i, state(o))
    return held


def _picture(runs: dict):
    """``(host, scheduler, cells)`` per GPU host and scheduler.

    A cell is one NUMA node: the ``(PCIe switch, (model, server number or
    None, state))`` of each of its slots, in slot order.
    """
    nodes = _numa_nodes()
    held = _slots(runs)
    for host in scenario.FLEET:
        if not host.gpus:
            continue
        for name in runs:
            yield host.name, name, [
                [(scenario.switch_at(host.name, slot),
                  (model.name,
                   *held[name, host.name].get(slot, (None, 'free'))))
                 for slot, (model, numa) in enumerate(host.gpus)
                 if numa == node]
                for node in nodes]


def _token(model: str, server: int | None, kind: str, colour: bool) -> str:
    text = f'{model} #{server}{MARKS[kind]}' if server else f'{model} -'
    return _paint(text, kind, colour)


def _tokens(slots, colour: bool) -> str:
    return '  '.join(_token(*slot, colour) for slot in slots)


def picture_table(runs: dict, colour: bool = False) -> prettytable.PrettyTable:
    table = _table(['host', 'scheduler'] +
                   [f'NUMA {n}' for n in _numa_nodes()])
    first, *_, last = runs
    for host, name, cells in _picture(runs):
        table.add_row(
            [host if name == first else '', name] +
            [_below_switches(cell, lambda slots: _tokens(slots, colour))
             for cell in cells],
            divider=name == last)
    return table


def title(options: Options) -> str:
    mode = 'placement' if options.placement else 'legacy'
    engine = ('in-process nova clouds' if options.engine == 'cloud'
              else "nova's scheduler objects")
    return (f'nova in-tree and nova_gpu_ext scheduling one stream of '
            f'servers ({engine}, {mode} PCI mode, nova_gpu_ext weigher '
            f'policy {options.policy})')


def report(runs: dict, options: Options, colour: bool = False) -> str:
    """The whole text the demo prints."""
    sections = (
        [_wrap(title(options), '')],
        ['Fleet: the GPUs of each host per NUMA node, [ ] those below one '
         'PCIe switch', fleet_table().get_string()],
        ['Flavors', flavor_table().get_string()],
        ['Where each server landed',
         results_table(runs, colour).get_string(), notes_text(runs)],
        ['What the users get', summary_table(runs).get_string(),
         '\n'.join(_wrap(line, '* ') for line in difference(runs))],
        ['GPU slots at the end', _wrap(LEGEND, ''),
         picture_table(runs, colour).get_string()],
    )
    return '\n\n'.join('\n'.join(filter(None, s)) for s in sections) + '\n'


# -- page ------------------------------------------------------------------

PAGE = '''<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nova_gpu_ext demo</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left;
         vertical-align: top; }}
th {{ background: #f3f3f3; }}
.slot {{ display: inline-block; min-width: 6em; margin: 0.15em;
         padding: 0.3em; border-radius: 4px; text-align: center; }}
.switch {{ display: inline-block; margin: 0.1em; padding: 0.1em;
           border: 1px dashed #666; border-radius: 4px; }}
{states}
</style>
</head>
<body>
<h1>nova_gpu_ext demo</h1>
<p>{title}</p>
<h2>Fleet</h2>
{fleet}
<h2>Flavors</h2>
{flavors}
<h2>Where each server landed</h2>
{results}
{notes}
<h2>What the users get</h2>
{summary}
{difference}
<h2>GPU slots at the end</h2>
<p>Each box is one GPU, with the server holding it.</p>
{picture}
<p>{legend}</p>
</body>
</html>
'''


def _html_table(table: prettytable.PrettyTable) -> str:
    return table.get_html_string()


def _html_slot(text: str, kind: str) -> str:
    return f'<span class="slot {kind}">{html.escape(text)}</span>'


def _html_switch(shown: str) -> str:
    return f'<span class="switch">{shown}</span>'


def _html_slots(slots) -> str:
    return ''.join(_html_slot(f'{model} #{server}' if server
                              else f'{model} free', kind)
                   for model, server, kind in slots)


def _html_picture(runs: dict) -> str:
    rows = ['<table>', '<tr><th>host</th><th>scheduler</th>' + ''.join(
        f'<th>NUMA {n}</th>' for n in _numa_nodes()) + '</tr>']
    for host, name, cells in _picture(runs):
        rows.append(
            f'<tr><td>{html.escape(host)}</td><td>{html.escape(name)}</td>' +
            ''.join('<td>' + _below_switches(cell, _html_slots,
                                             _html_switch, '') + '</td>'
                    for cell in cells) + '</tr>')
    rows.append('</table>')
    return '\n'.join(rows)


def html_page(runs: dict, options: Options) -> str:
    """The report as one self-contained HTML page (no external files)."""
    notes = ''.join(
        f'<li>[{n}] #{i + 1} {html.escape(o.flavor)}, {html.escape(name)}: '
        f'{html.escape(o.reason)}</li>'
        for n, (name, i, o) in enumerate(_notes(runs), 1))
    difference_ = ''.join(f'<li>{html.escape(line)}</li>'
                          for line in difference(runs))
    legend = ' '.join([_html_slot(text, kind) for kind, text in (
        list(RESULTS.items()) + [('free', 'free')])] +
        [_html_switch('the GPUs below one PCIe switch')])
    return PAGE.format(
        states='\n'.join(f'.{kind} {{ background: {value}; }}'
                         for kind, value in HTML_COLOURS.items()),
        title=html.escape(title(options)),
        fleet=_html_table(fleet_table()),
        flavors=_html_table(flavor_table()),
        results=_html_table(results_table(runs)),
        notes=f'<ul>{notes}</ul>' if notes else '',
        summary=_html_table(summary_table(runs)),
        difference=f'<ul>{difference_}</ul>',
        picture=_html_picture(runs), legend=legend)
