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

"""``nova-gpu-ext check-host``: read-only GPU passthrough readiness checks."""

from nova_gpu_ext.cmd import base
from nova_gpu_ext import exception
from nova_gpu_ext.host import health
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs

# textfile.FILE_NAME, named here without importing prometheus_client.
TEXTFILE_NAME = 'nova-gpu-ext.prom'


class CheckHost(base.Lister):
    """Check whether this host is ready for GPU passthrough, with fixes.

    Read-only. One row per check: ok, warning or problem, why, and for
    the last two the command or line that fixes it (``-f value -c Fix``
    prints just those). The verdict goes to stderr; exit status 1 when a
    check finds a problem. The health of each GPU and companion (config
    space, AER counters, link width, reset method) is checked too;
    --health checks only that, with driver and IOMMU group viability.
    --textfile DIR also writes the health as node_exporter textfile
    metrics.
    """

    COLUMNS = ('status', 'check', 'subject', 'message', 'fix')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_root(parser, 'host root holding sys/, proc/ and etc/')
        base.add_catalog(parser, required=False,
                         help_text='GPU catalog to compare the host with')
        parser.add_argument(
            '--health', action='store_true',
            help='check only the health of the GPUs and their companions')
        parser.add_argument(
            '--textfile', metavar='DIR',
            help='also write the health as node_exporter textfile metrics '
                 f'to DIR/{TEXTFILE_NAME} (the directory of '
                 'node_exporter --collector.textfile.directory)')
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=False)
        facts = sysfs.read_host(parsed_args.root)
        gpus = hostcheck.passthrough_gpus(facts, gpu_catalog)
        healths = self._health(parsed_args, facts, gpus, gpu_catalog)
        if parsed_args.health:
            checks = health_checks(facts, gpus, healths)
        else:
            checks = hostcheck.check_host(
                facts, gpus, hostcheck.host_kept_gpus(facts, gpu_catalog))
            checks += health.check_host(healths, skip=health.HEALTH_ONLY)
            if gpu_catalog is not None:
                checks += hostcheck.check_catalog(facts, gpu_catalog)
        ready = hostcheck.worst(checks) != hostcheck.Status.PROBLEM
        self.say(verdict(checks, ready))
        self.exit_status = (exception.EXIT_OK if ready
                            else exception.EXIT_FINDINGS)
        return self.COLUMNS, [
            (c.status.value, c.name, c.subject, c.message,
             c.remedy if c.status != hostcheck.Status.OK else '')
            for c in checks]

    def _health(self, parsed_args, facts, gpus, gpu_catalog):
        """The GPUs' health, written as metrics first with --textfile."""
        healths = health.read_health(facts, gpus, gpu_catalog)
        if parsed_args.textfile is not None:
            self.say(f'wrote {_write_textfile(parsed_args.textfile, healths)}')
        return healths


def health_checks(facts, gpus, healths) -> list[hostcheck.Check]:
    """``--health``: the GPUs found, what could not be read, their health."""
    checks = [hostcheck.check_gpus_found(facts, gpus)]
    checks += hostcheck.check_reads(facts, gpus)
    return checks + health.check_host(healths)


def _write_textfile(directory, healths) -> str:
    """The path written; prometheus_client is needed for this only."""
    try:
        from nova_gpu_ext.host import textfile
    except ImportError as exc:
        raise exception.BadInput(
            '--textfile needs prometheus_client; install the exporter '
            "extra: pip install 'nova_gpu_ext[exporter]'") from exc
    return textfile.write(directory, healths)


def verdict(checks: list[hostcheck.Check], ready: bool) -> str:
    counts = {s: sum(c.status == s for c in checks)
              for s in hostcheck.Status}
    return (f'{"ready" if ready else "NOT READY"}: '
            f'{counts[hostcheck.Status.PROBLEM]} problem(s), '
            f'{counts[hostcheck.Status.WARNING]} warning(s), '
            f'{counts[hostcheck.Status.OK]} ok')
