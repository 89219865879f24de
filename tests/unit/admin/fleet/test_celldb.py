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

"""Snapshots from cell databases built with nova's own schema."""

import socket
import threading
import time

from nova import test
import sqlalchemy as sa
import testscenarios

from nova_gpu_ext.admin import cells
from nova_gpu_ext.admin import database
from nova_gpu_ext.admin.fleet import celldb
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import models
from tests.unit.admin.audit import nova_db
from tests.unit.admin.fleet import fleetdb

load_tests = testscenarios.load_tests_apply_scenarios

K4200 = models.ModelKey(*fleetdb.K4200)
V100 = models.ModelKey(*fleetdb.V100)
dev = fleetdb.device


class TestCellSnapshot(test.NoDBTestCase):

    scenarios = nova_db.BACKENDS

    def setUp(self):
        super().setUp()
        nova_db.require_backend(self, self.backend)
        self.db = self.useFixture(nova_db.Database(self.backend))
        self.cell = fleetdb.FleetCell(self.db.engine)
        self.cell.gpu_host('gpu-a', [
            dev('0000:81:00.0', fleetdb.K4200, 0),
            dev('0000:82:00.0', fleetdb.K4200, 0, 'allocated'),
            dev('0000:83:00.0', fleetdb.V100, 1, 'claimed'),
            dev('0000:84:00.0', fleetdb.V100, 1, 'unavailable'),
            dev('0000:85:00.0', fleetdb.V100, 1, 'removed'),
            dev('0000:86:00.0', fleetdb.V100, 1, 'unclaimable'),
        ], deleted_devices=[dev('0000:87:00.0', fleetdb.V100, 1)])
        self.cell.gpu_host('gpu-b', [
            dev('0000:81:00.0', fleetdb.V100, 0),
            dev('0000:82:00.0', fleetdb.V100, 1)])
        self.cell.compute('cpu-only')

    def take(self):
        return celldb.take(cells.from_urls([self.db.url]),
                           snapshot.ModelFilter(), timeout=10)

    def test_every_host_with_devices_per_model_numa_and_state(self):
        snap = self.take()
        self.assertEqual(['cpu-only', 'gpu-a', 'gpu-b'],
                         [h.host for h in snap.hosts])
        gpu_a = snap.host('gpu-a')
        self.assertEqual({(K4200, 0, snapshot.FREE): 1,
                          (K4200, 0, snapshot.USED): 1,
                          (V100, 1, snapshot.USED): 1,
                          (V100, 1, snapshot.UNAVAILABLE): 3},
                         dict(gpu_a.counts))
        self.assertEqual({}, dict(snap.host('cpu-only').counts))

    def test_pools_are_the_scheduler_view_of_pci_stats(self):
        gpu_b = self.take().host('gpu-b')
        self.assertEqual(
            [('1db4', 0, 1), ('1db4', 1, 1)],
            [(p['product_id'], p['numa_node'], p['count'])
             for p in gpu_b.pools])

    def test_the_connection_refuses_writes(self):
        with database.read_only(self.db.url, timeout=10) as conn:
            exc = self.assertRaises(
                sa.exc.DBAPIError, conn.exec_driver_sql,
                "UPDATE pci_devices SET status = 'available'")
        self.assertRegex(str(exc.orig).lower(), 'read.?only')
        self.assertEqual(
            {'available', 'allocated', 'claimed', 'unavailable', 'removed',
             'unclaimable'},
            {row['status'] for row in self.cell.devices().values()})

    def test_one_query_per_cell(self):
        statements = []

        def record(conn, cursor, statement, *args):
            if 'pci_devices' in statement or 'compute_nodes' in statement:
                statements.append(statement)
        sa.event.listen(sa.engine.Engine, 'before_cursor_execute', record)
        self.addCleanup(sa.event.remove, sa.engine.Engine,
                        'before_cursor_execute', record)
        self.take()
        self.assertEqual(1, len(statements))


class _SilentServer:
    """A TCP server that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()


class TestDatabaseFaults(test.NoDBTestCase):

    def test_a_server_that_never_answers_times_out_in_one_line(self):
        server = _SilentServer()
        self.addCleanup(server.close)
        url = f'mysql+pymysql://nova:secret@127.0.0.1:{server.port}/nova'
        start = time.monotonic()
        exc = self.assertRaises(
            database.DatabaseError, celldb.take, cells.from_urls([url]),
            snapshot.ModelFilter(), timeout=1)
        self.assertLess(time.monotonic() - start, 10)
        message = str(exc)
        self.assertNotIn('secret', message)
        self.assertIn(f'127.0.0.1:{server.port}', message)
        self.assertNotIn('\n', message)

    def test_missing_sqlite_file_is_bad_input(self):
        exc = self.assertRaises(
            database.BadDatabaseUrl, celldb.take,
            cells.from_urls(['sqlite:////nonexistent/nova.sqlite']),
            snapshot.ModelFilter())
        self.assertIn('/nonexistent/nova.sqlite', str(exc))
        self.assertEqual(2, exc.exit_status)
