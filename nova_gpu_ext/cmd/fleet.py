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

Commands of ``nova-gpu-ext`` and of ``openstack gpu``. They read one
fleet snapshot (:mod:`nova_gpu_ext.admin.fleet`) from the nova cell
databases (``--nova-conf`` or ``--connection``: legacy and placement mode
alike, read-only, one query per cell) or, without either, from Placement
through the cloud (PCI in placement mode only).
"""


from nova_gpu_ext.admin.audit import cells as cellmod
from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin import database
from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import celldb
from nova_gpu_ext.admin.fleet import explain
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import placement
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.admin.fleet import whatif
from nova_gpu_ext.cmd import base
from nova_gpu_ext.common import values
from nova_gpu_ext import exception
from nova_gpu_ext.gpu import models

NO_INVENTORY = (
    'placement has no PCI device inventory: set [pci] report_in_placement '
    '= True on every nova-compute with GPUs (PCI in placement mode), or '
    'read the cell databases with --nova-conf or --connection, which works '
    'in legacy mode too')


def add_source(parser) -> None:
    source = parser.add_argument_group(
        'source', 'the nova cell databases (--nova-conf or --connection), '
                  'else Placement through the cloud')
    source.add_argument(
        '--nova-conf', action='append', default=[], metavar='FILE',
        dest='nova_confs',
        help='nova.conf naming the databases: the cells mapped in '
             '[api_database] connection, else [database] connection; '
             'repeat for several files (later files win)')
    source.add_argument(
        '--connection', action='append', default=[], metavar='URL',
        dest='connections',
        help='a cell database as an SQLAlchemy URL, e.g. '
             'mysql+pymysql://nova:PASSWORD@db/nova; repeatable')
    source.add_argument(
        '--db-timeout', type=base.seconds('--db-timeout'),
        default=database.DEFAULT_TIMEOUT, metavar='SECONDS',
        help='how long connecting to a database or one query may take '
             f'(default {database.DEFAULT_TIMEOUT:g})')


class Source:
    """Where a snapshot comes from, built from the parsed options."""

    def __init__(self, command, parsed_args, gpu_catalog):
        self.command = command
        self.args = parsed_args
        self.catalog = gpu_catalog
        if parsed_args.nova_confs and parsed_args.connections:
            raise exception.BadInput(
                'give --nova-conf or --connection, not both')
        self.database = bool(parsed_args.nova_confs
                             or parsed_args.connections)
        self._cells = None

    @property
    def cells(self) -> list:
        if self._cells is None:
            self._cells = (cellmod.from_urls(self.args.connections)
                           if self.args.connections
                           else cellmod.from_config(self.args.nova_confs))
        return self._cells

    def names(self) -> snapshot.ModelFilter:
        if self.database:
            return snapshot.ModelFilter(self.catalog)
        return snapshot.ModelFilter(
            self.catalog, placement.Kinds(self.catalog).names())

    def take(self) -> snapshot.Snapshot:
        if self.database:
            snap = celldb.take(self.cells, self.names(),
                               self.args.db_timeout)
            if self.catalog is None:
                return snap
            return snapshot.with_provider_tags(
                snap, gpu_requests.provider_tags(self.catalog))
        conn = self.command.app.client_manager.gpu
        with connect.errors():
            snap = placement.take(conn, placement.Kinds(self.catalog),
                                  self.names(), progress=self._progress())
        if not snap.hosts:
            self.command.say(NO_INVENTORY)
        return snap

    def _progress(self):
        stream = self.command.app.stderr
        if not getattr(stream, 'isatty', lambda: False)():
            return None

        def show(done, total):
            width = 30
            filled = width * done // max(total, 1)
            stream.write(f'\rreading placement [{"#" * filled}'
                         f'{"." * (width - filled)}] {done}/{total} '
                         'devices' + ('\n' if done == total else ''))
            stream.flush()
        return show

    def servers(self, host: str) -> list:
        """The GPU servers of ``host``, from the databases only."""
        if not self.database:
            raise exception.BadInput(
                '--drain reads the servers of the host from the cell '
                'databases: give --nova-conf or --connection')
        return celldb.host_servers(self.cells, host, self.args.db_timeout)


def add_requests(parser, *, counts: bool) -> None:
    example = 'gpu:2=10' if counts else 'gpu:2'
    parser.add_argument(
        '--request', action='append', default=[], dest='requests',
        metavar='ALIAS:COUNT' + ('=N' if counts else ''),
        help=f'a GPU request as a flavor writes pci_passthrough:alias (e.g. '
             f'{example}; several aliases separated by commas)'
             + (', and how many such servers' if counts else '')
             + '; repeatable')
    parser.add_argument(
        '--numa', choices=[m.value for m in models.NumaMode],
        help='gpu:numa of the --request servers (default: '
             f'{gpu_requests.default_policy().numa.value}, as '
             '[nova_gpu_ext] numa_default)')


def request_policy(parsed_args) -> models.GpuPolicy:
    policy = gpu_requests.default_policy()
    if parsed_args.numa:
        policy = models.GpuPolicy(policy.same_model,
                                  models.NumaMode(parsed_args.numa))
    return policy


def aliases_of(gpu_catalog, snap: snapshot.Snapshot) -> dict:
    if gpu_catalog is None:
        return {}
    return gpu_requests.catalog_aliases(gpu_catalog, snap.placement)


def catalog_requests(gpu_catalog) -> list:
    if gpu_catalog is None:
        return []
    return gpu_requests.catalog_flavors(gpu_catalog,
                                        gpu_requests.default_policy())


def flavor_request(gpu_catalog, name: str) -> gpu_requests.GpuRequest:
    found = [r for r in catalog_requests(gpu_catalog) if r.label == name]
    if not found:
        known = ', '.join(r.label for r in catalog_requests(gpu_catalog))
        raise exception.BadInput(
            f'--flavor {name}: not a GPU flavor of the catalog (its flavors: '
            f'{known or "none, set flavor_counts"}); or give --request '
            'ALIAS:COUNT')
    return found[0]


class Capacity(base.Lister):
    """Show free GPUs per host, model and NUMA node, and what still fits.

    One row per host, GPU model and NUMA node: total, free, used and
    unavailable devices, and the largest same-model request that still
    fits on one NUMA node of the host and on the whole host. --summary
    gives one row per model over the fleet with its stranded GPUs (free
    ones no GPU flavor of the catalog would be given where they are);
    --fits one row per catalog flavor (or --request) with how many more
    servers fit now, honouring same-model, class aliases and gpu:numa.
    Reads the cell databases (--nova-conf, --connection) or Placement.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(
            parser, required=False,
            help_text='GPU catalog: rows carry its model names and count '
                      'only its models; its flavors are the ones --fits '
                      'and the stranded count use')
        add_source(parser)
        view = parser.add_mutually_exclusive_group()
        view.add_argument('--summary', action='store_true',
                          help='one row per GPU model over the fleet')
        view.add_argument('--fits', action='store_true',
                          help='one row per GPU flavor of the catalog (or '
                               '--request): servers that still fit')
        add_requests(parser, counts=False)
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=False)
        source = Source(self, parsed_args, gpu_catalog)
        snap = source.take()
        names = source.names()
        for warning in snap.warnings:
            self.say(warning)
        if parsed_args.summary or parsed_args.fits or parsed_args.requests:
            return self._questions(parsed_args, gpu_catalog, snap, names)
        rows = capacity.rows(snap, names)
        if not rows:
            if snap.hosts:
                self.say(f'no GPU in {snap.source}' + (
                    ' of the catalog\'s models' if gpu_catalog else ''))
            self.exit_status = exception.EXIT_FINDINGS
        return (('host', 'cell', 'model', 'vendor_id', 'product_id',
                 'numa_node', 'total', 'free', 'used', 'unavailable',
                 'largest_on_node', 'largest_on_host'),
                [(r.host, r.cell, r.model, r.vendor_id or None,
                  r.product_id if r.vendor_id else None, r.numa_node,
                  r.total, r.free, r.used, r.unavailable, r.largest_on_node,
                  r.largest_on_host) for r in rows])

    def _questions(self, parsed_args, gpu_catalog, snap, names):
        aliases = aliases_of(gpu_catalog, snap)
        policy = request_policy(parsed_args)
        wanted = ([gpu_requests.from_text(t, policy)
                   for t in parsed_args.requests]
                  or catalog_requests(gpu_catalog))
        unknown = sorted({a for r in wanted for a in r.unknown_aliases(
            aliases)})
        if unknown:
            raise exception.BadInput(
                f'--request: no such alias {", ".join(unknown)} (the '
                f'catalog\'s aliases: {", ".join(sorted(aliases)) or "none"}'
                '); give --catalog with the cloud\'s GPU catalog')
        placer = capacity.Placer(aliases)
        if parsed_args.fits or parsed_args.requests:
            if not wanted:
                raise exception.BadInput(
                    '--fits needs GPU flavors: give --catalog with '
                    'flavor_counts, or --request ALIAS:COUNT')
            return (('flavor', 'gpus_per_server', 'numa', 'fit', 'hosts'),
                    [(f.request, f.gpus_per_server, f.numa, f.fit, f.hosts)
                     for f in capacity.fits(snap, wanted, placer)])
        stranded = {s.model: s for s in capacity.stranded(
            snap, wanted, placer, names)}
        return (('model', 'total', 'free', 'used', 'unavailable',
                 'largest_on_node', 'largest_on_host', 'stranded'),
                [(m.model, m.total, m.free, m.used, m.unavailable,
                  m.largest_on_node, m.largest_on_host,
                  stranded[m.model].stranded if wanted else None)
                 for m in capacity.summary(snap, names)])


