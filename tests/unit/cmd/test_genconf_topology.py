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

"""``genconf --role compute --topology``: pcie_switch tags from sysfs.

Given a host tree of a PCIe GPU server, genconf gives each GPU behind a
switch its own device_spec entry with the tag, and nova's own
``Whitelist`` and ``PciDeviceStats`` put the tag on the pools the
scheduler sees.
"""

import json
import os

import fixtures
from nova import objects
from nova.pci import stats
from nova.pci import whitelist
from nova import test
from tests import base as test_base
import testscenarios

from tests.unit.cmd import cli
from tests.unit.common import catalog_files
from tests.unit.host import sysfs_tree

L40S = """
[nova_gpu_ext]
gpu_models = l40s, k4200
[gpu:l40s]
vendor_id = 10de
product_id = 26b9
device_type = type-PF
companions = 10de:22ba
[gpu:k4200]
vendor_id = 10de
product_id = 11b4
"""


def device_specs(out):
    return [json.loads(line.split(' = ', 1)[1]) for line in
            out.splitlines() if line.startswith('device_spec = ')]


class TopologyTestCase(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        self.layout = sysfs_tree.switch_server(self.tree, 2, 2, nics=1,
                                               audio=True)
        self.lone = sysfs_tree.Board(self.tree).on_root_port(2)

    def genconf(self, *args, catalog=L40S):
        return cli.run('genconf', '--catalog',
                       catalog_files.write(self, catalog), *args)


class TestGenconfTopology(TopologyTestCase):

    def test_one_tagged_entry_per_gpu_behind_a_switch_then_the_model(self):
        rc, out, err = self.genconf('--role', 'compute', '--topology',
                                    '--root', self.tree.root)
        self.assertEqual((0, ''), (rc, err))
        ids = {'vendor_id': '10de', 'product_id': '26b9'}
        self.assertEqual(
            [{**ids, 'address': gpu, 'pcie_switch': switch}
             for switch, gpus in self.layout.items() for gpu in gpus]
            + [ids, {'vendor_id': '10de', 'product_id': '11b4'}],
            device_specs(out))
        self.assertIn('pcie_switch tags of the GPUs under '
                      f'{self.tree.root}', out.splitlines()[0])

    def test_without_topology_the_output_is_as_before(self):
        _, tagged, _ = self.genconf('--role', 'compute', '--topology',
                                    '--root', self.tree.root)
        rc, plain, err = self.genconf('--role', 'compute')
        self.assertEqual((0, ''), (rc, err))
        kept = [line for line in tagged.splitlines()[1:]
                if not line.startswith('#') and 'pcie_switch' not in line]
        self.assertEqual(
            [line for line in plain.splitlines()[1:]
             if not line.startswith('#')], kept)

    def test_catalog_addresses_keep_their_gpus_out(self):
        rc, out, _ = self.genconf(
            '--role', 'compute', '--topology', '--root', self.tree.root,
            catalog=L40S.replace('device_type', 'addresses = 0000:03:*.*, '
                                 '0000:44:00.0\ndevice_type'))
        self.assertEqual(0, rc)
        self.assertEqual(
            ['0000:03:00.0', '0000:44:00.0', '0000:03:*.*', '0000:44:00.0'],
            [s['address'] for s in device_specs(out)
             if s['product_id'] == '26b9'])

    def test_placement_entries_carry_resource_class_and_tag(self):
        rc, out, _ = self.genconf('--role', 'compute', '--placement',
                                  '--topology', '--root', self.tree.root)
        self.assertEqual(0, rc)
        first = device_specs(out)[0]
        self.assertEqual(('CUSTOM_GPU_L40S', '0000:01:00.0'),
                         (first['resource_class'], first['pcie_switch']))

    def test_gpu_below_an_unreadable_bridge_gets_no_tag_and_a_warning(self):
        self.tree.replace('0000:02:01.0', 'class', b'??\n')
        rc, out, err = self.genconf('--role', 'compute', '--topology',
                                    '--root', self.tree.root)
        self.assertEqual(0, rc)
        self.assertNotIn('"0000:04:00.0"', out)
        self.assertIn('WARNING: PCIe path of GPU 0000:04:00.0 unknown '
                      '(0000:02:01.0 above it', err)

    def test_this_machine_renders_with_its_own_sysfs(self):
        rc, out, err = self.genconf('--role', 'compute', '--topology')
        _, plain, _ = self.genconf('--role', 'compute')
        self.assertEqual(0, rc, err)
        tagged = [s for s in device_specs(out) if 'pcie_switch' in s]
        self.assertEqual(device_specs(plain),
                         [s for s in device_specs(out) if s not in tagged])


class TestLintConfTopology(TopologyTestCase):

    def lint(self, text, *args):
        path = catalog_files.write(self, text, 'nova.conf')
        return cli.records('lint-conf', '--nova-conf', path, *args)

    def test_genconf_topology_output_lints_clean_on_its_host(self):
        _, out, _ = self.genconf('--role', 'compute', '--topology',
                                 '--root', self.tree.root)
        rc, findings, err = self.lint(out, '--topology', '--root',
                                      self.tree.root)
        self.assertEqual((0, []), (rc, findings), err)

    def test_untagged_file_on_a_switch_host_exits_1(self):
        _, out, _ = self.genconf('--role', 'compute')
        rc, findings, _ = self.lint(out, '--topology', '--root',
                                    self.tree.root)
        self.assertEqual((1, ['pcie-switch-missing']),
                         (rc, [f['finding'] for f in findings]))

    def test_without_topology_tags_are_not_judged(self):
        _, out, _ = self.genconf('--role', 'compute')
        rc, findings, _ = self.lint(out)
        self.assertEqual((0, []), (rc, findings))

    def test_tags_of_another_host_are_mismatches(self):
        _, out, _ = self.genconf('--role', 'compute', '--topology',
                                 '--root', self.tree.root)
        other = self.useFixture(sysfs_tree.SysfsTree())
        board = sysfs_tree.Board(other)
        board.gpu('0000:03:00.0', board.root_port(0), 0)
        board.switch(1, 2)
        rc, findings, _ = self.lint(out, '--topology', '--root', other.root)
        self.assertEqual(1, rc)
        self.assertEqual(
            [('pcie-switch-mismatch', 'pcie_switch "0000:01:00.0", but '
              'sysfs shows GPU 0000:03:00.0 behind no PCIe switch'),
             ('pcie-switch-no-such-gpu', 'no GPU at 0000:04:00.0 on this '
              'host')],
            [(f['finding'], f['problem']) for f in findings])

    def test_root_without_topology_is_bad_input(self):
        rc, findings, err = self.lint('[pci]\n', '--root', '/')
        self.assertEqual((2, None), (rc, findings))
        self.assertIn('add --topology or drop --root', err)


class TestGenconfTopologyBadInput(testscenarios.WithScenarios,
                                  TopologyTestCase):

    scenarios = [
        ('root without topology', {
            'args': ['--role', 'compute', '--root', '/srv/host'],
            'named': '--root /srv/host: the host is read only with '
                     '--topology'}),
        ('topology for the controller', {
            'args': ['--role', 'controller', '--topology'],
            'named': '--topology: only the compute role'}),
        ('unreadable root', {
            'args': ['--role', 'compute', '--topology', '--root',
                     '/nonexistent'],
            'named': '/nonexistent/sys/bus/pci/devices'}),
    ]

    def test_one_line_exit_2_nothing_on_stdout(self):
        rc, out, err = self.genconf(*self.args)
        self.assertEqual((2, ''), (rc, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(self.named, err)


class TestPoolsCarryTheTag(testscenarios.WithScenarios, test.NoDBTestCase):
    """nova 34's PciDeviceStats splits pools per address and keeps tags."""

    scenarios = [('legacy', {'mode': []}),
                 ('placement', {'mode': ['--placement']})]

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        self.layout = sysfs_tree.switch_server(self.tree, 2, 2, audio=True)
        self.lone = sysfs_tree.Board(self.tree).on_root_port(2)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.pci.utils.is_physical_function', self.is_pf_in_tree))

    def is_pf_in_tree(self, domain, bus, slot, function):
        """nova's own check (sriov_totalvfs > 0), asked of the tree.

        nova reads /sys/bus/pci/devices for an entry with an exact
        address (to match the VFs of a PF as well); its test base forbids
        that, and this machine's /sys is not the tree's host.
        """
        path = os.path.join(self.tree.root, 'sys/bus/pci/devices',
                            f'{domain}:{bus}:{slot}.{function}',
                            'sriov_totalvfs')
        if not os.path.exists(path):
            return False
        with open(path) as totalvfs:
            return int(totalvfs.read()) > 0

    def pools(self):
        rc, out, err = cli.run(
            'genconf', '--catalog', catalog_files.write(self, L40S),
            '--role', 'compute', '--topology', '--root', self.tree.root,
            *self.mode)
        self.assertEqual(0, rc, err)
        specs = [line.split(' = ', 1)[1] for line in out.splitlines()
                 if line.startswith('device_spec = ')]
        pci_stats = stats.PciDeviceStats(
            None, dev_filter=whitelist.Whitelist(specs))
        for address in [g for gpus in self.layout.values() for g in gpus]:
            pci_stats.add_device(_device(address, '26b9'))
            pci_stats.add_device(_device(address[:-1] + '1', '22ba'))
        pci_stats.add_device(_device(self.lone, '26b9'))
        self.pci_stats = pci_stats
        return {p['address']: p for p in pci_stats.pools}

    def test_each_gpu_pool_names_its_switch(self):
        pools = self.pools()
        expected = {gpu: switch for switch, gpus in self.layout.items()
                    for gpu in gpus}
        self.assertEqual(
            {**expected, self.lone: None},
            {address: pool.get('pcie_switch')
             for address, pool in pools.items()})
        self.assertNotIn('pcie_switch', pools[self.lone])

    def test_the_scheduler_side_pools_keep_the_tag(self):
        """Pools as the scheduler reads them back from the compute's report.

        The compute reports a PciDevicePoolList (through the database);
        a request naming the tag matches only that switch's pools.
        """
        self.pools()
        reported = objects.PciDevicePoolList.obj_from_primitive(
            self.pci_stats.to_device_pools_obj().obj_to_primitive())
        scheduler = stats.PciDeviceStats(
            None, stats=reported, dev_filter=whitelist.Whitelist([]))
        self.assertEqual(
            {'0000:01:00.0': 2, '0000:41:00.0': 2, None: 1},
            {switch: sum(p['count'] for p in scheduler.pools
                         if p.get('pcie_switch') == switch)
             for switch in ('0000:01:00.0', '0000:41:00.0', None)})
        one_switch = objects.InstancePCIRequest(
            count=2, spec=[{'vendor_id': '10de', 'product_id': '26b9',
                            'dev_type': 'type-PF',
                            'pcie_switch': '0000:41:00.0'}],
            request_id=None)
        self.assertTrue(scheduler.support_requests([one_switch], None))
        one_switch.count = 3
        self.assertFalse(scheduler.support_requests([one_switch], None))

    def test_the_alias_still_claims_every_gpu(self):
        self.pools()
        request = objects.InstancePCIRequest(
            count=5, spec=[{'vendor_id': '10de', 'product_id': '26b9',
                            'dev_type': 'type-PF'}],
            alias_name='l40s', request_id=None)
        claimed = self.pci_stats.consume_requests([request])
        self.assertEqual(5, len(claimed))


def _device(address, product_id):
    return objects.PciDevice(
        compute_node_id=1, address=address, vendor_id='10de',
        product_id=product_id, dev_type='type-PF', status='available',
        numa_node=0, parent_addr=None, extra_info={}, request_id=None,
        instance_uuid=None, dev_id=f'pci_{address}', label='label')
