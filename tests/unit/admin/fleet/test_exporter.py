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

"""The exporter's metrics, parsed back from the exposition it serves."""

from nova import test
from prometheus_client import exposition
from prometheus_client import parser
from prometheus_client import registry

from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import exporter
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext import exception
from nova_gpu_ext.gpu import models
from tests.unit.admin.fleet import test_capacity

K4200 = test_capacity.K4200


def scrape(refresher):
    reg = registry.CollectorRegistry()
    reg.register(exporter.Collector(refresher))
    text = exposition.generate_latest(reg).decode()
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples[sample.name, labels] = sample.value
    return samples


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def sample_snapshot():
    """One host of two models over two NUMA nodes, one K4200 in use."""
    _, host = test_capacity.host_of([
        (test_capacity.fleetdb.K4200, 0, 'available'),
        (test_capacity.fleetdb.K4200, 0, 'available'),
        (test_capacity.fleetdb.K4200, 1, 'allocated'),
        (test_capacity.fleetdb.V100, 1, 'available')], 'gpu-1')
    return snapshot.Snapshot((host,), 'test', 1000.0)


def sample_questions():
    """A 2-GPU K4200 flavor, and 2 stale rows on the host."""
    k4200x2 = gpu_requests.GpuRequest(
        'k4200.x2', (('k4200', 2),),
        models.GpuPolicy(True, models.NumaMode.ANY,
                         models.SwitchMode.ANY))
    placer = capacity.Placer(test_capacity.ALIASES)
    return exporter.Questions(
        [k4200x2], lambda snap: placer,
        snapshot.ModelFilter(), lambda: {'gpu-1': 2})


class TestExporter(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.snap = sample_snapshot()
        self.clock = Clock(1030.0)
        self.snaps = [self.snap]
        self.refresher = exporter.Refresher(self._take, sample_questions(),
                                            self.clock)

    def _take(self):
        item = self.snaps.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def test_every_metric_from_one_snapshot(self):
        self.assertTrue(self.refresher.refresh())
        got = scrape(self.refresher)

        def gpus(model, numa, state):
            return got['nova_gpu_ext_gpus', (
                ('host', 'gpu-1'), ('model', model), ('numa_node', numa),
                ('state', state))]
        self.assertEqual(2, gpus('10de:11b4', '0', 'free'))
        self.assertEqual(1, gpus('10de:11b4', '1', 'used'))
        self.assertEqual(1, gpus('10de:1db4', '1', 'free'))
        self.assertEqual(1, got['nova_gpu_ext_flavor_fits',
                                (('flavor', 'k4200.x2'),)])
        self.assertEqual(2, got['nova_gpu_ext_flavor_gpus',
                                (('flavor', 'k4200.x2'),)])
        self.assertEqual(2, got['nova_gpu_ext_largest_request',
                                (('model', '10de:11b4'), ('scope', 'node'))])
        # No pcie_switch tags: every GPU is its own switch.
        self.assertEqual(1, got['nova_gpu_ext_largest_request',
                                (('model', '10de:11b4'), ('scope', 'switch'))])
        self.assertEqual(1, got['nova_gpu_ext_stranded_gpus',
                                (('model', '10de:1db4'),)])
        self.assertEqual(2, got['nova_gpu_ext_stale_pci_rows',
                                (('host', 'gpu-1'),)])
        self.assertEqual(30, got['nova_gpu_ext_snapshot_age_seconds', ()])
        self.assertEqual(0, got['nova_gpu_ext_snapshot_errors_total', ()])

    def test_a_failed_refresh_keeps_the_last_snapshot_and_counts(self):
        self.snaps.append(exception.Unreachable('db gone'))
        self.refresher.refresh()
        self.clock.now = 1100.0
        self.assertFalse(self.refresher.refresh())
        got = scrape(self.refresher)
        self.assertEqual(1, got['nova_gpu_ext_snapshot_errors_total', ()])
        self.assertEqual(100, got['nova_gpu_ext_snapshot_age_seconds', ()])
        self.assertIn(('nova_gpu_ext_flavor_fits', (('flavor', 'k4200.x2'),)),
                      got)

    def test_before_the_first_snapshot_only_the_error_counter(self):
        self.snaps[:] = [exception.Unreachable('db gone')]
        self.refresher.refresh()
        self.assertEqual({('nova_gpu_ext_snapshot_errors_total', ()): 1},
                         scrape(self.refresher))

    def test_unknown_numa_node_is_labelled_none(self):
        host = snapshot.HostGpus('p', '', {(K4200, None, 'free'): 1}, ())
        self.snaps[:] = [snapshot.Snapshot((host,), 'placement', 1000.0)]
        self.refresher.refresh()
        got = scrape(self.refresher)
        self.assertEqual(1, got['nova_gpu_ext_gpus', (
            ('host', 'p'), ('model', '10de:11b4'), ('numa_node', 'none'),
            ('state', 'free'))])
