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

"""pci-audit against real nova schemas in SQLite and MariaDB."""

import json
import os

import fixtures
import testscenarios

from nova_gpu_ext.admin.audit import actions
from nova_gpu_ext.admin.audit import findings
from nova_gpu_ext.admin import cells as cellmod
from nova_gpu_ext.admin import database
from nova_gpu_ext import exception
from tests import base as test_base
from tests.unit.admin.audit import nova_db


class AuditTestCase(testscenarios.WithScenarios, test_base.TestCase):
    """One fresh cell database per test, on each backend."""

    scenarios = nova_db.BACKENDS

    def setUp(self):
        super().setUp()
        nova_db.require_backend(self, self.backend)
        self.database = self.useFixture(nova_db.Database(self.backend))
        self.nova = nova_db.Cell(self.database.engine)
        self.cells = cellmod.from_urls([self.database.url])
        self.gpu1 = self.nova.compute('gpu1')
        self.gpu2 = self.nova.compute('gpu2')
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def report(self):
        return actions.report(self.cells)

    def only(self, found):
        self.assertEqual(1, len(found), found)
        return found[0]


class TestFindings(AuditTestCase):

    def test_device_of_deleted_instance_is_found(self):
        gone = self.nova.instance('gpu1', deleted=True)
        dev = self.nova.device(self.gpu1, '0000:81:00.0', 'allocated', gone)
        finding = self.only(self.report())
        self.assertEqual((findings.INSTANCE_GONE, dev, 'gpu1'),
                         (finding.kind, finding.device['id'], finding.host))
        self.assertIn('is deleted', finding.why)

    def test_claim_of_absent_instance_is_found(self):
        dev = self.nova.device(self.gpu1, '0000:81:00.0', 'claimed',
                               '9d6b5cf4-54f5-4c64-9dcd-3a0a1a6ab4de')
        finding = self.only(self.report())
        self.assertEqual((findings.INSTANCE_GONE, dev),
                         (finding.kind, finding.device['id']))
        self.assertIn('does not exist', finding.why)

    def test_allocation_for_instance_on_another_node_is_found(self):
        moved = self.nova.instance('gpu2')
        self.nova.migration(moved, 'gpu1', 'gpu2', 'error')
        dev = self.nova.device(self.gpu1, '0000:81:00.0', 'allocated', moved)
        finding = self.only(self.report())
        self.assertEqual((findings.INSTANCE_ELSEWHERE, dev),
                         (finding.kind, finding.device['id']))
        self.assertIn('is on gpu2', finding.why)

    def test_claim_without_instance_is_found(self):
        dev = self.nova.device(self.gpu2, '0000:81:00.0', 'claimed')
        finding = self.only(self.report())
        self.assertEqual((findings.ORPHAN_CLAIM, dev, 'gpu2'),
                         (finding.kind, finding.device['id'], finding.host))

    def test_claim_for_instance_elsewhere_without_migration_is_found(self):
        stayed = self.nova.instance('gpu1')
        self.nova.migration(stayed, 'gpu1', 'gpu2', 'reverted')
        dev = self.nova.device(self.gpu2, '0000:81:00.0', 'claimed', stayed)
        finding = self.only(self.report())
        self.assertEqual((findings.ORPHAN_CLAIM, dev),
                         (finding.kind, finding.device['id']))

    def test_healthy_allocation_is_not_found(self):
        self.nova.device(self.gpu1, '0000:81:00.0', 'allocated',
                         self.nova.instance('gpu1'))
        self.nova.device(self.gpu1, '0000:82:00.0', 'available')
        self.assertEqual([], self.report())

    def test_devices_of_migration_in_progress_are_not_found(self):
        for status in ('migrating', 'finished'):
            moving = self.nova.instance('gpu2')
            self.nova.migration(moving, 'gpu1', 'gpu2', status)
            self.nova.device(self.gpu1, f'0000:8{len(status)}:00.0',
                             'allocated', moving)
        self.assertEqual([], self.report())

    def test_instance_with_task_state_is_not_found(self):
        resizing = self.nova.instance('gpu2', task_state='resize_migrating')
        self.nova.device(self.gpu1, '0000:81:00.0', 'allocated', resizing)
        self.assertEqual([], self.report())

    def test_deleted_device_row_is_not_found(self):
        dev = self.nova.device(self.gpu1, '0000:81:00.0', 'claimed')
        self.nova.update('pci_devices', dev, deleted=dev)
        self.assertEqual([], self.report())


