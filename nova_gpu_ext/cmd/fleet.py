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

"""The fleet commands: ``capacity``, ``explain`` and ``what-if``.

Commands of ``nova-gpu-ext`` and of ``openstack gpu``. They parse their
options and print; the fleet is read and judged by the tooling
(:class:`~nova_gpu_ext.admin.fleet.source.Source`, and
:mod:`~nova_gpu_ext.admin.fleet.capacity`, ``explain``, ``whatif``) from
the nova cell databases (``--nova-conf`` or ``--connection``: legacy and
placement mode alike, read-only, one query per cell) or, without either,
from Placement through the cloud (PCI in placement mode only).
"""

from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import explain
from nova_gpu_ext.admin.fleet import whatif
from nova_gpu_ext.cmd import base
from nova_gpu_ext.cmd import sources
from nova_gpu_ext.common import values
from nova_gpu_ext import exception


class Capacity(base.Lister):
    """Show free GPUs per host, model and NUMA node, and what still fits.

    One row per host, GPU model and NUMA node: total, free, used,
    unavailable, cordoned and awaiting-cleaning (one-time-use) devices,
    and the largest same-model request that still
    fits on one NUMA node of the host and on the whole host. --summary
    gives one row per model over the fleet with its stranded GPUs (free
    ones no GPU flavor of the catalog would be given where they are);
    --fits one row per catalog flavor (or --request) with how many more
    servers fit now, honouring same-model, class aliases and gpu:numa.
    Reads the cell databases (--nova-conf, --connection; cordoned GPUs
    are told from free ones with --placement-connection) or Placement.
    """

    ROWS = ('host', 'cell', 'model', 'vendor_id', 'product_id',
            'numa_node', 'total', 'free', 'used', 'unavailable',
            'cordoned', 'awaiting_cleaning', 'largest_on_node',
            'largest_on_host', 'largest_on_switch')
    FITS = ('flavor', 'gpus_per_server', 'numa', 'fit', 'hosts')
    SUMMARY = ('model', 'total', 'free', 'used', 'unavailable', 'cordoned',
               'awaiting_cleaning', 'largest_on_node', 'largest_on_host',
               'largest_on_switch',
               'stranded')
    COLUMNS = tuple(dict.fromkeys(ROWS + FITS + SUMMARY))

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(
            parser, required=False,
            help_text='GPU catalog: rows carry its model names and count '
                      'only its models; its flavors are the ones --fits '
                      'and the stranded count use')
        sources.add_source(parser)
        view = parser.add_mutually_exclusive_group()
        view.add_argument('--summary', action='store_true',
                          help='one row per GPU model over the fleet')
        view.add_argument('--fits', action='store_true',
                          help='one row per GPU flavor of the catalog (or '
                               '--request): servers that still fit')
        sources.add_requests(parser, counts=False)
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=False)
        source = sources.source_of(self, parsed_args, gpu_catalog)
        snap = source.take()
        if parsed_args.summary or parsed_args.fits or parsed_args.requests:
            return self._questions(parsed_args, source, snap)
        rows = capacity.rows(snap, source.names)
        if not rows:
            if snap.hosts:
                self.say(f'no GPU in {snap.source}' + (
                    ' of the catalog\'s models' if gpu_catalog else ''))
            self.exit_status = exception.EXIT_FINDINGS
        return (self.ROWS,
                [(r.host, r.cell, r.model, r.vendor_id or None,
                  r.product_id if r.vendor_id else None, r.numa_node,
                  r.total, r.free, r.used, r.unavailable, r.cordoned,
                  r.awaiting_cleaning, r.largest_on_node, r.largest_on_host,
                  r.largest_on_switch) for r in rows])

    def _questions(self, parsed_args, source, snap):
        requests = sources.wanted(source, parsed_args)
        placer = capacity.Placer(source.check_aliases(requests, snap))
        if parsed_args.fits or parsed_args.requests:
            if not requests:
                raise exception.BadInput(
                    '--fits needs GPU flavors: give --catalog with '
                    'flavor_counts, or --request ALIAS:COUNT')
            return (self.FITS,
                    [(f.request, f.gpus_per_server, f.numa, f.fit, f.hosts)
                     for f in capacity.fits(snap, requests, placer)])
        stranded = {s.model: s for s in capacity.stranded(
            snap, requests, placer, source.names)}
        return (self.SUMMARY,
                [(m.model, m.total, m.free, m.used, m.unavailable,
                  m.cordoned, m.awaiting_cleaning, m.largest_on_node,
                  m.largest_on_host, m.largest_on_switch,
                  stranded[m.model].stranded if requests else None)
                 for m in capacity.summary(snap, source.names)])


