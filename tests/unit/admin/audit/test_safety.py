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

"""pci-audit under faults: nothing lost, nothing hung, one clear error.

Given a backup, when it is restored into a database it was not taken
from, then nothing is changed. When a cell fails after another was
changed, the error says what changed and where the backup is. When an
--apply fails before any change, its backup is gone. When a database or
a file cannot be used, the error is of the class with the documented exit
status.
"""

import json
import os
import socket

import fixtures
import sqlalchemy as sa
import testscenarios

from nova_gpu_ext.admin.audit import actions
from nova_gpu_ext.admin.audit import backup
from nova_gpu_ext.admin import cells as cellmod
from nova_gpu_ext.admin import database as db_layer
from nova_gpu_ext import exception
from tests import base as test_base
from tests.unit.admin.audit import nova_db
from tests.unit.common import unreadable


class SafetyTestCase(testscenarios.WithScenarios, test_base.TestCase):
    """Two cell databases with stale rows, on each backend."""

    scenarios = nova_db.BACKENDS

    def setUp(self):
        super().setUp()
        nova_db.require_backend(self, self.backend)
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.backup = os.path.join(self.tmp, 'backup.json')
        self.dbs = [self.useFixture(nova_db.Database(self.backend))
                    for _ in range(2)]
        self.cells = cellmod.from_urls([d.url for d in self.dbs])
        # Cells are changed in the order of their keys.
        self.first, self.second = sorted(
            self.dbs, key=lambda d: db_layer.mask(d.url))
        for database, host in ((self.first, 'gpu1'), (self.second, 'gpu2')):
            self.populate(database, host)

    @staticmethod
    def populate(database, host):
        nova = nova_db.Cell(database.engine)
        node = nova.compute(host)
        for address in ('0000:81:00.0', '0000:82:00.0'):
            nova.device(node, address, 'allocated',
                        nova.instance(host, deleted=True))

    @staticmethod
    def rows(database):
        return nova_db.Cell(database.engine).devices()

    def recreate(self, database, host):
        """Another nova database at the same URL: same ids, new uuids."""
        metadata = nova_db.models.BASE.metadata
        metadata.drop_all(database.engine)
        metadata.create_all(database.engine)
        self.populate(database, host)

    def break_cell(self, database):
        with database.engine.begin() as conn:
            conn.execute(sa.text('DROP TABLE pci_devices'))


class TestRestoreIdentity(SafetyTestCase):

    def setUp(self):
        super().setUp()
        actions.apply(self.cells, actions.report(self.cells), self.backup)

    def test_backup_holds_device_and_compute_node_uuids(self):
        with open(self.backup) as stream:
            saved = json.load(stream)
        self.assertEqual(2, saved['version'])
        for finding in saved['findings']:
            self.assertEqual(36, len(finding['node_uuid']))
            self.assertEqual(36, len(finding['device']['uuid']))

    def test_restore_into_another_database_at_the_same_url_changes_nothing(
            self):
        self.recreate(self.second, 'gpu2')
        before = [self.rows(d) for d in self.dbs]
        error = self.assertRaises(exception.BadInput, actions.restore,
                                  self.cells, self.backup)
        self.assertEqual(before, [self.rows(d) for d in self.dbs])
        message = str(error)
        self.assertIn(f'{self.backup} was not taken from the database '
                      f'{db_layer.mask(self.second.url)}: compute node 1 is ',
                      message)
        self.assertIn('pci_devices row 1 is 0000:81:00.0 ', message)
        self.assertIn('nothing was changed', message)
        self.assertEqual(1, len(message.splitlines()))

    def test_device_row_of_another_device_refuses_the_whole_restore(self):
        nova_db.Cell(self.second.engine).update('pci_devices', 2,
                                                uuid='0' * 36)
        before = [self.rows(d) for d in self.dbs]
        error = self.assertRaises(exception.BadInput, actions.restore,
                                  self.cells, self.backup)
        self.assertIn(f'pci_devices row 2 is 0000:82:00.0 {"0" * 36} here',
                      str(error))
        self.assertEqual(before, [self.rows(d) for d in self.dbs])

    def test_rows_gone_are_skipped_not_refused(self):
        with self.second.engine.begin() as conn:
            conn.execute(sa.text('DELETE FROM pci_devices'))
        _, outcome = actions.restore(self.cells, self.backup)
        self.assertEqual(2, len(outcome.changed))
        self.assertEqual(
            ['device row is gone or another device'] * 2,
            [why for _, why in outcome.skipped])


