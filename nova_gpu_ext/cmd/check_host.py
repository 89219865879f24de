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
from nova_gpu_ext.cmd import discover
from nova_gpu_ext import exception
from nova_gpu_ext.host import hostcheck

COLUMNS = ('Status', 'Check', 'Subject', 'Message', 'Fix')


class CheckHost(base.Lister):
    """Check whether this host is ready for GPU passthrough, with fixes.

    Read-only. One row per check: ok, warning or problem, why, and for
    the last two the command or line that fixes it (``-f value -c Fix``
    prints just those). The verdict goes to stderr; exit status 1 when a
    check finds a problem.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_root(parser, 'host root holding sys/, proc/ and etc/')
        base.add_catalog(parser, required=False,
                         help_text='GPU catalog to compare the host with')
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=False)
        facts = discover.read_host(parsed_args.root)
        checks = hostcheck.check_host(
            facts, hostcheck.passthrough_gpus(facts, gpu_catalog),
            hostcheck.host_kept_gpus(facts, gpu_catalog))
        if gpu_catalog is not None:
            checks += hostcheck.check_catalog(facts, gpu_catalog)
        ready = hostcheck.worst(checks) != hostcheck.Status.PROBLEM
        self.say(verdict(checks, ready))
        self.exit_status = (exception.EXIT_OK if ready
                            else exception.EXIT_FINDINGS)
        return COLUMNS, [
            (c.status.value, c.name, c.subject, c.message,
             c.remedy if c.status != hostcheck.Status.OK else '')
            for c in checks]


def verdict(checks: list[hostcheck.Check], ready: bool) -> str:
    counts = {s: sum(c.status == s for c in checks)
              for s in hostcheck.Status}
    return (f'{"ready" if ready else "NOT READY"}: '
            f'{counts[hostcheck.Status.PROBLEM]} problem(s), '
            f'{counts[hostcheck.Status.WARNING]} warning(s), '
            f'{counts[hostcheck.Status.OK]} ok')
