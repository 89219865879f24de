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

"""One bad row is a finding, never the whole fleet's answer.

Each damaged value of a cell database is left out with one warning naming
the cell, the host and the column; the rest of the fleet is answered by
every fleet command and by the exporter, which also counts the rows left
out per cell.
"""

import json
import time

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from nova import test

from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import explain
from nova_gpu_ext.admin.fleet import exporter
from nova_gpu_ext.admin.fleet import source as fleet_source
from nova_gpu_ext.admin.fleet import whatif
from nova_gpu_ext.common import catalog_file
from tests.unit.admin.audit import nova_db
from tests.unit.admin.fleet import fleetdb
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

dev = fleetdb.device

# JSON values shaped like nova's: objects with nova's keys, lists, scalars.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10 ** 10)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(['nova_object.data', 'objects', 'requests', 'count',
                         'vendor_id', 'product_id', 'numa_node', 'tags',
                         'dev_type', 'alias_name', 'spec', 'cur',
                         'extra_specs']), inner, max_size=4),
    max_leaves=12)

BAD_PCI_STATS = {
    'a list of numbers': json.dumps({'nova_object.data': [1, 2]}),
    'tags as a list': json.dumps({'nova_object.data': {'objects': [
        {'nova_object.data': {'vendor_id': '10de', 'product_id': '1db4',
                              'count': 1, 'tags': ['a']}}]}}),
    'a count that is text': json.dumps([
        {'vendor_id': '10de', 'product_id': '1db4', 'count': 'abc'}]),
    'a count of 1e9': json.dumps([
        {'vendor_id': '10de', 'product_id': '1db4', 'count': 10 ** 9,
         'numa_node': 0}]),
    'deep nesting': '[' * 100000 + ']' * 100000,
}


class BadRowsTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(nova_db.Database('sqlite'))
        self.cell = fleetdb.FleetCell(self.db.engine)
        self.cell.gpu_host('gpu-good', [
            dev('0000:81:00.0', fleetdb.V100, 0),
            dev('0000:82:00.0', fleetdb.V100, 0)])
        self.bad = self.cell.gpu_host('gpu-bad', [
            dev('0000:81:00.0', fleetdb.V100, 0)])
        self.catalog = catalog_files.write(
            self, catalog_files.TWO_MODELS_AND_A_CLASS)

    def run_fleet(self, *argv):
        start = time.monotonic()
        status, out, err = cli.run(*argv, '--connection', self.db.url)
        self.assertLess(time.monotonic() - start, 30, argv)
        return status, out, err

    def assert_answered_without(self, column):
        for argv, answer in (
                (['capacity', '-f', 'json'], 'gpu-good'),
                (['capacity', '--catalog', self.catalog, '--fits'],
                 'gpu.v100.x4'),
                (['explain', '--catalog', self.catalog, '--request',
                  'v100:1', '-f', 'json'], 'gpu-good'),
                (['what-if', '--catalog', self.catalog, '--request',
                  'v100:1=3'], 'gpu-good x2')):
            status, out, err = self.run_fleet(*argv)
            self.assertIn(status, (0, 1), (argv, err))
            self.assertIn(answer, out, argv)
            self.assertIn(f'host gpu-bad: {column} left out', err, argv)
            self.assertNotIn('Traceback', err)

    def test_pci_stats_that_do_not_parse(self):
        for case, text in BAD_PCI_STATS.items():
            self.cell.update('compute_nodes', self.bad, pci_stats=text)
            self.assert_answered_without('compute_nodes.pci_stats')

    def test_a_numa_node_that_is_not_a_number(self):
        self.cell._row(self.bad, dict(dev('0000:83:00.0', fleetdb.V100, 0),
                                      numa_node='abc'))
        self.assert_answered_without('pci_devices.numa_node')

    def test_the_exporter_serves_the_good_hosts_and_counts_the_bad(self):
        self.cell.update('compute_nodes', self.bad,
                         pci_stats=BAD_PCI_STATS['tags as a list'])
        status, out, err = self.run_fleet('exporter', '--once')
        self.assertEqual(0, status, err)
        self.assertIn('host="gpu-good"', out)
        self.assertNotIn('host="gpu-bad"', out)
        self.assertIn('nova_gpu_ext_skipped_rows{cell=', out)
        self.assertIn('column="compute_nodes.pci_stats"} 1.0', out)

    def test_garbage_pci_requests_of_a_drained_server(self):
        for garbage in ('[1, 2]', '{"nova_object.data": 5}',
                        json.dumps({'nova_object.data': {'requests': [
                            {'nova_object.data': {
                                'alias_name': 'v100', 'count': 'two'}}]}})):
            instance = self.cell.instance('gpu-bad')
            self.cell._insert('instance_extra', instance_uuid=instance,
                              pci_requests=garbage, flavor='{}')
            status, out, err = self.run_fleet(
                'what-if', '--catalog', self.catalog, '--drain', 'gpu-bad',
                '--request', 'v100:1=1')
            self.assertIn(status, (0, 1), err)
            self.assertIn('instance_extra of server ', err)
            self.assertIn(instance, err)
            self.assertIn('gpu-good', out)