class TestFailureAfterChange(SafetyTestCase):

    def test_second_cell_failing_names_what_changed_and_the_backup(self):
        found = actions.report(self.cells)
        self.break_cell(self.second)
        error = self.assertRaises(exception.ChangedThenFailed, actions.apply,
                                  self.cells, found, self.backup)
        self.assertIsInstance(error, exception.ChangedThenFailed)
        message = str(error)
        self.assertIn(f'already changed: {db_layer.mask(self.first.url)} '
                      '(2 rows '
                      'freed); restart nova-compute on gpu1;', message)
        self.assertIn(f'{self.backup} holds every row', message)
        self.assertEqual(1, len(message.splitlines()))
        self.assertTrue(os.path.exists(self.backup))
        self.assertEqual({'available'}, {
            r['status'] for r in self.rows(self.first).values()})

    def test_apply_failing_before_any_change_removes_its_backup(self):
        found = actions.report(self.cells)
        self.break_cell(self.first)
        before = self.rows(self.second)
        error = self.assertRaises(exception.BadInput, actions.apply,
                                  self.cells, found, self.backup)
        self.assertIn(f'nothing was changed, so the backup {self.backup} '
                      'was removed', str(error))
        self.assertFalse(os.path.exists(self.backup))
        self.assertEqual(before, self.rows(self.second))


class TestUnconfirmedCommit(test_base.TestCase):
    """SQLite: a reader holding the file makes the commit time out."""

    def test_commit_not_confirmed_is_changed_then_failed(self):
        database = self.useFixture(nova_db.Database('sqlite'))
        SafetyTestCase.populate(database, 'gpu1')
        cells = cellmod.from_urls([database.url])
        found = actions.report(cells)
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'backup.json')
        reader = database.engine.connect()
        self.addCleanup(reader.close)
        reader.exec_driver_sql('BEGIN')
        reader.exec_driver_sql('SELECT count(*) FROM pci_devices').all()
        error = self.assertRaises(exception.ChangedThenFailed, actions.apply,
                                  cells, found, path, timeout=0.2)
        self.assertIn('did not confirm the commit', str(error))
        self.assertIn(f'{path} holds every row', str(error))
        self.assertTrue(os.path.exists(path))


class TestUnusableDatabases(test_base.TestCase):

    def test_refused_connection_is_unreachable(self):
        cells = cellmod.from_urls(['mysql+pymysql://nova:s3cret@127.0.0.1:1/'
                                   'nova'])
        error = self.assertRaises(exception.Unreachable, actions.report, cells)
        self.assertIsInstance(error, exception.Unreachable)
        self.assertIn('cannot use the database '
                      'mysql+pymysql://nova:***@127.0.0.1:1/nova', str(error))
        self.assertNotIn('s3cret', str(error))

    def test_server_that_never_answers_times_out(self):
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(('127.0.0.1', 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        cells = cellmod.from_urls([f'mysql+pymysql://nova:x@127.0.0.1:{port}'
                                   '/nova'])
        error = self.assertRaises(exception.Unreachable, actions.report,
                                  cells, timeout=0.5)
        self.assertIn('answers within 0.5 s', str(error))

    def test_database_that_is_not_nova_is_bad_input(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'empty.sqlite')
        sa.create_engine(f'sqlite:///{path}').connect().close()
        error = self.assertRaises(exception.BadInput, actions.report,
                                  cellmod.from_urls([f'sqlite:///{path}']))
        self.assertIn('has no pci_devices, compute_nodes, instances, '
                      'migrations table', str(error))

    def test_missing_driver_is_bad_input(self):
        error = self.assertRaises(
            exception.BadInput, actions.report,
            cellmod.from_urls(['nosuchdb://nova@db/nova']))
        self.assertIn('check the URL and that its driver is installed',
                      str(error))


class TestUnusableFiles(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.tmp, 'file')

    def write(self, data):
        with open(self.path, 'wb') as out:
            out.write(data)

    def assertOneLine(self, error, *parts):
        self.assertIsInstance(error, exception.BadInput)
        self.assertEqual(1, len(str(error).splitlines()), error)
        for part in parts:
            self.assertIn(part, str(error))

    def test_nova_conf_that_cannot_be_read(self):
        os.mkdir(self.path)
        self.assertOneLine(self.assertRaises(
            exception.BadInput, cellmod.from_config, [self.path]),
            f'cannot read {self.path}: Is a directory')
        os.rmdir(self.path)
        self.write(b'[database]\nconnection = sqlite:///caf\xe9\n')
        self.assertOneLine(self.assertRaises(
            exception.BadInput, cellmod.from_config, [self.path]),
            'not UTF-8 text')
        self.write(b'\x00\x01binary')
        self.assertOneLine(self.assertRaises(
            exception.BadInput, cellmod.from_config, [self.path]),
            'control character 0x00')

    def test_nova_conf_only_root_can_read(self):
        self.write(b'[database]\nconnection = sqlite://\n')
        unreadable.open_up(self.tmp)
        unreadable.forbid(self.path)
        self.assertOneLine(self.assertRaises(
            exception.BadInput, unreadable.as_nobody, cellmod.from_config,
            [self.path]), 'Permission denied')

    def test_backup_that_is_no_backup(self):
        for data, says in ((b'\xff\xfe', 'not UTF-8 JSON'),
                           (b'{"version": 1, "findings": []}',
                            'this pci-audit reads version 2'),
                           (b'{"version": 2, "findings": [{"cell": 1}]}',
                            'is not a pci-audit backup')):
            self.write(data)
            self.assertOneLine(self.assertRaises(
                exception.BadInput, backup.read, self.path), self.path, says)
        self.assertOneLine(self.assertRaises(
            exception.BadInput, backup.read, self.tmp), 'Is a directory')
