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

"""genconf output fed to nova's own parsers, in legacy and placement mode.

Given the test catalog, when genconf prints the lines of each role, then
nova's option definitions read every line, nova's Whitelist and alias
parser accept them, and each alias claims exactly the devices of its
model (a class alias exactly those of its models).
"""

import os

import fixtures
from nova.compute import pci_placement_translator as translator
from nova.conf import pci as nova_pci_conf
from nova.conf import scheduler as nova_scheduler_conf
from nova import exception
from nova import objects
from nova.pci import request
from nova.pci import stats
from nova.pci import whitelist
from nova.scheduler import filters
from nova.scheduler import weights
from nova import test
from oslo_config import cfg
import testscenarios

from tests.unit.cmd import cli
from tests.unit.common import catalog_files

# (address, vendor, product, dev_type); the NIC and the HDMI audio function
# must never be claimed by a GPU alias.
DEVICES = [
    ('0000:04:00.0', '10de', '11b4', 'type-PCI'),
    ('0000:05:00.0', '10de', '11b4', 'type-PCI'),
    ('0000:05:00.1', '10de', '0e0a', 'type-PCI'),
    ('0000:81:00.0', '10de', '1db4', 'type-PCI'),
    ('0000:82:00.0', '10de', '1db4', 'type-PCI'),
    ('0000:83:00.0', '10de', '1db4', 'type-PCI'),  # outside v100 addresses
    ('0000:c1:00.0', '10de', '20b5', 'type-PF'),
    ('0000:c2:00.0', '10de', '26b9', 'type-PF'),
    ('0000:c3:00.0', '10de', '26b9', 'type-PF'),
    ('0000:d1:00.0', '8086', '1572', 'type-PCI'),
]
EXPECTED = {
    'k4200': {'0000:04:00.0', '0000:05:00.0'},
    'v100': {'0000:81:00.0', '0000:82:00.0'},
    'a100': {'0000:c1:00.0'},
    'l40s-48g': {'0000:c2:00.0', '0000:c3:00.0'},
}
EXPECTED['pcie'] = EXPECTED['k4200'] | EXPECTED['v100']
EXPECTED['dc'] = EXPECTED['a100'] | EXPECTED['l40s-48g']


def genconf(catalog, *args):
    rc, out, err = cli.run('genconf', '--catalog', catalog, *args)
    assert rc == 0, err
    return out


class TestGenconfWithNova(testscenarios.WithScenarios, test.NoDBTestCase):

    scenarios = [('legacy', {'placement': False}),
                 ('placement', {'placement': True})]

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.flags(pci_in_placement=self.placement, group='filter_scheduler')
        request.get_alias_from_config.cache_clear()
        self.addCleanup(request.get_alias_from_config.cache_clear)
        self.catalog = catalog_files.write(self, catalog_files.GOOD)

    def read_with_nova_opts(self, role):
        """genconf's text read by a ConfigOpts holding nova's options."""
        args = ['--role', role] + (['--placement'] if self.placement else [])
        text = genconf(self.catalog, *args)
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        conf = cfg.ConfigOpts()
        nova_pci_conf.register_opts(conf)
        nova_scheduler_conf.register_opts(conf)
        conf(args=[], default_config_files=[path], default_config_dirs=[],
             use_env=False)
        sections = {}
        cfg.ConfigParser(path, sections).parse()
        values = {(section, option): conf[section][option]
                  for section, options in sections.items()
                  for option in options}
        return values

    def load_aliases(self, values):
        self.flags(alias=values['pci', 'alias'], group='pci')
        request.get_alias_from_config.cache_clear()
        return request.get_alias_from_config()

    def test_compute_lines_parse_and_each_alias_claims_its_devices(self):
        values = self.read_with_nova_opts('compute')
        self.assertEqual(self.placement,
                         values.get(('pci', 'report_in_placement'), False))
        dev_filter = whitelist.Whitelist(values['pci', 'device_spec'])
        aliases = self.load_aliases(values)
        self.assertEqual(set(EXPECTED), set(aliases))
        for name, (numa_policy, specs) in aliases.items():
            devices = self._candidates(dev_filter, specs)
            claimed = self._claim(dev_filter, devices, name, specs,
                                  len(EXPECTED[name]))
            self.assertEqual(EXPECTED[name], claimed, name)
            self.assertIsNone(self._claim(
                dev_filter, devices, name, specs, len(EXPECTED[name]) + 1),
                f'alias {name} claimed a device of another model')

    def test_controller_lines_parse(self):
        values = self.read_with_nova_opts('controller')
        self.assertEqual(set(EXPECTED), set(self.load_aliases(values)))
        self.assertEqual(
            self.placement,
            values.get(('filter_scheduler', 'pci_in_placement'), False))

    def test_scheduler_lines_load_the_filters_and_weighers(self):
        values = self.read_with_nova_opts('scheduler')
        self.assertEqual(set(EXPECTED), set(self.load_aliases(values)))
        loaded = filters.HostFilterHandler().get_matching_classes(
            values['filter_scheduler', 'available_filters'])
        names = {cls.__name__ for cls in loaded}
        enabled = values['filter_scheduler', 'enabled_filters']
        self.assertIn('GpuPassthroughFilter', enabled)
        self.assertNotIn('PciPassthroughFilter', enabled)
        self.assertEqual(set(), set(enabled) - names)
        weighers = weights.HostWeightHandler().get_matching_classes(
            values['filter_scheduler', 'weight_classes'])
        self.assertIn('GpuWeigher', {cls.__name__ for cls in weighers})

    def _candidates(self, dev_filter, specs):
        """The devices placement could offer for the alias.

        Resource class and traits as nova reports them; all devices in
        legacy mode.
        """
        devices = [_device(*d) for d in DEVICES]
        if not self.placement:
            return devices
        (spec,) = specs
        wanted_rc = translator.get_resource_class(
            spec.get('resource_class'), spec.get('vendor_id'),
            spec.get('product_id'))
        wanted_traits = translator.get_traits(spec.get('traits', ''))
        offered = []
        for dev in devices:
            devspec = dev_filter.get_devspec(dev)
            if devspec is None:
                continue
            tags = devspec.get_tags()
            if (translator._get_rc_for_dev(dev, tags) == wanted_rc
                    and wanted_traits <= translator._get_traits_for_dev(tags)):
                offered.append(dev)
        return offered

    @staticmethod
    def _claim(dev_filter, devices, name, specs, count):
        pci_stats = stats.PciDeviceStats(None, dev_filter=dev_filter)
        for dev in devices:
            pci_stats.add_device(dev)
        req = objects.InstancePCIRequest(
            count=count, spec=[dict(s) for s in specs], alias_name=name,
            request_id=None)
        try:
            claimed = pci_stats.consume_requests([req])
        except exception.PciDeviceRequestFailed:
            return None
        return {d.address for d in claimed}


def _device(address, vendor_id, product_id, dev_type):
    return objects.PciDevice(
        compute_node_id=1, address=address, vendor_id=vendor_id,
        product_id=product_id, dev_type=dev_type, status='available',
        numa_node=0, parent_addr=None, extra_info={}, request_id=None,
        instance_uuid=None, dev_id=f'pci_{address}', label='label')
