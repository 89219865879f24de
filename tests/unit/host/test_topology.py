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

"""Root ports and PCIe switches of GPUs, on boards like real servers."""

import os

from tests import base as test_base

from nova_gpu_ext.host import sysfs
from nova_gpu_ext.host import topology
from tests.unit.host import sysfs_tree


class TopologyTestCase(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        self.board = sysfs_tree.Board(self.tree)

    def paths(self):
        facts = sysfs.read_host(self.tree.root)
        return topology.pcie_paths(facts, facts.functions)

    def switches_of(self, gpus):
        paths = self.paths()
        return {a: paths[a].pcie_switch for a in gpus}


class TestSwitchServers(TopologyTestCase):

    def assert_grouped(self, layout):
        paths = self.paths()
        grouped = topology.per_switch(
            paths[a] for gpus in layout.values() for a in gpus)
        self.assertEqual(
            {switch: list(gpus) for switch, gpus in layout.items()},
            {s: [p.address for p in group] for s, group in grouped.items()})

    def test_two_switches_of_four_gpus(self):
        layout = sysfs_tree.switch_server(self.tree, 2, 4)
        self.assertEqual(['0000:01:00.0', '0000:41:00.0'], list(layout))
        self.assert_grouped(layout)

    def test_four_switches_of_two_gpus(self):
        layout = sysfs_tree.switch_server(self.tree, 4, 2)
        self.assertEqual(['0000:01:00.0', '0000:41:00.0', '0000:81:00.0',
                          '0000:c1:00.0'], list(layout))
        self.assert_grouped(layout)

    def test_four_switches_of_four_gpus(self):
        self.assert_grouped(sysfs_tree.switch_server(self.tree, 4, 4))

    def test_root_port_is_the_bridge_on_the_root_bus(self):
        layout = sysfs_tree.switch_server(self.tree, 2, 2)
        paths = self.paths()
        self.assertEqual(
            ('0000:40:01.1', ('0000:40:01.1', '0000:41:00.0',
                              '0000:42:01.0')),
            (paths['0000:44:00.0'].root_port, paths['0000:44:00.0'].bridges))
        self.assertEqual({'0000:41:00.0'},
                         set(self.switches_of(layout['0000:41:00.0'])
                             .values()))

    def test_switch_ports_themselves_are_not_behind_a_switch(self):
        sysfs_tree.switch_server(self.tree, 1, 2)
        paths = self.paths()
        self.assertEqual(
            (None, None, '0000:00:01.1', None),
            (paths['0000:00:01.1'].root_port, paths['0000:01:00.0']
             .pcie_switch, paths['0000:01:00.0'].root_port,
             paths['0000:02:00.0'].pcie_switch))

    def test_switch_holding_nics_too(self):
        layout = sysfs_tree.switch_server(self.tree, 2, 2, nics=2)
        facts = sysfs.read_host(self.tree.root)
        nic = facts.function('0000:46:00.0')
        self.assertEqual(('020000', '0000:41:00.0'),
                         (nic.class_code,
                          topology.pcie_path(facts, nic).pcie_switch))
        self.assert_grouped(layout)

    def test_audio_function_shares_the_gpus_switch(self):
        sysfs_tree.switch_server(self.tree, 2, 2, audio=True)
        paths = self.paths()
        self.assertEqual(
            ('0000:41:00.0', '0000:41:00.0'),
            (paths['0000:43:00.0'].pcie_switch,
             paths['0000:43:00.1'].pcie_switch))


class TestNoSwitch(TopologyTestCase):

    def test_gpus_straight_on_root_ports(self):
        gpus = [self.board.on_root_port(i) for i in range(4)]
        paths = self.paths()
        self.assertEqual({g: None for g in gpus}, self.switches_of(gpus))
        self.assertEqual(['0000:00:01.1', '0000:40:01.1', '0000:80:01.1',
                          '0000:c0:01.1'],
                         [paths[g].root_port for g in gpus])

    def test_gpu_on_the_root_bus_has_no_root_port(self):
        sysfs_tree.a100(self.tree)
        path = self.paths()['0000:41:00.0']
        self.assertEqual((None, None, ()),
                         (path.root_port, path.pcie_switch, path.bridges))

    def test_single_bridge_below_the_root_port_is_no_switch(self):
        root = self.board.root_port(0)
        bridge = self.board.add('0000:01:00.0', sysfs_tree.SWITCH_PORT,
                                sysfs_tree.BRIDGE, parent=root)
        gpu = self.board.gpu('0000:02:00.0', bridge, 0)
        self.assertEqual({gpu: None}, self.switches_of([gpu]))

    def test_mixed_server_groups_the_lone_gpus_under_none(self):
        layout = sysfs_tree.switch_server(self.tree, 1, 2)
        lone = self.board.on_root_port(3)
        grouped = topology.per_switch(self.paths()[g] for g in
                                      [lone, *layout['0000:01:00.0']])
        self.assertEqual([('0000:01:00.0', ['0000:03:00.0', '0000:04:00.0']),
                          (None, [lone])],
                         [(s, [p.address for p in g])
                          for s, g in grouped.items()])


class TestCascadedSwitches(TopologyTestCase):

    def test_topmost_switch_below_the_root_port_is_the_domain(self):
        """A GPU with its own switch (AMD cards) below a board switch."""
        upstream, [first, _] = self.board.switch(0, 2)
        paths = self.paths()
        port = paths[first].bridges[-1]
        card_up = self.board.add('0000:10:00.0', sysfs_tree.SWITCH_PORT,
                                 sysfs_tree.BRIDGE, parent=port)
        card_down = self.board.add('0000:11:00.0', sysfs_tree.SWITCH_PORT,
                                   sysfs_tree.BRIDGE, parent=card_up)
        gpu = self.board.gpu('0000:12:00.0', card_down, 0)
        self.assertEqual({gpu: upstream}, self.switches_of([gpu]))


class TestUnknownPath(TopologyTestCase):

    def test_unreadable_bridge_leaves_root_port_and_switch_unknown(self):
        layout = sysfs_tree.switch_server(self.tree, 1, 2)
        self.tree.replace('0000:02:00.0', 'class', b'bridge?\n')
        gpu = layout['0000:01:00.0'][0]
        path = self.paths()[gpu]
        self.assertEqual(('0000:02:00.0', None, None),
                         (path.unknown, path.root_port, path.pcie_switch))

    def test_parent_that_is_not_a_bridge_is_unknown(self):
        nic = self.board.add('0000:05:00.0', sysfs_tree.CONNECTX6,
                             sysfs_tree.ETHERNET)
        gpu = self.board.gpu('0000:06:00.0', nic, 0)
        self.assertEqual('0000:05:00.0', self.paths()[gpu].unknown)


class TestThisMachine(test_base.TestCase):
    """This machine's own /sys: every function gets a consistent path."""

    def test_every_function_resolves_to_a_path_of_bridges(self):
        facts = sysfs.read_host('/')
        listed = os.listdir('/sys/bus/pci/devices')
        self.assertEqual(sorted(a.lower() for a in listed
                                if sysfs.PCI_ADDRESS.match(a)),
                         sorted(f.address for f in facts.functions))
        paths = topology.pcie_paths(facts, facts.functions)
        for function in facts.functions:
            path = paths[function.address]
            real = os.path.realpath(
                os.path.join('/sys/bus/pci/devices', function.address))
            self.assertTrue(real.startswith('/sys/devices/pci'), real)
            self.assertEqual((_bridge_dirs(real), None),
                             (path.bridges, path.unknown), function.address)
            for bridge in path.bridges:
                self.assertTrue(facts.function(bridge).is_bridge, bridge)
            self.assertIn(path.root_port, (*path.bridges[:1], None))
            self.assertIn(path.pcie_switch, (*path.bridges[1:2], None))


def _bridge_dirs(real_path):
    """The function directories right above ``real_path``, topmost first.

    They end (going up) at the host bridge directory (``pci0000:00``).
    """
    bridges = []
    for name in reversed(real_path.split(os.sep)[:-1]):
        if not sysfs.PCI_ADDRESS.match(name):
            break
        bridges.insert(0, name.lower())
    return tuple(bridges)
