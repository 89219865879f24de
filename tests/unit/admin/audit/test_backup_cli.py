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

"""pci-audit's backups through the console script: mode, size, races.

A backup names the cloud's instances and hosts: it is 0600 whatever the
umask. A run that changed nothing keeps no backup (restoring it would
revert the winner's change); restore compares every column it writes
back; a file larger than any backup is refused unread.
"""

import json
import os
import stat
from unittest import mock

import fixtures

from nova_gpu_ext.admin.audit import actions
from nova_gpu_ext.admin.audit import backup
from tests import base as test_base
from tests.unit.admin.audit import nova_db
from tests.unit.cmd import cli

# Seconds a refusal may take: the console script's start-up, no more.
PROMPT = 30


class BackupTest(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.database = self.useFixture(nova_db.Database('sqlite'))
        self.nova = nova_db.Cell(self.database.engine)
        gpu1 = self.nova.compute('gpu1')
        self.stale = self.nova.device(gpu1, '0000:81:00.0', 'allocated',
                                      self.nova.instance('gpu1',
                                                         deleted=True))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.backup = os.path.join(self.tmp, 'backup.json')

    def pci_audit(self, *argv, **kwargs):
        return cli.script('pci-audit', '--connection', self.database.url,
                          *argv, **kwargs)


class TestBackupFile(BackupTest):

    def test_backup_is_0600_under_umask_0(self):
        result = self.pci_audit('--apply', '--backup', self.backup,
                                preexec_fn=lambda: os.umask(0))
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.backup).st_mode))

    def test_backup_is_0600_under_umask_0277(self):
        result = self.pci_audit('--apply', '--backup', self.backup,
                                preexec_fn=lambda: os.umask(0o277))
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.backup).st_mode))

    def test_file_larger_than_any_backup_is_refused_unread(self):
        path = os.path.join(self.tmp, 'huge.json')
        with open(path, 'wb') as out:
            out.truncate(backup.MAX_BYTES + 1)  # sparse: nothing written
        before = self.nova.devices()
        result, took = cli.timed_script(
            'pci-audit', '--connection', self.database.url, '--restore',
            path, limit=PROMPT)
        self.assertLess(took, PROMPT)
        cli.assert_one_line(self, result, 2, says=[
            path, f'more than the {backup.MAX_BYTES} bytes accepted'])
        self.assertEqual(before, self.nova.devices())


class TestRaces(BackupTest):

    def test_restore_leaves_a_request_id_set_since(self):
        self.assertEqual(0, self.pci_audit('--apply', '--backup',
                                           self.backup).returncode)
        # nova set the request id of the free device since (a claim
        # starting): restoring must not overwrite it.
        self.nova.update('pci_devices', self.stale, request_id='new-claim')
        before = self.nova.devices()[self.stale]
        result = self.pci_audit('--restore', self.backup)
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertIn('Skipped 1 rows', result.stderr)
        self.assertEqual(before, self.nova.devices()[self.stale])

    def test_apply_that_lost_the_race_keeps_no_backup(self):
        """Given another --apply freed the rows after our report ..."""
        real_report = actions.report

        def report_then_lose_the_race(cells, timeout):
            found = real_report(cells, timeout)
            other = os.path.join(self.tmp, 'winner.json')
            actions.apply(cells, real_report(cells, timeout), other, timeout)
            return found
        with mock.patch.object(actions, 'report',
                               report_then_lose_the_race):
            status, out, err = cli.records(
                'pci-audit', '--connection', self.database.url, '--apply',
                '--backup', self.backup)
        self.assertEqual(1, status, err)
        self.assertEqual(['skipped: row changed since the report'],
                         [r['result'] for r in out])
        self.assertIn(f'No row freed: nothing was changed, so the backup '
                      f'{self.backup} was removed.', err)
        self.assertFalse(os.path.exists(self.backup))

    def test_restore_of_the_winner_still_works(self):
        self.assertEqual(0, self.pci_audit('--apply', '--backup',
                                           self.backup).returncode)
        with open(self.backup) as stream:
            self.assertEqual(1, len(json.load(stream)['findings']))
        result = self.pci_audit('--restore', self.backup)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('allocated', self.nova.devices()[self.stale][
            'status'])
