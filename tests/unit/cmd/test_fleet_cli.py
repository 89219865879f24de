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

"""capacity, explain and what-if on a cell database with nova's schema."""

import json
import os
import time

import fixtures
from nova import test
import sqlalchemy as sa

from tests.unit.admin.audit import nova_db
from tests.unit.admin.cloud import servers
from tests.unit.admin.fleet import fleetdb
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

dev = fleetdb.device


class FleetCliTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(nova_db.Database('sqlite'))
        self.cell = fleetdb.FleetCell(self.db.engine)
        # Pool order K4200, V100, V100: a class request of 2 walks K + V.
        self.cell.gpu_host('gpu-mixed', [
            dev('0000:81:00.0', fleetdb.K4200, 0),
            dev('0000:82:00.0', fleetdb.V100, 0),
            dev('0000:83:00.0', fleetdb.V100, 1)])
        self.cell.gpu_host('gpu-v100', [
            dev('0000:81:00.0', fleetdb.V100, 0),
            dev('0000:82:00.0', fleetdb.V100, 0),
            dev('0000:83:00.0', fleetdb.V100, 1, 'allocated'),
            dev('0000:84:00.0', fleetdb.V100, 1)])
        self.catalog = catalog_files.write(
            self, catalog_files.TWO_MODELS_AND_A_CLASS)

    def records(self, *argv):
        return cli.records(*argv[:1], '--connection', self.db.url,
                           *argv[1:])


class TestCapacity(FleetCliTest):

    def test_one_record_per_host_model_and_numa_node(self):
        status, rows, err = self.records('capacity')
        self.assertEqual(0, status, err)
        self.assertEqual(
            [('gpu-mixed', '10de', '11b4', 0, 1, 1),
             ('gpu-mixed', '10de', '1db4', 0, 1, 1),
             ('gpu-mixed', '10de', '1db4', 1, 1, 1),
             ('gpu-v100', '10de', '1db4', 0, 2, 2),
             ('gpu-v100', '10de', '1db4', 1, 2, 1)],
            [(r['host'], r['vendor_id'], r['product_id'], r['numa_node'],
              r['total'], r['free']) for r in rows])
        self.assertEqual([2, 2], [r['largest_on_node'] for r in rows
                                  if r['host'] == 'gpu-v100'])
        self.assertEqual([3, 3], [r['largest_on_host'] for r in rows
                                  if r['host'] == 'gpu-v100'])

    def test_catalog_names_models_and_fits_honour_same_model(self):
        status, rows, err = self.records('capacity', '--catalog',
                                         self.catalog, '--fits')
        self.assertEqual(0, status, err)
        fits = {r['flavor']: (r['fit'], r['hosts']) for r in rows}
        self.assertEqual({'gpu.k4200.x1': (1, 1), 'gpu.k4200.x2': (0, 0),
                          'gpu.v100.x4': (0, 0),
                          # Never mixed: only gpu-v100 takes one.
                          'gpu.gpu.x2': (1, 1)}, fits)

    def test_summary_counts_stranded_gpus(self):
        status, rows, err = self.records('capacity', '--catalog',
                                         self.catalog, '--summary')
        self.assertEqual(0, status, err)
        # gpu-mixed's two V100s: v100.x4 does not fit there and gpu.x2
        # would walk K4200 + V100 there, so no flavor gets them.
        self.assertEqual({'k4200': (1, 0), 'v100': (5, 2)},
                         {r['model']: (r['free'], r['stranded'])
                          for r in rows})

    def test_request_and_numa(self):
        status, rows, err = self.records(
            'capacity', '--catalog', self.catalog, '--request', 'v100:2',
            '--numa', 'single')
        self.assertEqual(0, status, err)
        self.assertEqual([{'flavor': 'v100:2', 'gpus_per_server': 2,
                           'numa': 'single', 'fit': 1, 'hosts': 1}], rows)

    def test_bad_inputs_are_one_line(self):
        cases = [
            (('capacity', '--connection', 'sqlite:////nonexistent.db'),
             'no SQLite database file /nonexistent.db'),
            (('capacity', '--connection', 'nosuch://x'),
             'cannot use the database URL nosuch://x'),
            (('capacity', '--connection', self.db.url, '--nova-conf',
              '/etc/nova/nova.conf'), 'give --nova-conf or --connection'),
            (('capacity', '--connection', self.db.url, '--catalog',
              self.catalog, '--request', 'nosuch:2'),
             'no such alias nosuch'),
            (('capacity', '--connection', self.db.url, '--request',
              'gpu-2'), "'gpu-2' is not ALIAS:COUNT"),
        ]
        for argv, message in cases:
            status, out, err = cli.run(*argv)
            self.assertEqual((2, ''), (status, out), argv)
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertIn(message, err)


