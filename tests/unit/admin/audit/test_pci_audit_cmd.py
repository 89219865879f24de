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
import testscenarios

from nova_gpu_ext.cmd import main
from nova_gpu_ext import exception
from tests import base as test_base
from tests.unit.admin.audit import nova_db


class CommandMixin:

    def cli(self, *argv, stdout=None):
        """Exit status, stdout and stderr of one nova-gpu-ext run."""
        out, err = stdout or io.StringIO(), io.StringIO()
        status = main.NovaGpuExt(stdout=out, stderr=err).run(
            ['pci-audit', *argv])
        return status, out.getvalue() if stdout is None else '', \
            err.getvalue()


class TestPciAuditCommand(CommandMixin, testscenarios.WithScenarios,
                          test_base.TestCase):

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

    def test_dry_run_reports_records_and_changes_nothing(self):
        before = self.nova.devices()
        status, out, err = self.cli('--connection', self.database.url,
                                    '-f', 'json')
        self.assertEqual(1, status)
        self.assertEqual([('gpu1', '0000:81:00.0', '10de:11b4', 'allocated',
                           'instance-gone')],
                         [(f['host'], f['address'], f['model'], f['status'],
                           f['finding']) for f in json.loads(out)])
        self.assertIn('Dry run, nothing changed: 1 stale rows', err)
        self.assertEqual(before, self.nova.devices())

    def test_apply_says_backup_and_hosts_to_restart(self):
        status, out, err = self.cli('--connection', self.database.url,
                                    '--apply', '--backup', self.backup,
                                    '-f', 'json')
        self.assertEqual(0, status)
        self.assertEqual([('0000:81:00.0', 'freed')],
                         [(f['address'], f['result'])
                          for f in json.loads(out)])
        self.assertIn('Freed 1 pci_devices rows (gpu1 0000:81:00.0); the '
                      f'backup is {self.backup}; restart nova-compute on '
                      'gpu1', err)
        status, _, err = self.cli('--connection', self.database.url)
        self.assertEqual((0, 'No stale pci_devices rows.\n'), (status, err))

    def test_apply_with_stdout_on_a_full_device_still_says_what_changed(self):
        status, _, err = self.cli('--connection', self.database.url,
                                  '--apply', '--backup', self.backup,
                                  stdout=full_device(self))
        self.assertEqual(4, status)
        self.assertEqual(2, len(err.splitlines()), err)
        last = err.splitlines()[-1]
        self.assertIn('freed 1 pci_devices rows (gpu1 0000:81:00.0); the '
                      f'backup is {self.backup}; restart nova-compute on '
                      'gpu1', last)
        self.assertIn('but the report could not be written: cannot write '
                      'to standard output: No space left on device', last)
        self.assertEqual('available', self.nova.devices()[self.stale][
            'status'])
        self.assertTrue(os.path.exists(self.backup))

    def test_dry_run_with_stdout_on_a_full_device_is_one_line_exit_2(self):
        status, _, err = self.cli('--connection', self.database.url,
                                  stdout=full_device(self))
        self.assertEqual(2, status)
        self.assertIn('cannot write to standard output', err.splitlines()[-1])

    def test_restore_puts_rows_back(self):
        before = self.nova.devices()[self.stale]
        self.cli('--connection', self.database.url, '--apply',
                 '--backup', self.backup)
        status, out, err = self.cli('--connection', self.database.url,
                                    '--restore', self.backup)
        after = self.nova.devices()[self.stale]
        self.assertEqual(0, status)
        self.assertIn('Restored 1 pci_devices rows', err)
        self.assertEqual(
            (before['status'], before['instance_uuid'], before['request_id']),
            (after['status'], after['instance_uuid'], after['request_id']))

    def test_restore_into_another_database_exits_2_changing_nothing(self):
        self.cli('--connection', self.database.url, '--apply',
                 '--backup', self.backup)
        metadata = nova_db.models.BASE.metadata
        metadata.drop_all(self.database.engine)
        metadata.create_all(self.database.engine)
        self.nova.device(self.nova.compute('gpu1'), '0000:81:00.0',
                         'allocated', self.nova.instance('gpu1'))
        before = self.nova.devices()
        status, out, err = self.cli('--connection', self.database.url,
                                    '--restore', self.backup)
        self.assertEqual((exception.EXIT_BAD_INPUT, ''), (status, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('was not taken from the database', err)
        self.assertEqual(before, self.nova.devices())

    def test_unwritable_backup_exits_2_and_changes_nothing(self):
        before = self.nova.devices()
        status, out, err = self.cli(
            '--connection', self.database.url, '--apply',
            '--backup', os.path.join(self.tmp, 'missing', 'backup.json'))
        self.assertEqual((2, ''), (status, out))
        self.assertIn('nothing was changed', err)
        self.assertEqual(before, self.nova.devices())


class TestPciAuditErrors(CommandMixin, testscenarios.WithScenarios,
                         test_base.TestCase):

    scenarios = [
        ('mariadb', {'url': 'mysql+pymysql://nova:s3cret@127.0.0.1:1/nova',
                     'shown': 'mysql+pymysql://nova:***@127.0.0.1:1/nova',
                     'status': exception.EXIT_UNREACHABLE}),
        ('mariadb-socket', {
            'url': 'mysql+pymysql://nova:s3cret@localhost/nova'
                   '?unix_socket=/nonexistent/mysqld.sock',
            'shown': 'mysql+pymysql://nova:***@localhost/nova',
            'status': exception.EXIT_UNREACHABLE}),
        ('sqlite', {'url': 'sqlite:////nonexistent/nova.sqlite',
                    'shown': 'sqlite:////nonexistent/nova.sqlite',
                    'status': exception.EXIT_BAD_INPUT}),
    ]

    def test_database_that_cannot_be_used_is_one_line(self):
        """Unreachable: exit 3; a SQLite file that is not there: 2."""
        status, out, err = self.cli('--connection', self.url)
        self.assertEqual((self.status, ''), (status, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(f'cannot use the database {self.shown}', err)
        self.assertNotIn('s3cret', err)


class TestPciAuditUsage(CommandMixin, test_base.TestCase):

    def test_backup_without_apply_is_a_usage_error(self):
        status, _, err = self.cli('--connection', 'sqlite://',
                                  '--backup', 'x.json')
        self.assertEqual(2, status)
        self.assertIn('--backup is only used with --apply', err)

    def test_missing_nova_conf_is_named(self):
        status, _, err = self.cli('--nova-conf', '/nonexistent/nova.conf')
        self.assertEqual(2, status)
        self.assertIn('/nonexistent/nova.conf', err)


def full_device(test):
    """``/dev/full`` opened for writing: every flush fails with ENOSPC."""
    stream = open('/dev/full', 'w')
    test.addCleanup(_close_unflushed, stream)
    return stream


def _close_unflushed(stream):
    # close() flushes what the failed writes left in the buffer, fails
    # again, and closes the descriptor all the same.
    try:
        stream.close()
    except OSError:
        return


class TestMariaDbRequirement(test_base.TestCase):
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
