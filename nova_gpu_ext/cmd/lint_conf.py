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

"""``nova-gpu-ext lint-conf``: PCI passthrough mistakes in nova.conf files.

Exit codes: 0 clean, 1 findings, 2 unreadable input.
"""

from oslo_config import cfg

from nova_gpu_ext.cmd import main
from nova_gpu_ext.tooling import lint
from nova_gpu_ext.tooling import releases


def add_arguments(parser):
    parser.add_argument(
        'nova_confs', nargs='+', metavar='NOVA_CONF',
        help='nova.conf files (and files of nova.conf.d); give all files '
             'of one node together so aliases are checked against its '
             'device_spec')
    parser.add_argument(
        '--nova-release', default=releases.NEWEST, metavar='RELEASE',
        help=f'nova release of that node (default {releases.NEWEST}); '
             'option names are deprecated relative to it')


def run(args) -> int:
    try:
        release = releases.parse(args.nova_release)
    except releases.ReleaseError as exc:
        raise main.UsageError(exc) from exc
    entries = [e for path in args.nova_confs for e in read_entries(path)]
    findings = lint.check(entries, release)
    for finding in findings:
        print(finding)
    print(f'{len(findings)} finding(s) in {", ".join(args.nova_confs)}')
    return 1 if findings else 0


def read_entries(path: str) -> list[lint.Entry]:
    """Every value of ``path`` as written, multi-valued options included."""
    sections = {}
    try:
        cfg.ConfigParser(path, sections).parse()
    except OSError as exc:
        raise main.UsageError(f'cannot read {path}: {exc.strerror}') from exc
    except cfg.ParseError as exc:
        raise main.UsageError(f'cannot parse {path}: {exc}') from exc
    return [lint.Entry(path, section, option, value)
            for section, options in sections.items()
            for option, values in options.items()
            for value in values]
