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

"""``nova-gpu-ext exporter``: Prometheus metrics of the GPU fleet.

Serves ``/metrics`` over HTTP with ``prometheus_client`` while a
background loop takes a new fleet snapshot every ``--interval`` seconds
(:mod:`nova_gpu_ext.admin.fleet.exporter`); ``--once`` prints one
exposition instead, for node_exporter's textfile collector.
"""

import signal

from nova_gpu_ext.cmd import base
from nova_gpu_ext.cmd import sources
from nova_gpu_ext import exception

DEFAULT_LISTEN = '127.0.0.1:9858'
DEFAULT_INTERVAL = 60.0


def listen_address(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` (``[v6]:PORT`` for IPv6) as (address, port).

    Port 0 takes any free port; the startup line says which.
    """
    host, sep, port = text.rpartition(':')
    host = host.strip('[]')
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise exception.BadInput(
            f'--listen {text}: write ADDR:PORT, e.g. {DEFAULT_LISTEN}')
    return host, int(port)


class Exporter(base.Command):
    """Serve Prometheus metrics of the GPU fleet on /metrics.

    Free, used, unavailable, cordoned and awaiting-cleaning GPUs per host,
    model and NUMA node (cordoned ones from the cell databases need
    --placement-connection); how
    many servers of each GPU flavor still fit; the largest same-model
    request that fits anywhere; stranded GPUs; stale pci_devices rows (from
    the cell databases); and the age, duration and failures of the
    snapshot. The snapshot is refreshed every --interval seconds in the
    background: a scrape never waits on the database, and when a refresh
    fails the last good snapshot is served with its age.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(
            parser, required=False,
            help_text='GPU catalog: model names, only its models counted, '
                      'and its flavors for the fits and stranded GPUs')
        sources.add_source(parser)
        sources.add_requests(parser, counts=False)
        parser.add_argument(
            '--listen', default=DEFAULT_LISTEN, metavar='ADDR:PORT',
            help=f'where to serve /metrics (default {DEFAULT_LISTEN}, '
                 'loopback only; port 0: any free port, said at start)')
        parser.add_argument(
            '--interval', type=float, default=DEFAULT_INTERVAL,
            metavar='SECONDS',
            help=f'seconds between snapshots (default {DEFAULT_INTERVAL:g})')
        parser.add_argument(
            '--once', action='store_true',
            help='take one snapshot, print its exposition on stdout and '
                 'exit (for node_exporter\'s textfile collector)')
        return parser

    def take_action(self, parsed_args):
        if parsed_args.interval <= 0:
            raise exception.BadInput(
                f'--interval {parsed_args.interval:g}: give a number of '
                'seconds above 0')
        address = listen_address(parsed_args.listen)
        exporter = _exporter_module()
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=False)
        source = sources.source_of(self, parsed_args, gpu_catalog)
        placers = {}

        def placer(snap):
            if snap.placement not in placers:
                placers[snap.placement] = source.placer(snap)
            return placers[snap.placement]
        questions = exporter.Questions(
            sources.wanted(source, parsed_args), placer, source.names,
            source.stale_rows if source.database else None)
        refresher = exporter.Refresher(source.take, questions)
        if parsed_args.once:
            return self._once(refresher)
        return self._serve(refresher, source, address, parsed_args.interval)

    def _once(self, refresher):
        refresher.load()
        self.write(_exporter_module().scrape_text(refresher))
        return exception.EXIT_OK

    def _serve(self, refresher, source, address, interval):
        server, thread = _exporter_module().serve(refresher, *address)
        self.say(f'nova-gpu-ext exporter: serving '
                 f'http://{address[0]}:{server.server_port}/metrics; a '
                 f'snapshot of {source.where()} every {interval:g} s')
        previous = signal.signal(signal.SIGTERM,
                                 lambda *_: refresher.stop())
        try:
            refresher.run(interval)
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        return exception.EXIT_OK


def _exporter_module():
    """The exporter library; prometheus_client is the exporter extra."""
    try:
        from nova_gpu_ext.admin.fleet import exporter
    except ImportError as exc:
        raise exception.BadInput(
            f'the exporter needs prometheus_client ({exc}); install the '
            "exporter extra: pip install 'nova_gpu_ext[exporter]'") from exc
    return exporter
