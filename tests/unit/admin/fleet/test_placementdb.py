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

"""Cordoned and awaiting-cleaning GPUs, from placement's database.

A cell database built with nova's schema and placement-mode pools (each
pool with its device's ``rp_uuid``, as nova-compute writes them) beside a
placement database built with placement's schema: the snapshot, capacity,
explain and the exporter tell the GPUs placement holds back from free
ones.
"""

from nova import test

from nova_gpu_ext.admin import database
from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import exporter
from nova_gpu_ext.admin.fleet import placementdb
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.admin.fleet import source as fleet_source
from nova_gpu_ext.admin import lifecycle
from nova_gpu_ext.gpu import models
from tests.unit.admin.audit import nova_db
from tests.unit.admin.fleet import fleetdb
from tests.unit.admin.fleet import placement_db
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

K4200 = models.ModelKey(*fleetdb.K4200)
dev = fleetdb.device
OTU = frozenset([lifecycle.ONE_TIME_USE_TRAIT])


class TestProviderSplit(test.NoDBTestCase):
    """A device provider's units per state, by lifecycle.state."""

    def test_states(self):
        cases = [
            ((1, 0, 0, frozenset()), {'free': 1, 'used': 0}),
            ((1, 0, 1, frozenset()), {'free': 0, 'used': 1}),
            ((1, 1, 0, frozenset()), {'free': 0, 'used': 0, 'cordoned': 1}),
            # Cordoned while a server holds it: used until it leaves.
            ((1, 1, 1, frozenset()), {'free': 0, 'used': 1}),
            ((1, 1, 0, OTU), {'free': 0, 'used': 0, 'awaiting_cleaning': 1}),
            ((1, 1, 1, OTU), {'free': 0, 'used': 1}),
            ((1, 0, 0, OTU), {'free': 1, 'used': 0}),
        ]
        for values, expected in cases:
            self.assertEqual(expected, snapshot.Provider(*values).split(),
                             values)


class PlacementDbTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.placement = self.useFixture(placement_db.PlacementDb())
        root = self.placement.compute('gpu-a')
        self.rps = {
            'free': self.placement.device(root, 'gpu-a_0000:81:00.0'),
            'cordoned': self.placement.device(root, 'gpu-a_0000:82:00.0',
                                              reserved=1),
            'draining': self.placement.device(root, 'gpu-a_0000:83:00.0',
                                              reserved=1, used=1),
            'cleaning': self.placement.device(root, 'gpu-a_0000:84:00.0',
                                              reserved=1, one_time_use=True),
        }
        other = self.placement.compute('gpu-b')
        self.rps['other'] = self.placement.device(
            other, 'gpu-b_0000:81:00.0', reserved=1)
        self.db = self.useFixture(nova_db.Database('sqlite'))
        cell = fleetdb.FleetCell(self.db.engine)
        rps = self.rps
        cell.gpu_host('gpu-a', [
            dev('0000:81:00.0', fleetdb.K4200, 0, rp_uuid=rps['free']),
            dev('0000:82:00.0', fleetdb.K4200, 0, rp_uuid=rps['cordoned']),
            dev('0000:83:00.0', fleetdb.K4200, 0, 'allocated',
                rp_uuid=rps['draining']),
            # nova made it available again when its server left.
            dev('0000:84:00.0', fleetdb.K4200, 1, rp_uuid=rps['cleaning'])])
        cell.gpu_host('gpu-b', [
            dev('0000:81:00.0', fleetdb.K4200, 0, rp_uuid=rps['other'])])
        self.catalog = catalog_files.write(
            self, catalog_files.TWO_MODELS_AND_A_CLASS)

    def source(self, **kwargs):
        return fleet_source.Source(
            connections=[self.db.url], db_timeout=10,
            placement_connection=self.placement.url, **kwargs)

    def records(self, *argv):
        return cli.records(*argv[:1], '--connection', self.db.url,
                           '--placement-connection', self.placement.url,
                           *argv[1:])


