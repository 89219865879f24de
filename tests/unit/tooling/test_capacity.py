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

"""Fit arithmetic of ``nova-gpu-ext capacity``."""

import testscenarios
import testtools

from nova_gpu_ext.tooling import capacity
from nova_gpu_ext.tooling import catalog

CATALOG = catalog.build(
    [catalog.GpuModel(name='k4200', vendor_id='10de', product_id='11b4',
                      alias='k4200', resource_class='CUSTOM_GPU_K4200',
                      flavor=catalog.FlavorSettings(counts=(1, 3))),
     catalog.GpuModel(name='a100', vendor_id='10de', product_id='20b5',
                      alias='a100', resource_class='CUSTOM_GPU_A100'),
     catalog.GpuModel(name='l40s', vendor_id='10de', product_id='26b9',
                      alias='l40s', resource_class='CUSTOM_GPU_L40S')],
    [catalog.GpuClass(name='dc', models=('a100', 'l40s'), alias='dc',
                      resource_class='CUSTOM_GPU_DC')])


def gpu(host, rc='CUSTOM_GPU_K4200', used=0, reserved=0, total=1):
    return capacity.PciProvider(host=host, name=f'{host}_dev', total=total,
                                resource_class=rc, used=used,
                                reserved=reserved)


class TestGroupOf(testscenarios.WithScenarios, testtools.TestCase):

    scenarios = [
        ('model resource class', {'rc': 'CUSTOM_GPU_K4200',
                                  'catalog': CATALOG, 'group': 'k4200'}),
        ('class resource class', {'rc': 'CUSTOM_GPU_DC',
                                  'catalog': CATALOG, 'group': 'dc'}),
        ('nova default by ids', {'rc': 'CUSTOM_PCI_10DE_20B5',
                                 'catalog': CATALOG, 'group': 'a100'}),
        ('unknown ids', {'rc': 'CUSTOM_PCI_8086_1520', 'catalog': CATALOG,
                         'group': None}),
        ('other class', {'rc': 'CUSTOM_NIC', 'catalog': CATALOG,
                         'group': None}),
        ('no catalog', {'rc': 'CUSTOM_NIC', 'catalog': None,
                        'group': 'CUSTOM_NIC'}),
    ]

    def test_group(self):
        self.assertEqual(self.group,
                         capacity.group_of(self.catalog, self.rc))


class TestReport(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.report = capacity.report([
            gpu('h1', used=1), gpu('h1'), gpu('h1'), gpu('h1'),
            gpu('h2', reserved=1), gpu('h2'), gpu('h2', used=1),
            gpu('h3', rc='CUSTOM_GPU_DC', total=2),
            gpu('h3', rc='CUSTOM_PCI_8086_1520', total=8),
        ], CATALOG)

    def test_per_host_totals_exclude_reserved_and_largest_is_all_free(self):
        self.assertEqual(
            [('h1', 'k4200', 4, 1, 3, 3), ('h2', 'k4200', 2, 1, 1, 1),
             ('h3', 'dc', 2, 0, 2, 2)],
            [(h.host, h.group, h.total, h.used, h.free, h.largest)
             for h in self.report.hosts])

    def test_cloud_totals_and_largest_on_any_host(self):
        k4200 = next(g for g in self.report.groups if g.group == 'k4200')
        self.assertEqual((6, 2, 4, 3),
                         (k4200.total, k4200.used, k4200.free, k4200.largest))

    def test_fits_count_whole_servers_per_host(self):
        # 3 free on h1 and 1 on h2: four 1-GPU servers, one 3-GPU server
        # (the 4 free GPUs are on two hosts).
        self.assertEqual({1: 4, 3: 1}, self.report.fits['k4200'])
        self.assertEqual({1: 2, 3: 0}, self.report.fits['dc'])

    def test_resource_classes_outside_the_catalog_are_listed_as_ignored(
            self):
        self.assertEqual(('CUSTOM_PCI_8086_1520',), self.report.ignored)

    def test_fits_per_host_are_whole_servers_of_its_free_gpus(self):
        self.assertEqual(
            [('h1', 3, 1), ('h2', 1, 0), ('h3', 2, 0)],
            [(h.host, h.fit(1), h.fit(3)) for h in self.report.hosts])


class TestCounts(testtools.TestCase):

    def test_catalog_flavor_counts_or_1_2_4_8(self):
        self.assertEqual((1, 3), capacity.counts_of(CATALOG))
        self.assertEqual((1, 2, 4, 8), capacity.counts_of(None))
        self.assertEqual((1, 2, 4, 8),
                         capacity.counts_of(catalog.Catalog()))

    def test_a_used_device_over_reserved_is_never_negative_free(self):
        self.assertEqual(0, gpu('h', used=1, reserved=1).free)
