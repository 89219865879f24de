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

Dry run by default. ``--apply`` writes a backup first, then frees the
stale rows in one short transaction per cell; ``--restore`` puts them
back. Once rows have changed, nothing can hide it: the backup and the
nova-compute services to restart are said on stderr before the records
are printed, and if printing them fails the error repeats both (exit
status 4).
"""

from nova_gpu_ext.admin.audit import actions
from nova_gpu_ext.admin.audit import backup
from nova_gpu_ext.admin import cells as cellmod
from nova_gpu_ext.cmd import base
from nova_gpu_ext import exception


class PciAudit(base.Lister):
    """Find stale pci_devices rows in the nova cell databases.

    Rows allocated or claimed for instances that are gone or run
    elsewhere. A dry run by default (exit status 1 when stale rows are
    found); --apply frees them after writing a backup, --restore puts the
    rows of a backup back (exit status 1 when rows were skipped).
    """

    COLUMNS = ('cell', 'host', 'address', 'model', 'status', 'instance',
               'finding', 'why', 'result')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_cell_source(parser, fallback=base.DEFAULT_NOVA_CONF)
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
        return parser

    def run(self, parsed_args):
        self.changed = None
        try:
            status = super().run(parsed_args)
            self.app.stdout.flush()
        except (Exception, KeyboardInterrupt) as exc:
            if not self.changed:
                raise
            raise exception.ChangedThenFailed(
                f'{self.changed}, but the report could not be written: '
                f'{_reason(exc)}') from exc
        return status

    def take_action(self, parsed_args):
        if parsed_args.backup and not parsed_args.apply:
            raise exception.BadInput('--backup is only used with --apply')
        return self._act(parsed_args)

    def _act(self, args):
        if args.nova_confs and args.connections:
            raise exception.BadInput(
                'give --nova-conf or --connection, not both')
        cells = (cellmod.from_urls(args.connections) if args.connections
                 else cellmod.from_config(
                     args.nova_confs or [base.DEFAULT_NOVA_CONF],
                     args.db_timeout))
        if args.restore:
            _, outcome = actions.restore(cells, args.restore,
                                         args.db_timeout)
            return self._outcome('restored', outcome, args.restore)
        found = actions.report(cells, args.db_timeout)
        if not args.apply or not found:
            self.say(f'Dry run, nothing changed: {len(found)} stale rows; '
                     '--apply frees them after writing a backup.' if found
                     else 'No stale pci_devices rows.')
            if found:
                self.exit_status = exception.EXIT_FINDINGS
            return self.COLUMNS[:-1], [_row(f) for f in found]
        path = args.backup or backup.default_path()
        outcome = actions.apply(cells, found, path, args.db_timeout)
        return self._outcome('freed', outcome, path)

    def _outcome(self, verb, outcome, path):
        """Say what changed, then return the records with their result."""
        if outcome.changed:
            rows = ', '.join(f'{f.host} {f.device["address"]}'
                             for f in outcome.changed)
            self.changed = (
                f'{verb} {len(outcome.changed)} pci_devices rows ({rows}); '
                f'the backup is {path}; restart nova-compute on '
                f'{", ".join(outcome.restart_hosts)} so their resource '
                'trackers reload the devices')
            self.say(self.changed[0].upper() + self.changed[1:] + '.')
        elif outcome.backup_removed:
            self.say(f'No row {verb}: nothing was changed, so the backup '
                     f'{path} was removed.')
        else:
            self.say(f'No row {verb}; the backup is {path}.')
        if outcome.skipped:
            self.say(f'Skipped {len(outcome.skipped)} rows: see result.')
            self.exit_status = exception.EXIT_FINDINGS
        return self.COLUMNS, (
            [_row(f) + (verb,) for f in outcome.changed]
            + [_row(f) + (f'skipped: {why}',) for f, why in outcome.skipped])


def _row(finding):
    device = finding.device
    return (finding.cell, finding.host, device['address'], finding.model,
            device['status'], device['instance_uuid'], finding.kind,
            finding.why)


def _reason(exc) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return 'interrupted'
    if isinstance(exc, BrokenPipeError):
        return 'the output was closed (broken pipe)'
    return str(exc)
