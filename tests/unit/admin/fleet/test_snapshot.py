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

"""The snapshot's pools are the pools nova-scheduler builds."""

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from nova.objects import pci_device_pool
from nova.pci import stats
from nova import test
from oslo_serialization import jsonutils

from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.gpu import models
from tests.unit.admin.fleet import fleetdb

MODELS = (fleetdb.K4200, fleetdb.V100, fleetdb.A100)

hosts = st.lists(st.tuples(
    st.sampled_from(MODELS), st.sampled_from([0, 1, None]),
    st.sampled_from(['available', 'available', 'allocated', 'claimed'])),
    min_size=0, max_size=8)


def scheduler_pools(pci_stats_text):
    """The pools nova's HostState gets from the compute node's column."""
    return stats.PciDeviceStats(
        None, stats=pci_device_pool.from_pci_stats(pci_stats_text)).pools


class TestPoolsFromPciStats(test.NoDBTestCase):

    @settings(max_examples=200, deadline=None)
    @given(hosts, st.booleans())
    def test_same_pools_in_the_same_order_as_nova(self, devices, tagged):
        spec = None
        if tagged:
            # One model gets an extra tag: its pools have more keys and
            # nova sorts them after the others.
            spec = [jsonutils.dumps(
                dict(vendor_id=m[0], product_id=m[1],
                     **({'resource_class': 'GPU_K4200'}
                        if m == fleetdb.K4200 else {})))
                    for m in MODELS]
        text = fleetdb.pci_stats(
            [fleetdb.device(f'0000:81:{i:02x}.0', m, n, s)
             for i, (m, n, s) in enumerate(devices)], spec)
        self.assertEqual(scheduler_pools(text),
                         list(snapshot.pools_from_pci_stats(text)))

    def test_old_list_format_and_garbage(self):
        old = [{'vendor_id': '10de', 'product_id': '11b4', 'count': 2,
                'numa_node': 0, 'dev_type': 'type-PCI', 'physnet': 'x'},
               {'vendor_id': '10de', 'product_id': '1db4', 'count': 1}]
        text = jsonutils.dumps(old)
        self.assertEqual(scheduler_pools(text),
                         list(snapshot.pools_from_pci_stats(text)))
        for bad in (None, '', 'not json', '42', '"text"'):
            self.assertEqual((), snapshot.pools_from_pci_stats(bad))


class TestDeviceCounts(test.NoDBTestCase):

    ROWS = [
        dict(vendor_id='10de', product_id='11b4', dev_type='type-PCI',
             numa_node=0, status=status, n=2)
        for status in ('available', 'allocated', 'claimed', 'unavailable',
                       'unclaimable', 'removed', 'deleted')
    ] + [dict(vendor_id='8086', product_id='1515', dev_type='type-VF',
              numa_node=0, status='available', n=8)]

    def test_statuses_map_to_states_and_vfs_are_not_gpus(self):
        counts = snapshot.device_counts(self.ROWS, snapshot.ModelFilter())
        k4200 = models.ModelKey('10de', '11b4')
        self.assertEqual({(k4200, 0, snapshot.FREE): 2,
                          (k4200, 0, snapshot.USED): 4,
                          (k4200, 0, snapshot.UNAVAILABLE): 6}, counts)


class TestProviderTags(test.NoDBTestCase):

    def test_placement_pools_get_the_catalogs_resource_class(self):
        k4200 = models.ModelKey('10de', '11b4')
        host = snapshot.HostGpus('h', 'c', {}, (
            {'vendor_id': '10de', 'product_id': '11b4', 'count': 1,
             'rp_uuid': 'rp1'},
            {'vendor_id': '10de', 'product_id': '11b4', 'count': 1},
            {'vendor_id': '8086', 'product_id': '1572', 'count': 1,
             'rp_uuid': 'rp2'}))
        tagged = snapshot.with_provider_tags(
            snapshot.Snapshot((host,), 'test', 0.0),
            {k4200: {'resource_class': 'CUSTOM_GPU_WS'}})
        self.assertEqual(['CUSTOM_GPU_WS', None, None],
                         [p.get('resource_class')
                          for p in tagged.hosts[0].pools])
