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

"""Every session of the read-only commands is READ ONLY, time-limited.

Checked in MariaDB's general query log (``tools/start-mariadb`` writes it
beside the server's socket): each connection to the test's database
makes its session read-only and sets a statement time limit before its
first query of nova's tables.
"""

import json
import os
import re

from nova import test
import sqlalchemy as sa

from tests.unit.admin.audit import nova_db
from tests.unit.admin.fleet import fleetdb
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

LINE = re.compile(r'^(?:\d{6}\s+[\d:]+)?\s*(\d+)\s+(\w+)\t?(.*)$')
READ_ONLY = 'SET SESSION TRANSACTION READ ONLY'
TIME_LIMIT = 'SET SESSION max_statement_time'
NOVA_TABLES = ('compute_nodes', 'pci_devices', 'instances', 'cell_mappings')


def sessions(log_path: str, database: str,
             start: int) -> dict[str, list[str]]:
    """The statements of each connection to ``database`` after ``start``.

    ``start`` is an offset in the log; statements come in order.
    """
    found: dict[str, list[str]] = {}
    ours: set[str] = set()
    with open(log_path, encoding='utf-8', errors='replace') as log:
        log.seek(start)
        for line in log:
            match = LINE.match(line.rstrip('\n'))
            if not match:
                continue
            thread, command, text = match.groups()
            if command == 'Connect' and f' on {database} ' in f'{text} ':
                ours.add(thread)
            if thread in ours and command == 'Query':
                found.setdefault(thread, []).append(text)
    return found


class TestReadOnlySessions(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        nova_db.require_backend(self, 'mysql')
        self.db = self.useFixture(nova_db.Database('mysql'))
        socket_path = sa.engine.make_url(self.db.url).query['unix_socket']
        self.log = os.path.join(os.path.dirname(socket_path), 'general.log')
        cell = fleetdb.FleetCell(self.db.engine)
        cell.gpu_host('gpu-1', [fleetdb.device('0000:81:00.0',
                                               fleetdb.V100, 0)])
        instance = cell.instance('gpu-1')
        cell._insert('instance_extra', instance_uuid=instance,
                     pci_requests=json.dumps([]), flavor='{}')
        self.catalog = catalog_files.write(
            self, catalog_files.TWO_MODELS_AND_A_CLASS)

    def test_every_session_is_read_only_before_its_first_read(self):
        self.assertTrue(os.path.exists(self.log), self.log)
        # The fixture's own sessions wrote the schema and rows before.
        start = os.path.getsize(self.log)
        url = ['--connection', self.db.url]
        for argv in (['capacity'], ['capacity', '--fits', '--catalog',
                                    self.catalog],
                     ['explain', '--catalog', self.catalog, '--request',
                      'v100:1'],
                     ['what-if', '--catalog', self.catalog, '--drain',
                      'gpu-1'],
                     ['exporter', '--once'], ['pci-audit']):
            status, _, err = cli.run(*argv, *url)
            self.assertIn(status, (0, 1), (argv, err))
        database = sa.engine.make_url(self.db.url).database
        found = sessions(self.log, database, start)
        self.assertGreaterEqual(len(found), 7)
        for thread, statements in found.items():
            reads = [i for i, text in enumerate(statements)
                     if any(t in text for t in NOVA_TABLES)]
            if not reads:
                continue
            before = statements[:reads[0]]
            self.assertIn(READ_ONLY, before, (thread, statements))
            self.assertTrue(any(TIME_LIMIT in text for text in before),
                            (thread, statements))