class TestPlacementDatabase(PlacementDbTest):

    def test_every_device_provider_by_uuid(self):
        found = placementdb.take(self.placement.url, 10)
        rps = self.rps
        self.assertEqual({
            rps['free']: snapshot.Provider(1, 0, 0),
            rps['cordoned']: snapshot.Provider(1, 1, 0),
            rps['draining']: snapshot.Provider(1, 1, 1),
            rps['cleaning']: snapshot.Provider(1, 1, 0, OTU),
            rps['other']: snapshot.Provider(1, 1, 0)}, found)

    def test_cell_snapshot_knows_what_placement_holds_back(self):
        gpu_a = self.source().take().host('gpu-a')
        self.assertEqual(
            {(K4200, 0, 'free'): 1, (K4200, 0, 'used'): 1,
             (K4200, 0, 'cordoned'): 1, (K4200, 1, 'free'): 0,
             (K4200, 1, 'awaiting_cleaning'): 1}, gpu_a.counts)
        self.assertEqual({self.rps['free']: 1, self.rps['cordoned']: 0,
                          self.rps['draining']: 0, self.rps['cleaning']: 0},
                         {p['rp_uuid']: p['count'] for p in gpu_a.pools})

    def test_without_the_placement_database_they_look_free(self):
        snap = fleet_source.Source(connections=[self.db.url]).take()
        self.assertEqual(3, snap.host('gpu-a').count(K4200, state='free'))

    def test_exporter_gauge_has_the_held_states(self):
        snap = self.source().take()
        names = snapshot.ModelFilter()
        text = exporter.families(snap, exporter.Questions(
            [], lambda s: capacity.Placer({}), names))
        samples = {(s.labels['host'], s.labels['state']): s.value
                   for family in text if family.name == 'nova_gpu_ext_gpus'
                   for s in family.samples if s.value}
        self.assertEqual({('gpu-a', 'free'): 1, ('gpu-a', 'used'): 1,
                          ('gpu-a', 'cordoned'): 1,
                          ('gpu-a', 'awaiting_cleaning'): 1,
                          ('gpu-b', 'cordoned'): 1}, samples)

    def test_a_non_placement_database_names_the_missing_table(self):
        exc = self.assertRaises(database.NotNovaDatabase, placementdb.take,
                                self.db.url, 10)
        self.assertIn('has no resource_providers', str(exc))


class TestCommands(PlacementDbTest):

    def test_capacity_rows_and_summary(self):
        status, rows, err = self.records('capacity')
        self.assertEqual(0, status, err)
        self.assertEqual(
            [('gpu-a', 0, 3, 1, 1, 1, 0), ('gpu-a', 1, 1, 0, 0, 0, 1),
             ('gpu-b', 0, 1, 0, 0, 1, 0)],
            [(r['host'], r['numa_node'], r['total'], r['free'], r['used'],
              r['cordoned'], r['awaiting_cleaning']) for r in rows])
        self.assertEqual([1, 1, 0], [r['largest_on_host'] for r in rows])
        status, rows, err = self.records('capacity', '--summary')
        self.assertEqual(0, status, err)
        self.assertEqual([(5, 1, 1, 2, 1)],
                         [(r['total'], r['free'], r['used'], r['cordoned'],
                           r['awaiting_cleaning']) for r in rows])

    def test_explain_says_a_hosts_gpus_are_out_of_service(self):
        status, rows, err = self.records(
            'explain', '--catalog', self.catalog, '--request', 'k4200:1')
        self.assertEqual(0, status, err)
        reasons = {r['host']: r['reason'] for r in rows}
        self.assertTrue(reasons['gpu-a'].startswith('passes'))
        self.assertEqual(
            'no allocation candidates left for this host; out of service '
            'here: cordoned: k4200 1', reasons['gpu-b'])

    def test_legacy_pools_ignore_it_with_a_warning(self):
        legacy = self.useFixture(nova_db.Database('sqlite'))
        fleetdb.FleetCell(legacy.engine).gpu_host(
            'gpu-l', [dev('0000:81:00.0', fleetdb.K4200, 0)])
        status, rows, err = cli.records(
            'capacity', '--connection', legacy.url,
            '--placement-connection', self.placement.url)
        self.assertEqual(0, status, err)
        self.assertIn('--placement-connection ignored', err)
        self.assertIn('legacy mode', err)
        self.assertEqual([(1, 0)], [(r['free'], r['cordoned'])
                                    for r in rows])

    def test_bad_inputs_are_one_line_exit_2(self):
        cases = [
            (('capacity', '--connection', self.db.url,
              '--placement-connection', self.db.url),
             'has no resource_providers, inventories, allocations, traits, '
             'resource_provider_traits table'),
            (('explain', '--request', 'k4200:1', '--catalog', self.catalog,
              '--placement-connection', self.placement.url),
             '--placement-connection completes the cell databases'),
            (('what-if', '--request', 'k4200:1=1', '--catalog',
              self.catalog, '--connection', self.db.url,
              '--placement-connection', 'sqlite:////nonexistent.db'),
             'no SQLite database file /nonexistent.db'),
        ]
        for argv, message in cases:
            status, out, err = cli.run(*argv)
            self.assertEqual((2, ''), (status, out), (argv, err))
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertIn(message, err)

    def test_pci_audit_has_no_such_option(self):
        status, _, err = cli.run('pci-audit', '--connection', self.db.url,
                                 '--placement-connection',
                                 self.placement.url)
        self.assertEqual(2, status)
        self.assertIn('--placement-connection', err)
