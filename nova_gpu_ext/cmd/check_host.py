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

"""``nova-gpu-ext check-host``: read-only GPU passthrough readiness checks.

Exit codes: 0 ready (warnings allowed), 1 problems found, 2 bad input.
"""

import json
import textwrap

from nova_gpu_ext.cmd import catalog_args
from nova_gpu_ext.cmd import discover
from nova_gpu_ext.tooling import hostcheck

WIDTH = 79
INDENT = ' ' * 10


def add_arguments(parser):
    parser.add_argument(
        '--root', default='/', metavar='DIR',
        help='host root holding sys/, proc/ and etc/ (default /); a '
             'copied tree works too')
    parser.add_argument(
        '--config-file', action='append', default=[], metavar='CATALOG',
        dest='config_files',
        help='GPU catalog file to compare the host with; repeat for '
             'several files (later files win)')
    parser.add_argument(
        '--format', choices=('text', 'json'), default='text',
        help='text for people, json for tools')


def run(args) -> int:
    gpu_catalog = catalog_args.load(args.config_files)
    facts = discover.read_host(args.root)
    checks = hostcheck.check_host(
        facts, hostcheck.passthrough_gpus(facts, gpu_catalog))
    if gpu_catalog is not None:
        checks += hostcheck.check_catalog(facts, gpu_catalog)
    ready = hostcheck.worst(checks) != hostcheck.Status.PROBLEM
    if args.format == 'json':
        print(json.dumps({'root': facts.root, 'ready': ready,
                          'checks': [c.as_dict() for c in checks]},
                         indent=2))
    else:
        print(render_text(checks, ready))
    return 0 if ready else 1


def render_text(checks: list[hostcheck.Check], ready: bool) -> str:
    lines = []
    for check in checks:
        tag = f'[{check.status.value.upper()}]'.ljust(len(INDENT))
        lines.append(textwrap.fill(
            f'{tag}{check.name} {check.subject}: {check.message}',
            WIDTH, subsequent_indent=INDENT, break_long_words=False,
            break_on_hyphens=False))
        if check.status != hostcheck.Status.OK and check.remedy:
            # One line, so the commands in it copy and paste whole.
            lines.append(f'{INDENT}fix: {check.remedy}')
    counts = {s: sum(c.status == s for c in checks)
              for s in hostcheck.Status}
    lines.append(
        f'{"ready" if ready else "NOT READY"}: '
        f'{counts[hostcheck.Status.PROBLEM]} problem(s), '
        f'{counts[hostcheck.Status.WARNING]} warning(s), '
        f'{counts[hostcheck.Status.OK]} ok')
    return '\n'.join(lines)