class TestExplain(FleetCliTest):

    def test_verdict_and_reason_per_host(self):
        status, rows, err = self.records(
            'explain', '--catalog', self.catalog, '--request', 'gpu:2')
        self.assertEqual(0, status, err)
        verdicts = {r['host']: (r['passes'], r['reason']) for r in rows}
        self.assertFalse(verdicts['gpu-mixed'][0])
        self.assertIn('would mix models', verdicts['gpu-mixed'][1])
        self.assertTrue(verdicts['gpu-v100'][0])
        self.assertIn('1 of 2 host(s) pass', err)

    def test_no_host_passes_is_exit_1(self):
        status, rows, err = self.records(
            'explain', '--catalog', self.catalog, '--flavor', 'gpu.v100.x4')
        self.assertEqual(1, status, err)
        self.assertEqual({False}, {r['passes'] for r in rows})

    def test_unknown_flavor_names_the_catalog_flavors(self):
        status, out, err = cli.run(
            'explain', '--connection', self.db.url, '--catalog',
            self.catalog, '--flavor', 'gpu.x9')
        self.assertEqual((2, ''), (status, out))
        self.assertIn('gpu.k4200.x1', err)


class TestWhatIf(FleetCliTest):

    def test_one_record_per_request_ours_beside_in_tree(self):
        status, rows, err = self.records(
            'what-if', '--catalog', self.catalog, '--request', 'gpu:2=2')
        self.assertEqual(1, status, err)
        self.assertEqual(
            [{'request': 'gpu:2', 'asked': 2, 'fit': 1, 'fit_in_tree': 2,
              'mixed_in_tree': 1}],
            [{k: r[k] for k in ('request', 'asked', 'fit', 'fit_in_tree',
                                'mixed_in_tree')} for r in rows])

    def test_drain_replaces_the_hosts_servers(self):
        instance = self.cell.instance('gpu-v100')
        flavor = {'cur': {'nova_object.data': {
            'name': 'gpu.v100.x1', 'extra_specs': {
                'pci_passthrough:alias': 'v100:1'}}}}
        requests = {'nova_object.data': {'requests': [{'nova_object.data': {
            'count': 1, 'alias_name': 'v100', 'request_id': 'r1',
            'spec': [{'vendor_id': '10de', 'product_id': '1db4',
                      'dev_type': 'type-PCI'}]}}]}}
        self.cell._insert('instance_extra', instance_uuid=instance,
                          pci_requests=json.dumps(requests),
                          flavor=json.dumps(flavor))
        status, rows, err = self.records(
            'what-if', '--catalog', self.catalog, '--drain', 'gpu-v100')
        self.assertEqual(0, status, err)
        self.assertEqual(1, len(rows))
        self.assertIn(instance, rows[0]['request'])
        self.assertEqual((1, 'gpu-mixed'), (rows[0]['fit'], rows[0]['hosts']))

    def test_drain_of_an_unknown_host_is_bad_input(self):
        status, out, err = cli.run(
            'what-if', '--connection', self.db.url, '--catalog',
            self.catalog, '--drain', 'nope')
        self.assertEqual((2, ''), (status, out))
        self.assertIn('--drain nope: no such compute host', err)