class Explain(base.Lister):
    """Say per host whether GpuPassthroughFilter would pass a request.

    The verdict the filter would give now, computed by the same core code
    the filter runs, on a snapshot: passes, or the reason in words (no
    such alias, wrong model, too few free of one model, would mix models,
    would split NUMA nodes). It can differ from the live scheduler: the
    other filters are not run, Placement may return fewer allocation
    candidates ([scheduler] max_placement_results), and claims in flight
    are not seen. Exit status 1 when no host passes.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(parser, required=True,
                         help_text='GPU catalog: its aliases and flavors')
        add_source(parser)
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument('--flavor', metavar='NAME',
                          help='a GPU flavor of the catalog, e.g. '
                               'gpu.a100.x2')
        what.add_argument('--request', metavar='ALIAS:COUNT',
                          help='a GPU request as a flavor writes '
                               'pci_passthrough:alias, e.g. gpu:2')
        parser.add_argument(
            '--numa', choices=[m.value for m in models.NumaMode],
            help='gpu:numa of --request (default: '
                 f'{gpu_requests.default_policy().numa.value})')
        parser.add_argument('--failing', action='store_true',
                            help='list only the hosts that do not pass')
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=True)
        request = (flavor_request(gpu_catalog, parsed_args.flavor)
                   if parsed_args.flavor else gpu_requests.from_text(
                       parsed_args.request, request_policy(parsed_args)))
        source = Source(self, parsed_args, gpu_catalog)
        snap = source.take()
        verdicts = explain.explain(snap, request, aliases_of(gpu_catalog,
                                                             snap),
                                   source.names())
        passing = sum(v.passes for v in verdicts)
        self.say(f'{request.label} ({request.policy}): {passing} of '
                 f'{len(verdicts)} host(s) pass')
        if not passing:
            self.exit_status = exception.EXIT_FINDINGS
        return (('host', 'passes', 'reason'),
                [(v.host, v.passes, v.reason) for v in verdicts
                 if not (parsed_args.failing and v.passes)])


def parse_plan(texts, policy) -> list:
    """``--request ALIAS:COUNT=N`` values as (request, N) pairs.

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
        plan.append((gpu_requests.from_text(request, policy), servers))
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

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(parser, required=True,
                         help_text='GPU catalog: its aliases')
        add_source(parser)
        add_requests(parser, counts=True)
        parser.add_argument(
            '--drain', action='append', default=[], metavar='HOST',
            help='take this compute host out and re-place its GPU servers '
                 'first; repeatable (needs --nova-conf or --connection)')
        parser.add_argument(
            '--policy', choices=('pack', 'spread'), default='pack',
            help='[nova_gpu_ext] weigher_policy of GpuWeigher (default '
                 'pack)')
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=True)
        plan = parse_plan(parsed_args.requests, request_policy(parsed_args))
        if not plan and not parsed_args.drain:
            raise exception.BadInput(
                'nothing to place: give --request ALIAS:COUNT=N or --drain '
                'HOST')
        source = Source(self, parsed_args, gpu_catalog)
        snap = source.take()
        missing = [h for h in parsed_args.drain if snap.host(h) is None]
        if missing:
            raise exception.BadInput(
                f'--drain {", ".join(missing)}: no such compute host in '
                f'{snap.source}')
        moved = [server for host in parsed_args.drain
                 for server in source.servers(host)]
        aliases = aliases_of(gpu_catalog, snap)
        unknown = sorted({a for r, _ in plan
                          for a in r.unknown_aliases(aliases)})
        if unknown:
            raise exception.BadInput(
                f'--request: no such alias {", ".join(unknown)} (the '
                f'catalog\'s aliases: {", ".join(sorted(aliases))})')
        outcomes = whatif.what_if(
            snap, plan, aliases, source.names(),
            spread=parsed_args.policy == 'spread',
            drained=parsed_args.drain, moved=moved)
        if any(o.fit < o.asked for o in outcomes):
            self.exit_status = exception.EXIT_FINDINGS
        return (('request', 'asked', 'fit', 'fit_in_tree', 'mixed_in_tree',
                 'split', 'split_in_tree', 'hosts', 'hosts_in_tree',
                 'free_left', 'free_left_in_tree'),
                [(o.request, o.asked, o.fit, o.fit_in_tree, o.mixed_in_tree,
                  o.split, o.split_in_tree, o.hosts, o.hosts_in_tree,
                  o.free_left, o.free_left_in_tree) for o in outcomes])
