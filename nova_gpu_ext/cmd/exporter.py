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

import ipaddress
import logging
import re
import signal

from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.cmd import base
from nova_gpu_ext.cmd import sources
from nova_gpu_ext.common import values
from nova_gpu_ext import exception

LOG = logging.getLogger(__name__)

DEFAULT_LISTEN = '127.0.0.1:9858'
DEFAULT_INTERVAL = 60.0
# A service manager's stop (systemd, docker) and Ctrl-C: both end the
# exporter at once with status 0, whatever its refresh is doing.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# One label of a host name (RFC 1123): what a resolver accepts; anything
# else would fail later in the idna codec with Python's words.
_HOST_LABEL = re.compile(r'[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?')


def listen_address(text: str) -> tuple[str, int]:
    """``--listen ADDR:PORT`` (``[v6]:PORT`` for IPv6) as (address, port).

    ADDR is an IPv4 or IPv6 address or a host name (RFC 1123 labels);
    PORT is ASCII digits from 0 to 65535, 0 taking any free port (the
    startup line says which).

    :raises BadInput: naming the option, one line (exit status 2).
    """
    host, sep, port = text.rpartition(':')
    if host.startswith('[') and host.endswith(']'):
        host = host[1:-1]
    try:
        if not sep:
            raise ValueError('no ":PORT"')
        port_number = values.count(port, minimum=0, maximum=65535)
        _check_host(host)
    except ValueError as exc:
        raise exception.BadInput(
            f'--listen {values.shown(text)}: {exc}; write ADDR:PORT, e.g. '
            f'{DEFAULT_LISTEN} or [::1]:9858') from exc
    return host, port_number


def _check_host(host: str) -> None:
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if not (len(host) <= 253
            and all(_HOST_LABEL.fullmatch(label)
                    for label in host.split('.'))):
        raise ValueError(f'{values.shown(host)} is neither an IP address '
                         'nor a host name (labels of 1 to 63 letters, '
                         'digits and hyphens)')


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
            type=listen_address,
            help=f'where to serve /metrics (default {DEFAULT_LISTEN}, '
                 'loopback only; ADDR an IP address or host name, [v6] for '
                 'IPv6; port 1-65535, or 0: any free port, said at start)')
        parser.add_argument(
            '--interval', type=base.seconds('--interval'),
            default=DEFAULT_INTERVAL,
            metavar='SECONDS',
            help=f'seconds between snapshots (default {DEFAULT_INTERVAL:g})')
        parser.add_argument(
            '--once', action='store_true',
            help='take one snapshot, print its exposition on stdout and '
                 'exit (for node_exporter\'s textfile collector)')
        return parser

    def take_action(self, parsed_args):
        address = parsed_args.listen
        exporter = _exporter_module()
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=False)
        source = sources.source_of(self, parsed_args, gpu_catalog)
        wanted = sources.wanted(source, parsed_args)
        _check_aliases(wanted, gpu_catalog)
        placers = {}

        def placer(snap):
            if snap.placement not in placers:
                placers[snap.placement] = source.placer(snap)
            return placers[snap.placement]
        questions = exporter.Questions(
            wanted, placer, source.names,
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
        server, _ = _exporter_module().serve(refresher, *address)
        self.say(f'nova-gpu-ext exporter: serving '
                 f'http://{address[0]}:{server.server_port}/metrics; a '
                 f'snapshot of {source.where()} every {interval:g} s')
        previous = {number: signal.signal(number, _stop(refresher))
                    for number in _STOP_SIGNALS}
        try:
            refresher.run(interval)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            # The serving thread is a daemon that ends with the process;
            # closing the socket stops the service now (shutdown() would
            # first wait for its half-second poll).
            server.server_close()
        return exception.EXIT_OK


def _check_aliases(wanted, gpu_catalog) -> None:
    """Refuse at start a --request whose alias the catalog lacks.

    Each refresh would otherwise fail on it, serving no snapshot.
    """
    aliases = (gpu_requests.catalog_aliases(gpu_catalog, placement=False)
               if gpu_catalog else {})
    unknown = sorted({a for r in wanted for a in r.unknown_aliases(aliases)})
    if unknown:
        raise exception.BadInput(
            f'--request: no such alias {", ".join(map(repr, unknown))} (the '
            f'catalog\'s aliases: {", ".join(sorted(aliases)) or "none"}); '
            'give --catalog with the cloud\'s GPU catalog')


def _stop(refresher):
    """A signal handler that stops the exporter, saying so."""
    def stop(number, frame):
        LOG.info('stopping on %(signal)s', {
            'signal': signal.Signals(number).name})
        refresher.stop()
    return stop


def _exporter_module():
    """The exporter library; prometheus_client is the exporter extra."""
    try:
        from nova_gpu_ext.admin.fleet import exporter
    except ImportError as exc:
        raise exception.BadInput(
            f'the exporter needs prometheus_client ({exc}); install the '
            "exporter extra: pip install 'nova_gpu_ext[exporter]'") from exc
    return exporter