class TestRandomRows(test.NoDBTestCase):
    """Random row values through every fleet question and the exporter.

    pci_stats, numa_node and pci_requests: each host is answered or left
    out with a reason, never the whole fleet.
    """

    def setUp(self):
        super().setUp()
        db = self.useFixture(nova_db.Database('sqlite'))
        self.engine = db.engine
        self.cell = fleetdb.FleetCell(db.engine)
        self.cell.gpu_host('gpu-good', [dev('0000:81:00.0', fleetdb.V100, 0),
                                        dev('0000:82:00.0', fleetdb.V100, 0)])
        self.odd = self.cell.gpu_host('gpu-odd', [])
        self.server = self.cell.instance('gpu-odd')
        self.cell._insert('instance_extra', instance_uuid=self.server,
                          pci_requests='null', flavor='{}')
        gpu_catalog = catalog_file.load_catalog([catalog_files.write(
            self, catalog_files.TWO_MODELS_AND_A_CLASS)])
        self.source = fleet_source.Source(connections=[db.url],
                                          catalog=gpu_catalog)

    def set_rows(self, pci_stats, numa_node, pci_requests):
        self.cell.update('compute_nodes', self.odd, pci_stats=pci_stats)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                'DELETE FROM pci_devices WHERE compute_node_id = ?',
                (self.odd,))
            conn.exec_driver_sql(
                'UPDATE instance_extra SET pci_requests = ? WHERE '
                'instance_uuid = ?', (pci_requests, self.server))
        self.cell._row(self.odd, dict(dev('0000:81:00.0', fleetdb.V100, 0),
                                      numa_node=numa_node))

    @settings(max_examples=60, deadline=None)
    @given(JSON.map(json.dumps), st.one_of(
        st.none(), st.integers(-2 ** 62, 2 ** 62), st.text(max_size=3),
        st.floats(allow_nan=False)), JSON.map(json.dumps))
    def test_every_question_is_answered(self, pci_stats, numa_node,
                                        pci_requests):
        self.set_rows(pci_stats, numa_node, pci_requests)
        snap = self.source.take()
        self.assertIn('gpu-good', [h.host for h in snap.hosts])
        for left_out in snap.skipped:
            self.assertEqual('gpu-odd', left_out.host)
            self.assertTrue(left_out.reason)
        request = self.source.request('v100:1')
        aliases = self.source.aliases(snap)
        placer = self.source.placer(snap)
        capacity.rows(snap, self.source.names)
        capacity.fits(snap, self.source.flavors(), placer)
        explain.explain(snap, request, aliases, self.source.names)
        whatif.what_if(snap, [(request, 3)], aliases, self.source.names,
                       drained=['gpu-odd'],
                       moved=self.source.servers('gpu-odd'))
        exporter.families(snap, exporter.Questions(
            self.source.flavors(), self.source.placer, self.source.names))