class Explain(base.Lister):
    """Say per host whether GpuPassthroughFilter would pass a request.

    The decision the filter would make now, by the same core code the
    filter runs, on a snapshot: passes, or the reason in words (no such
    alias, wrong model, too few free of one model, would mix models,
    would split NUMA nodes; a host placement gives no candidates names
    its cordoned and awaiting-cleaning GPUs). It can differ from the live
    scheduler: the other filters are not run, Placement may return fewer
    allocation candidates ([scheduler] max_placement_results), and claims
    in flight are not seen. Exit status 1 when no host passes.
    """

    COLUMNS = ('host', 'passes', 'reason')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(parser, required=True,
                         help_text='GPU catalog: its aliases and flavors')
        sources.add_source(parser)
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument('--flavor', metavar='NAME',
                          help='a GPU flavor of the catalog, e.g. '
                               'gpu.a100.x2')
        what.add_argument('--request', metavar='ALIAS:COUNT',
                          help='a GPU request as a flavor writes '
                               'pci_passthrough:alias, e.g. gpu:2')
        sources.add_locality(parser, '--request')
        parser.add_argument('--failing', action='store_true',
                            help='list only the hosts that do not pass')
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=True)
        source = sources.source_of(self, parsed_args, gpu_catalog)
        request = (source.flavor(parsed_args.flavor) if parsed_args.flavor
                   else source.request(parsed_args.request,
                                       parsed_args.numa, parsed_args.switch))
        snap = source.take()
        found = explain.explain(snap, request, source.aliases(snap),
                                source.names)
        passing = sum(e.passes for e in found)
        self.say(f'{request.label} ({request.policy}): {passing} of '
                 f'{len(found)} host(s) pass')
        if not passing:
            self.exit_status = exception.EXIT_FINDINGS
        return (self.COLUMNS,
                [(e.host, e.passes, e.reason) for e in found
                 if not (parsed_args.failing and e.passes)])


def parse_plan(texts) -> list:
    """``--request ALIAS:COUNT=N`` values as (ALIAS:COUNT text, N) pairs.

    N is ASCII digits from 1 to
    :data:`~nova_gpu_ext.common.values.MAX_COUNT`.
    """
    plan = []
    for text in texts:
        request, sep, count = text.rpartition('=')
        try:
            if not sep:
                raise ValueError('no "=N" servers')
            servers = values.count(count)
        except ValueError as exc:
            raise exception.BadInput(
                f'--request {values.shown(text)}: {exc}; write ALIAS:COUNT=N, '
                'e.g. gpu:2=10 for ten servers of two GPUs') from exc
        plan.append((request, servers))
    return plan


class WhatIf(base.Lister):
    """Place a mix of GPU servers on a copy of the fleet, ours beside nova's.

    The servers of each --request are placed in order, each where
    GpuPassthroughFilter and GpuWeigher would put it, and, on a second
    copy, where nova's in-tree PciPassthroughFilter and PCIWeigher would
    (models may mix there: mixed_in_tree counts servers whose GPUs are
    not one model, which CUDA multi-GPU jobs cannot use). --drain HOST
    first takes the host out and re-places its GPU servers (read from the
    cell databases) on the others: the maintenance question of a
    passthrough cloud, whose servers cannot live-migrate. Nothing is
    changed anywhere.
    """

    COLUMNS = ('request', 'asked', 'fit', 'fit_in_tree', 'mixed_in_tree',
               'split', 'split_in_tree', 'hosts', 'hosts_in_tree',
               'free_left', 'free_left_in_tree')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(parser, required=True,
                         help_text='GPU catalog: its aliases')
        sources.add_source(parser)
        sources.add_requests(parser, counts=True)
        parser.add_argument(
            '--drain', action='append', default=[], metavar='HOST',
            help='take this compute host out and re-place its GPU servers '
                 'first; repeatable (needs --nova-conf or --connection)')
        parser.add_argument(
            '--policy', choices=('pack', 'spread'),
            help='[nova_gpu_ext] weigher_policy of GpuWeigher (default: '
                 'that of the --nova-conf files, else pack)')
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=True)
        source = sources.source_of(self, parsed_args, gpu_catalog)
        plan = [(source.request(text, parsed_args.numa,
                                parsed_args.switch), count)
                for text, count in parse_plan(parsed_args.requests)]
        if not plan and not parsed_args.drain:
            raise exception.BadInput(
                'nothing to place: give --request ALIAS:COUNT=N or --drain '
                'HOST')
        snap = source.take()
        missing = [h for h in parsed_args.drain if snap.host(h) is None]
        if missing:
            raise exception.BadInput(
                f'--drain {", ".join(missing)}: no such compute host in '
                f'{snap.source}')
        moved = [server for host in parsed_args.drain
                 for server in source.servers(host)]
        aliases = source.check_aliases([r for r, _ in plan], snap)
        spread = (parsed_args.policy == 'spread' if parsed_args.policy
                  else source.spread)
        outcomes = whatif.what_if(snap, plan, aliases, source.names,
                                  spread=spread, drained=parsed_args.drain,
                                  moved=moved)
        if any(o.fit < o.asked for o in outcomes):
            self.exit_status = exception.EXIT_FINDINGS
        return (self.COLUMNS,
                [(o.request, o.asked, o.fit, o.fit_in_tree, o.mixed_in_tree,
                  o.split, o.split_in_tree, o.hosts, o.hosts_in_tree,
                  o.free_left, o.free_left_in_tree) for o in outcomes])
