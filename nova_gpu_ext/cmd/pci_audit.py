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

"""``nova-gpu-ext pci-audit``: find, and on request free, stale PCI rows.

Dry run by default. ``--apply`` writes a JSON backup first, then frees the
stale rows in one short transaction per cell; ``--restore`` puts them
back. Exit codes: 0 nothing to report (or every row changed), 1 stale rows
found in a dry run (or rows skipped by --apply/--restore), 2 error.
"""

from nova_gpu_ext.cmd import main
from nova_gpu_ext.tooling.audit import actions
from nova_gpu_ext.tooling.audit import AuditError
from nova_gpu_ext.tooling.audit import backup
from nova_gpu_ext.tooling.audit import cells as cellmod
from nova_gpu_ext.tooling.audit import report

DEFAULT_CONFIG = '/etc/nova/nova.conf'


def add_arguments(parser):
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        '--config-file', action='append', metavar='PATH',
        help='nova.conf naming the databases: the cells mapped in '
             '[api_database] connection, else [database] connection; '
             f'repeatable, later files win (default: {DEFAULT_CONFIG})')
    source.add_argument(
        '--connection', action='append', metavar='URL',
        help='a cell database as an SQLAlchemy URL, e.g. '
             'mysql+pymysql://nova:PASSWORD@db/nova; repeatable')
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        '--apply', action='store_true',
        help='free the stale rows, after writing the backup')
    action.add_argument(
        '--restore', metavar='BACKUP',
        help='put back the rows saved in this --apply backup')
    parser.add_argument(
        '--backup', metavar='FILE',
        help='where --apply writes its backup; must not exist yet '
             '(default: pci-audit-backup-<UTC time>.json here)')
    parser.add_argument(
        '--format', choices=('table', 'json'), default='table',
        help='output format (default: %(default)s)')


def run(args):
    if args.backup and not args.apply:
        raise main.UsageError('--backup is only used with --apply')
    try:
        data, status = _act(args)
    except AuditError as exc:
        raise main.UsageError(str(exc)) from exc
    print(report.render(data, args.format))
    return status


def _act(args):
    """The output data and the exit status of the chosen action."""
    cells = (cellmod.from_urls(args.connection) if args.connection
             else cellmod.from_config(args.config_file or [DEFAULT_CONFIG]))
    if args.restore:
        found, outcome = actions.restore(cells, args.restore)
        return (report.payload('restore', found, outcome, args.restore),
                int(bool(outcome.skipped)))
    found = actions.report(cells)
    if not args.apply:
        return report.payload('report', found), int(bool(found))
    if not found:
        return report.payload('report', found), 0
    path = args.backup or backup.default_path()
    outcome = actions.apply(cells, found, path)
    return (report.payload('apply', found, outcome, path),
            int(bool(outcome.skipped)))