class TestDrainUnderTheSchedulersPolicy(test.NoDBTestCase):
    """A drained server without gpu:numa is judged as the scheduler would.

    gpu-split fits a 2-GPU server best but only over two NUMA nodes;
    gpu-whole keeps it on one. Under ``[nova_gpu_ext] numa_default =
    prefer`` (the default) the filter refuses the split while gpu-whole
    can keep the server whole; under ``any`` best fit takes gpu-split.
    """

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(nova_db.Database('sqlite'))
        cell = fleetdb.FleetCell(self.db.engine)
        cell.gpu_host('gpu-drained', [
            dev('0000:81:00.0', fleetdb.V100, 0, 'allocated'),
            dev('0000:82:00.0', fleetdb.V100, 0, 'allocated')])
        cell.gpu_host('gpu-split', [
            dev('0000:81:00.0', fleetdb.V100, 0),
            dev('0000:82:00.0', fleetdb.V100, 1)])
        cell.gpu_host('gpu-whole', [
            dev('0000:81:00.0', fleetdb.V100, 0),
            dev('0000:82:00.0', fleetdb.V100, 0),
            dev('0000:83:00.0', fleetdb.V100, 0)])
        instance = cell.instance('gpu-drained')
        flavor = {'cur': {'nova_object.data': {
            'name': 'gpu.v100.x2', 'extra_specs': {
                'pci_passthrough:alias': 'v100:2'}}}}
        requests = {'nova_object.data': {'requests': [{'nova_object.data': {
            'count': 2, 'alias_name': 'v100', 'request_id': 'r1',
            'spec': [{'vendor_id': '10de', 'product_id': '1db4',
                      'dev_type': 'type-PCI'}]}}]}}
        cell._insert('instance_extra', instance_uuid=instance,
                     pci_requests=json.dumps(requests),
                     flavor=json.dumps(flavor))
        self.catalog = catalog_files.write(
            self, catalog_files.TWO_MODELS_AND_A_CLASS)

    def drain(self, *source):
        status, rows, err = cli.records(
            'what-if', *source, '--catalog', self.catalog,
            '--drain', 'gpu-drained')
        self.assertEqual(0, status, err)
        return [(r['hosts'], r['split']) for r in rows]

    def nova_conf(self, numa_default=None):
        text = f'[database]\nconnection = {self.db.url}\n'
        if numa_default:
            text += f'[nova_gpu_ext]\nnuma_default = {numa_default}\n'
        return catalog_files.write(self, text, 'nova.conf')

    def test_a_server_without_gpu_numa_is_judged_under_prefer(self):
        self.assertEqual([('gpu-whole', 0)],
                         self.drain('--connection', self.db.url))
        self.assertEqual([('gpu-whole', 0)],
                         self.drain('--nova-conf', self.nova_conf()))

    def test_the_nova_conf_numa_default_applies(self):
        self.assertEqual([('gpu-split', 1)], self.drain(
            '--nova-conf', self.nova_conf('any')))

    def test_a_bad_numa_default_is_bad_input_naming_the_file(self):
        path = self.nova_conf('sideways')
        status, out, err = cli.run(
            'what-if', '--nova-conf', path, '--catalog', self.catalog,
            '--drain', 'gpu-drained')
        self.assertEqual((2, ''), (status, out))
        self.assertIn(path, err)
        self.assertIn('numa_default', err)
        self.assertEqual(1, len(err.splitlines()))


class DrippingMySQL(servers.DrippingServer):
    """A MySQL port whose handshake never ends: a byte every ``pause`` s."""

    def _drip(self, client):
        try:
            client.sendall(b'\xff\x00\x00\x00')
            while True:
                time.sleep(self.pause)
                client.sendall(b'\x0a')
        except OSError:
            return


class TestDatabasesThatCannotServe(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def test_a_dripping_server_ends_at_the_db_timeout(self):
        server = self.useFixture(DrippingMySQL(pause=0.3))
        port = server.listener.getsockname()[1]
        url = f'mysql+pymysql://nova:S3cret@127.0.0.1:{port}/nova'
        for argv in (['capacity'], ['pci-audit']):
            result, seconds = cli.timed_script(
                *argv, '--connection', url, '--db-timeout', '2', limit=30)
            cli.assert_one_line(self, result, 3, says=[
                'within 2 s', f'127.0.0.1:{port}'], hides=['S3cret'])
            # The deadline, and the console script's start (about 1.5 s).
            self.assertLess(seconds, 2 + 5, argv)

    def test_a_database_that_is_not_nova_is_bad_input_naming_the_tables(self):
        path = os.path.join(self.tmp, 'other.sqlite')
        engine = sa.create_engine(f'sqlite:///{path}')
        with engine.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE orders (id INTEGER)')
        engine.dispose()
        for command in ('capacity', 'explain --request gpu:1',
                        'what-if --request gpu:1=1'):
            argv = command.split()
            if argv[0] != 'capacity':
                argv += ['--catalog', catalog_files.write(
                    self, catalog_files.TWO_MODELS_AND_A_CLASS)]
            status, out, err = cli.run(*argv, '--connection',
                                       f'sqlite:///{path}')
            self.assertEqual((2, ''), (status, out), command)
            self.assertIn('has no compute_nodes, pci_devices table', err)
            self.assertEqual(1, len(err.splitlines()), err)

    def test_a_url_that_runs_statements_before_read_only_is_refused(self):
        status, out, err = cli.run(
            'capacity', '--connection',
            'mysql+pymysql://nova:s3cret@127.0.0.1:1/nova'
            '?init_command=DELETE+FROM+migrations')
        self.assertEqual((2, ''), (status, out))
        self.assertIn('sets init_command', err)
        self.assertNotIn('s3cret', err)
