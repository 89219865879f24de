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

"""Nova databases for the pci-audit tests: nova's own schema, real engines.

SQLite files always; MariaDB when ``NOVA_GPU_EXT_MYSQL_URL`` names a server
(``tools/start-mariadb`` prints one). Under CI (env ``CI`` set) a missing
server fails the MariaDB tests instead of skipping them.
"""

import os
import uuid

import fixtures
from nova.db.api import models as api_models
from nova.db.main import models
from oslo_utils import timeutils
import sqlalchemy as sa

MYSQL_ENV = 'NOVA_GPU_EXT_MYSQL_URL'

BACKENDS = [('sqlite', {'backend': 'sqlite'}),
            ('mariadb', {'backend': 'mysql'})]


def require_backend(test, backend):
    """Skip (or under CI fail) a MariaDB test when no server is given."""
    if backend == 'mysql' and not os.environ.get(MYSQL_ENV):
        reason = (f'{MYSQL_ENV} is not set; run tools/start-mariadb and '
                  'export its URL to run the MariaDB tests')
        if os.environ.get('CI'):
            test.fail(f'CI must run the MariaDB tests: {reason}')
        test.skipTest(reason)


class Database(fixtures.Fixture):
    """A new, empty database with nova's schema, dropped after the test.

    ``api=True`` gives the API database schema (cell_mappings) instead of
    the cell one.
    """

    def __init__(self, backend, api=False):
        super().__init__()
        self.backend = backend
        self.metadata = (api_models if api else models).BASE.metadata

    def _setUp(self):
        if self.backend == 'sqlite':
            path = self.useFixture(fixtures.TempDir()).join('nova.sqlite')
            self.url = f'sqlite:///{path}'
        else:
            self.url = self._mysql_database()
        self.engine = sa.create_engine(self.url)
        self.addCleanup(self.engine.dispose)
        self.metadata.create_all(self.engine)

    def _mysql_database(self):
        server = sa.engine.make_url(os.environ[MYSQL_ENV])
        name = f'nova_gpu_ext_{uuid.uuid4().hex[:12]}'
        admin = sa.create_engine(server)
        self.addCleanup(admin.dispose)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE DATABASE {name}'))
        self.addCleanup(self._drop, admin, name)
        return server.set(database=name).render_as_string(hide_password=False)

    @staticmethod
    def _drop(admin, name):
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP DATABASE {name}'))


class Cell:
    """Rows in a cell database, written the way nova's models define them."""

    def __init__(self, engine):
        self.engine = engine
        self.tables = models.BASE.metadata.tables

    def _insert(self, table, **values):
        with self.engine.begin() as conn:
            result = conn.execute(self.tables[table].insert().values(**values))
        return result.inserted_primary_key[0]

    def compute(self, host):
        """A compute node named like its host (libvirt: one node a host)."""
        return self._insert(
            'compute_nodes', host=host, hypervisor_hostname=host,
            uuid=str(uuid.uuid4()), vcpus=8, memory_mb=8192, local_gb=100,
            vcpus_used=0, memory_mb_used=0, local_gb_used=0,
            hypervisor_type='QEMU', hypervisor_version=8002000, cpu_info='{}')

    def instance(self, host, deleted=False, task_state=None):
        instance_uuid = str(uuid.uuid4())
        row_id = self._insert('instances', uuid=instance_uuid, host=host,
                              node=host, task_state=task_state)
        if deleted:
            self.update('instances', row_id, deleted=row_id,
                        deleted_at=timeutils.utcnow())
        return instance_uuid

    def migration(self, instance_uuid, source, dest, status):
        return self._insert(
            'migrations', instance_uuid=instance_uuid, source_compute=source,
            source_node=source, dest_compute=dest, dest_node=dest,
            status=status, migration_type='resize')

    def device(self, compute_id, address, status='allocated',
               instance_uuid=None):
        request_id = str(uuid.uuid4()) if instance_uuid else None
        return self._insert(
            'pci_devices', compute_node_id=compute_id, address=address,
            uuid=str(uuid.uuid4()), vendor_id='10de', product_id='11b4',
            dev_type='type-PCI', dev_id='pci_' + address.replace(':', '_'),
            label='label_10de_11b4', status=status, request_id=request_id,
            instance_uuid=instance_uuid, numa_node=0, extra_info='{}')

    def update(self, table, row_id, **values):
        table = self.tables[table]
        with self.engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == row_id)
                         .values(**values))

    def devices(self):
        """Every pci_devices row, by id."""
        table = self.tables['pci_devices']
        with self.engine.connect() as conn:
            return {row.id: row._asdict()
                    for row in conn.execute(sa.select(table))}


def map_cells(engine, *mappings):
    """cell_mappings rows in an API database: (uuid, name, url) each."""
    table = api_models.BASE.metadata.tables['cell_mappings']
    with engine.begin() as conn:
        for cell_uuid, name, url in mappings:
            conn.execute(table.insert().values(
                uuid=cell_uuid, name=name, database_connection=url,
                transport_url='none:///'))