class TestApply(AuditTestCase):

    def setUp(self):
        super().setUp()
        self.healthy = self.nova.device(
            self.gpu1, '0000:81:00.0', 'allocated', self.nova.instance('gpu1'))
        self.gone = self.nova.device(
            self.gpu1, '0000:82:00.0', 'allocated',
            self.nova.instance('gpu1', deleted=True))
        self.orphan = self.nova.device(self.gpu2, '0000:81:00.0', 'claimed')
        self.backup = os.path.join(self.tmp, 'backup.json')

    def test_apply_frees_and_restore_puts_back(self):
        before = self.nova.devices()
        outcome = actions.apply(self.cells, self.report(), self.backup)
        after = self.nova.devices()
        self.assertEqual(['gpu1', 'gpu2'], outcome.restart_hosts)
        self.assertEqual([], outcome.skipped)
        for dev in (self.gone, self.orphan):
            self.assertEqual(('available', None, None), (
                after[dev]['status'], after[dev]['instance_uuid'],
                after[dev]['request_id']))
            self.assertIsNotNone(after[dev]['updated_at'])
        with open(self.backup) as stream:
            saved = json.load(stream)['findings']
        self.assertEqual({self.gone, self.orphan},
                         {f['device']['id'] for f in saved})
        _, restored = actions.restore(self.cells, self.backup)
        self.assertEqual(2, len(restored.changed))
        now = self.nova.devices()
        for dev in before:
            keys = ('status', 'instance_uuid', 'request_id')
            self.assertEqual([before[dev][k] for k in keys],
                             [now[dev][k] for k in keys])

    def test_rows_not_in_a_finding_are_never_written(self):
        before = self.nova.devices()
        actions.apply(self.cells, self.report(), self.backup)
        self.assertEqual(before[self.healthy],
                         self.nova.devices()[self.healthy])

    def test_second_run_finds_nothing(self):
        actions.apply(self.cells, self.report(), self.backup)
        self.assertEqual([], self.report())

    def test_unwritable_backup_changes_nothing(self):
        before = self.nova.devices()
        path = os.path.join(self.tmp, 'no-such-dir', 'backup.json')
        error = self.assertRaises(exception.NovaGpuExtError, actions.apply,
                                  self.cells,
                                  self.report(), path)
        self.assertIn('nothing was changed', str(error))
        self.assertEqual(before, self.nova.devices())

    def test_existing_backup_is_not_overwritten(self):
        with open(self.backup, 'w') as stream:
            stream.write('older backup')
        before = self.nova.devices()
        self.assertRaises(exception.NovaGpuExtError, actions.apply, self.cells,
                          self.report(), self.backup)
        self.assertEqual(before, self.nova.devices())
        with open(self.backup) as stream:
            self.assertEqual('older backup', stream.read())

    def test_row_changed_after_report_is_skipped_not_overwritten(self):
        found = self.report()
        owner = self.nova.instance('gpu2')
        self.nova.update('pci_devices', self.orphan, instance_uuid=owner,
                         status='allocated')
        outcome = actions.apply(self.cells, found, self.backup)
        self.assertEqual([self.gone],
                         [f.device['id'] for f in outcome.changed])
        self.assertEqual([(self.orphan, 'row changed since the report')],
                         [(f.device['id'], why) for f, why in outcome.skipped])
        row = self.nova.devices()[self.orphan]
        self.assertEqual(('allocated', owner),
                         (row['status'], row['instance_uuid']))

    def test_row_no_longer_stale_at_apply_is_skipped(self):
        moved = self.nova.instance('gpu1')
        dev = self.nova.device(self.gpu2, '0000:83:00.0', 'allocated', moved)
        found = [f for f in self.report() if f.device['id'] == dev]
        self.nova.migration(moved, 'gpu1', 'gpu2', 'migrating')
        outcome = actions.apply(self.cells, found, self.backup)
        self.assertEqual([(dev, 'no longer stale')],
                         [(f.device['id'], why) for f, why in outcome.skipped])
        self.assertEqual('allocated', self.nova.devices()[dev]['status'])

    def test_restore_skips_device_in_use_again(self):
        actions.apply(self.cells, self.report(), self.backup)
        owner = self.nova.instance('gpu2')
        self.nova.update('pci_devices', self.orphan, instance_uuid=owner,
                         status='allocated')
        _, outcome = actions.restore(self.cells, self.backup)
        self.assertEqual([self.gone],
                         [f.device['id'] for f in outcome.changed])
        self.assertEqual([(self.orphan, 'device is in use again')],
                         [(f.device['id'], why) for f, why in outcome.skipped])
        self.assertEqual(owner,
                         self.nova.devices()[self.orphan]['instance_uuid'])

    def test_restore_refuses_backup_of_other_databases(self):
        actions.apply(self.cells, self.report(), self.backup)
        other = self.useFixture(nova_db.Database(self.backend))
        error = self.assertRaises(exception.NovaGpuExtError, actions.restore,
                                  cellmod.from_urls([other.url]), self.backup)
        self.assertIn('--connection as for --apply', str(error))


class TestCells(AuditTestCase):
    """Cell databases found through nova.conf, as nova finds them."""

    def write_conf(self, text):
        path = os.path.join(self.tmp, 'nova.conf')
        with open(path, 'w') as stream:
            stream.write(text)
        return [path]

    def test_cells_come_from_the_api_database(self):
        api = self.useFixture(nova_db.Database(self.backend, api=True))
        template = ('{scheme}:////{path}' if self.backend == 'sqlite' else
                    '{scheme}://{username}:{password}@{hostname}/{path}'
                    '?{query}')
        nova_db.map_cells(
            api.engine,
            (cellmod.CELL0_UUID, 'cell0', 'sqlite:////nonexistent'),
            ('c1a5e5f0-0000-4000-8000-000000000001', 'cell1', template))
        conf = self.write_conf(
            f'[api_database]\nconnection = {api.url}\n'
            f'[database]\nconnection = {self.database.url}\n')
        cells = cellmod.from_config(conf)
        self.assertEqual([('c1a5e5f0-0000-4000-8000-000000000001', 'cell1',
                           self.database.url)],
                         [(c.key, c.name, c.url) for c in cells])

    def test_database_connection_without_api_database(self):
        conf = self.write_conf(
            f'[database]\nconnection = {self.database.url}\n')
        self.assertEqual([self.database.url],
                         [c.url for c in cellmod.from_config(conf)])

    def test_config_without_connections_is_an_error(self):
        conf = self.write_conf('[DEFAULT]\ndebug = true\n')
        error = self.assertRaises(exception.NovaGpuExtError,
                                  cellmod.from_config, conf)
        self.assertIn('[api_database] connection', str(error))


class TestMask(test_base.TestCase):

    def test_password_is_masked(self):
        self.assertEqual('mysql+pymysql://nova:***@db/nova',
                         database.mask('mysql+pymysql://nova:s3cret@db/nova'))
