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

"""Rendering: what each role gets, per mode and release."""

import json


from nova_gpu_ext.admin import nova_parsers
from nova_gpu_ext.admin import releases
from nova_gpu_ext.admin import render
from nova_gpu_ext.common import catalog
from tests import base as test_base


K4200 = catalog.GpuModel('k4200', '10de', '11b4', alias='k4200',
                         resource_class='CUSTOM_GPU_K4200',
                         companions=('10de:0e0a',))
V100 = catalog.GpuModel('v100', '10de', '1db4', alias='v100',
                        resource_class='CUSTOM_GPU_V100')
PCIE = catalog.GpuClass('pcie', ('k4200', 'v100'), alias='pcie',
                        resource_class='CUSTOM_GPU_PCIE')
NEWEST = releases.parse(releases.NEWEST)


def options(lines):
    return [(line.section, line.option) for line in lines]


def values(lines, option):
    return [json.loads(line.value) for line in lines
            if line.option == option]


class TestNovaConf(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.catalog = catalog.build([K4200, V100], [PCIE])

    def test_compute_gets_device_spec_and_alias_only_in_legacy_mode(self):
        lines = render.nova_conf(self.catalog, 'compute', NEWEST, False)
        self.assertEqual({('pci', 'device_spec'), ('pci', 'alias')},
                         set(options(lines)))
        self.assertEqual([{'vendor_id': '10de', 'product_id': '11b4'},
                          {'vendor_id': '10de', 'product_id': '1db4'}],
                         values(lines, 'device_spec'))

    def test_class_alias_is_one_spec_per_model_in_legacy_mode(self):
        lines = render.nova_conf(self.catalog, 'controller', NEWEST, False)
        pcie = [a for a in values(lines, 'alias') if a['name'] == 'pcie']
        self.assertEqual([('11b4', 'type-PCI'), ('1db4', 'type-PCI')],
                         [(a['product_id'], a['device_type']) for a in pcie])

    def test_placement_mode_uses_the_class_resource_class(self):
        lines = render.nova_conf(self.catalog, 'compute', NEWEST, True)
        self.assertEqual({'CUSTOM_GPU_PCIE'}, {
            s['resource_class'] for s in values(lines, 'device_spec')})
        pcie = [a for a in values(lines, 'alias') if a['name'] == 'pcie']
        self.assertEqual([{'name': 'pcie', 'device_type': 'type-PCI',
                           'resource_class': 'CUSTOM_GPU_PCIE'}], pcie)
        self.assertIn(('pci', 'report_in_placement'), options(lines))

    def test_placement_mode_model_outside_classes_keeps_its_own_rc(self):
        lonely = catalog.build([K4200], [])
        lines = render.nova_conf(lonely, 'compute', NEWEST, True)
        self.assertEqual(['CUSTOM_GPU_K4200'], [
            s['resource_class'] for s in values(lines, 'device_spec')])

    def test_placement_mode_refuses_a_model_in_two_classes(self):
        other = catalog.GpuClass('other', ('k4200',), alias='other',
                                 resource_class='CUSTOM_GPU_OTHER')
        both = catalog.build([K4200, V100], [PCIE, other])
        exc = self.assertRaises(catalog.CatalogError, render.nova_conf,
                                both, 'compute', NEWEST, True)
        self.assertEqual(('gpu_class:other', 'models', 'k4200'),
                         (exc.section, exc.option, exc.value))

    def test_addresses_give_one_device_spec_each(self):
        model = catalog.GpuModel('v', '10de', '1db4', alias='v',
                                 addresses=('0000:81:*.*', '0000:82:*.*'))
        lines = render.nova_conf(catalog.build([model], []), 'compute',
                                 NEWEST, False)
        self.assertEqual(['0000:81:*.*', '0000:82:*.*'], [
            s['address'] for s in values(lines, 'device_spec')])

    def test_controller_gets_pci_in_placement_in_placement_mode(self):
        lines = render.nova_conf(self.catalog, 'controller', NEWEST, True)
        self.assertIn(('filter_scheduler', 'pci_in_placement'),
                      options(lines))
        self.assertNotIn(('pci', 'device_spec'), options(lines))

    def test_scheduler_enables_our_filter_instead_of_nova_s(self):
        lines = render.nova_conf(self.catalog, 'scheduler', NEWEST, False)
        by_option = {line.option: line.value for line in lines}
        enabled = by_option['enabled_filters'].split(',')
        self.assertEqual('GpuPassthroughFilter', enabled[-1])
        self.assertNotIn('PciPassthroughFilter', enabled)
        self.assertEqual(
            'nova.scheduler.weights.all_weighers,'
            'nova_gpu_ext.scheduler.weights.all_weighers',
            by_option['weight_classes'])
        self.assertEqual(list(render.AVAILABLE_FILTERS), [
            line.value for line in lines
            if line.option == 'available_filters'])

    def test_old_release_uses_old_option_names(self):
        lines = render.nova_conf(self.catalog, 'compute',
                                 releases.parse('newton'), False)
        self.assertEqual({('DEFAULT', 'pci_passthrough_whitelist'),
                          ('DEFAULT', 'pci_alias')}, set(options(lines)))

    def test_scheduler_role_refused_before_nova_34(self):
        exc = self.assertRaises(releases.ReleaseError, render.nova_conf,
                                self.catalog, 'scheduler',
                                releases.parse('2026.1'), False)
        self.assertIn('first in 2026.2', str(exc))

    def test_managed_refused_before_2025_1(self):
        model = catalog.GpuModel('k', '10de', '11b4', alias='k',
                                 managed=False)
        exc = self.assertRaises(
            releases.ReleaseError, render.nova_conf,
            catalog.build([model], []), 'compute',
            releases.parse('2024.2'), False)
        self.assertIn('managed tag (first in 2025.1)', str(exc))

    def test_live_migratable_goes_to_spec_and_alias(self):
        model = catalog.GpuModel('k', '10de', '11b4', alias='k',
                                 live_migratable=True)
        lines = render.nova_conf(catalog.build([model], []), 'compute',
                                 NEWEST, False)
        self.assertEqual(['true', 'true'], [
            v['live_migratable'] for v in values(lines, 'device_spec')
            + values(lines, 'alias')])

    def test_numa_policy_socket_refused_before_wallaby(self):
        model = catalog.GpuModel('k', '10de', '11b4', alias='k',
                                 numa_policy='socket')
        exc = self.assertRaises(
            releases.ReleaseError, render.nova_conf,
            catalog.build([model], []), 'controller',
            releases.parse('victoria'), False)
        self.assertIn('first in wallaby', str(exc))

    def test_format_groups_sections_with_comments(self):
        text = render.format_nova_conf(
            [render.Line('pci', 'alias', '{}', 'why'),
             render.Line('filter_scheduler', 'x', '1'),
             render.Line('pci', 'alias', '[]')], 'head')
        self.assertEqual('# head\n\n[pci]\n# why\nalias = {}\nalias = []\n'
                         '\n[filter_scheduler]\nx = 1\n', text)


class TestNovaParsesWhatIsRendered(test_base.TestCase):
    """Rendered lines go through nova's own parsers before they are given."""

    def test_a_placement_compute_starts_with_a_class_alias(self):
        """nova-compute checks its aliases by its own pci_in_placement."""
        lines = render.nova_conf(catalog.build([K4200, V100], [PCIE]),
                                 'compute', NEWEST, True)
        flags = [line.value for line in lines
                 if line.option == 'pci_in_placement']
        self.assertEqual(['True'], flags)
        aliases = [line.value for line in lines if line.option == 'alias']
        self.assertIsNone(nova_parsers.alias_error(aliases, True))
        self.assertIn('does not have vendor_id and product_id',
                      nova_parsers.alias_error(aliases, False))

    def test_address_nova_refuses_is_not_rendered(self):
        # A model built in code skips the catalog file's address check.
        model = catalog.GpuModel('v', '10de', '1db4', alias='v',
                                 addresses=('0000:zz:00.0',))
        exc = self.assertRaises(
            render.NovaRefusesError, render.nova_conf,
            catalog.build([model], []), 'compute', NEWEST, False)
        self.assertIn('nova refuses the rendered [pci] device_spec = '
                      '{"vendor_id": "10de", "product_id": "1db4", '
                      '"address": "0000:zz:00.0"} (Invalid [pci]device_spec '
                      "config: property bus ('zz') does not parse as a hex "
                      'number.)', str(exc))

    def test_alias_nova_refuses_is_named(self):
        lines = [render.Line('pci', 'alias', '{"name": "k", "vendor": "x"}')]
        exc = self.assertRaises(render.NovaRefusesError,
                                render.check_with_nova, lines, NEWEST, False)
        self.assertIn('[pci] alias = {"name": "k", "vendor": "x"} (Invalid '
                      'PCI alias definition: Additional properties are not '
                      "allowed ('vendor' was unexpected))", str(exc))

    def test_aliases_nova_refuses_together_are_refused(self):
        spec = ('{"name": "k", "device_type": "type-PCI", "vendor_id": '
                '"10de", "product_id": "%s"}')
        lines = [render.Line('pci', 'alias', spec % '11b4'),
                 render.Line('pci', 'alias', spec % '1db4')]
        render.check_with_nova(lines, NEWEST, False)
        exc = self.assertRaises(render.NovaRefusesError,
                                render.check_with_nova, lines, NEWEST, True)
        self.assertIn('[pci] alias lines together (The PCI alias(es) k have '
                      'multiple specs but [filter_scheduler]pci_in_placement '
                      'is True.',
                      str(exc))

    def test_every_role_and_mode_of_a_catalog_passes(self):
        for role in ('compute', 'controller', 'scheduler'):
            for placement in (False, True):
                render.nova_conf(catalog.build([K4200, V100], [PCIE]), role,
                                 NEWEST, placement)


class TestHostFiles(test_base.TestCase):

    def test_vfio_ids_include_companions_and_host_drivers_wait(self):
        blocks = render.host_files(catalog.build([K4200, V100], []), 'amd')
        cmdline, modprobe, modules = blocks
        self.assertEqual(('amd_iommu=on iommu=pt '
                          'vfio-pci.ids=10de:11b4,10de:1db4,10de:0e0a',),
                         cmdline.lines)
        self.assertIn('options vfio-pci ids=10de:11b4,10de:1db4,10de:0e0a',
                      modprobe.lines)
        self.assertIn('softdep nouveau pre: vfio-pci', modprobe.lines)
        self.assertIn('softdep snd_hda_intel pre: vfio-pci', modprobe.lines)
        self.assertIn('blacklist nouveau', modprobe.lines)
        self.assertIn('blacklist nvidia', modprobe.lines)
        self.assertNotIn('blacklist snd_hda_intel', modprobe.lines)
        self.assertEqual({'vfio', 'vfio_iommu_type1', 'vfio_pci'},
                         set(modules.lines))

    def test_model_with_addresses_is_bound_by_address_not_ids(self):
        """The example catalog's V100s: only 0000:81 and 0000:82."""
        v100 = catalog.GpuModel('v100', '10de', '1db4', companions=(
            '10de:10f2',), addresses=('0000:81:*.*', '82:00.'), alias='v100')
        a100 = catalog.GpuModel('a100', '10de', '20b5', alias='a100',
                                device_type='type-PF')
        cmdline, modprobe, _, udev = render.host_files(
            catalog.build([v100, a100], []), 'intel')
        self.assertEqual(('intel_iommu=on iommu=pt vfio-pci.ids=10de:20b5',),
                         cmdline.lines)
        self.assertIn('options vfio-pci ids=10de:20b5', modprobe.lines)
        self.assertIn('softdep nvidia pre: vfio-pci', modprobe.lines)
        self.assertEqual([], [line for line in modprobe.lines
                              if line.startswith('blacklist')])
        self.assertIn(render.UDEV_RULES, udev.title)
        self.assertEqual((
            'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:81:*.*", '
            'ATTR{vendor}=="0x10de", ATTR{device}=="0x1db4", '
            'ATTR{driver_override}="vfio-pci"',
            'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:81:*.*", '
            'ATTR{vendor}=="0x10de", ATTR{device}=="0x10f2", '
            'ATTR{driver_override}="vfio-pci"',
            'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="*:82:00.*", '
            'ATTR{vendor}=="0x10de", ATTR{device}=="0x1db4", '
            'ATTR{driver_override}="vfio-pci"',
            'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="*:82:00.*", '
            'ATTR{vendor}=="0x10de", ATTR{device}=="0x10f2", '
            'ATTR{driver_override}="vfio-pci"'), udev.lines)

    def test_only_addressed_models_leave_no_ids_line(self):
        v100 = catalog.GpuModel('v100', '10de', '1db4', alias='v100',
                                addresses=('0000:81:00.0',))
        cmdline, modprobe, _, _ = render.host_files(
            catalog.build([v100], []), 'intel')
        self.assertEqual(('intel_iommu=on iommu=pt',), cmdline.lines)
        self.assertFalse(any('ids=' in line for line in modprobe.lines))

    def test_companion_drivers_wait_only_when_there_are_companions(self):
        (_, modprobe, _) = render.host_files(catalog.build([V100], []),
                                             'intel')
        self.assertNotIn('softdep snd_hda_intel pre: vfio-pci',
                         modprobe.lines)
