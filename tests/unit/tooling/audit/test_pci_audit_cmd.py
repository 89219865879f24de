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

"""``nova-gpu-ext pci-audit`` end to end, on real nova schemas."""

import io
import json
import os
from unittest import mock

import fixtures
from oslotest import base
import testscenarios

from nova_gpu_ext.cmd import main
from tests.unit.tooling.audit import nova_db


class CommandMixin:

    def cli(self, *argv):
        """Exit status, stdout and stderr of one nova-gpu-ext run."""
        out, err = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', err))
        status = main.main(['pci-audit', *argv])
        return status, out.getvalue(), err.getvalue()


class TestPciAuditCommand(CommandMixin, testscenarios.WithScenarios,
                          base.BaseTestCase):

    scenarios = nova_db.BACKENDS

    def setUp(self):
        super().setUp()
        nova_db.require_backend(self, self.backend)
        self.database = self.useFixture(nova_db.Database(self.backend))
        nova = nova_db.Cell(self.database.engine)
        self.nova = nova
        self.gpu1 = nova.compute('gpu1')
        self.stale = nova.device(self.gpu1, '0000:81:00.0', 'allocated',
                                 nova.instance('gpu1', deleted=True))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.backup = os.path.join(self.tmp, 'backup.json')

    def test_dry_run_reports_as_json_and_changes_nothing(self):
        before = self.nova.devices()
        status, out, _ = self.cli('--connection', self.database.url,
                                  '--format', 'json')
        data = json.loads(out)
        self.assertEqual(1, status)
        self.assertEqual([('gpu1', '0000:81:00.0', '10de:11b4', 'allocated',
                           'instance-gone')],
                         [(f['host'], f['address'], f['model'], f['status'],
                           f['kind']) for f in data['findings']])
        self.assertEqual(before, self.nova.devices())

    def test_apply_prints_backup_and_hosts_to_restart(self):
        status, out, _ = self.cli('--connection', self.database.url,
                                  '--apply', '--backup', self.backup)
        self.assertEqual(0, status)
        self.assertIn(f'Backup of 1 rows: {self.backup}', out)
        self.assertIn('Restart nova-compute on these hosts', out)
        self.assertTrue(out.rstrip().endswith('  gpu1'), out)
        self.assertEqual((0, 'No stale pci_devices rows.\n'),
                         self.cli('--connection', self.database.url)[:2])

    def test_restore_puts_rows_back(self):
        before = self.nova.devices()[self.stale]
        self.cli('--connection', self.database.url, '--apply',
                 '--backup', self.backup)
        status, out, _ = self.cli('--connection', self.database.url,
                                  '--restore', self.backup)
        after = self.nova.devices()[self.stale]
        self.assertEqual(0, status)
        self.assertIn('Restored 1 rows.', out)
        self.assertEqual(
            (before['status'], before['instance_uuid'], before['request_id']),
            (after['status'], after['instance_uuid'], after['request_id']))

    def test_unwritable_backup_exits_2_and_changes_nothing(self):
        before = self.nova.devices()
        status, out, err = self.cli(
            '--connection', self.database.url, '--apply',
            '--backup', os.path.join(self.tmp, 'missing', 'backup.json'))
        self.assertEqual((2, ''), (status, out))
        self.assertIn('nothing was changed', err)
        self.assertEqual(before, self.nova.devices())


class TestPciAuditErrors(CommandMixin, testscenarios.WithScenarios,
                         base.BaseTestCase):

    scenarios = [
        ('mariadb', {'url': 'mysql+pymysql://nova:s3cret@127.0.0.1:1/nova',
                     'shown': 'mysql+pymysql://nova:***@127.0.0.1:1/nova'}),
        ('mariadb-socket', {
            'url': 'mysql+pymysql://nova:s3cret@localhost/nova'
                   '?unix_socket=/nonexistent/mysqld.sock',
            'shown': 'mysql+pymysql://nova:***@localhost/nova'}),
        ('sqlite', {'url': 'sqlite:////nonexistent/nova.sqlite',
                    'shown': 'sqlite:////nonexistent/nova.sqlite'}),
    ]

    def test_unreachable_database_is_one_line_exit_2(self):
        status, out, err = self.cli('--connection', self.url)
        self.assertEqual((2, ''), (status, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(f'cannot use the database {self.shown}', err)
        self.assertNotIn('s3cret', err)


class TestPciAuditUsage(CommandMixin, base.BaseTestCase):

    def test_backup_without_apply_is_a_usage_error(self):
        status, _, err = self.cli('--connection', 'sqlite://',
                                  '--backup', 'x.json')
        self.assertEqual(2, status)
        self.assertIn('--backup is only used with --apply', err)

    def test_missing_config_file_is_named(self):
        status, _, err = self.cli('--config-file', '/nonexistent/nova.conf')
        self.assertEqual(2, status)
        self.assertIn('/nonexistent/nova.conf', err)


class TestMariaDbRequirement(base.BaseTestCase):
    """CI cannot silently skip the MariaDB tests."""

    def test_missing_server_fails_under_ci(self):
        self.useFixture(fixtures.EnvironmentVariable(nova_db.MYSQL_ENV))
        self.useFixture(fixtures.EnvironmentVariable('CI', 'true'))
        test = mock.Mock()
        nova_db.require_backend(test, 'mysql')
        test.fail.assert_called_once()

    def test_missing_server_skips_outside_ci(self):
        self.useFixture(fixtures.EnvironmentVariable(nova_db.MYSQL_ENV))
        self.useFixture(fixtures.EnvironmentVariable('CI'))
        test = mock.Mock()
        nova_db.require_backend(test, 'mysql')
        test.fail.assert_not_called()
        test.skipTest.assert_called_once()
