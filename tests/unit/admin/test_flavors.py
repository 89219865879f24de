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

"""The flavors the catalog asks for, and the plan from nova's flavors."""


from nova_gpu_ext.admin import flavors
from nova_gpu_ext.common import catalog
from tests import base as test_base


K4200 = catalog.GpuModel(
    name='k4200', vendor_id='10de', product_id='11b4', alias='quadro',
    description='Quadro K4200',
    flavor=catalog.FlavorSettings(counts=(1, 4), vcpus_per_gpu=4,
                                  ram_mb_per_gpu=8192,
                                  ephemeral_gb_per_gpu=100, disk_gb=30,
                                  hide_hypervisor_id=True))
V100 = catalog.GpuModel(name='v100', vendor_id='10de', product_id='1db4',
                        alias='v100')
WS = catalog.GpuClass(name='ws', models=('k4200', 'v100'), alias='ws',
                      flavor=catalog.FlavorSettings(counts=(1, 2),
                                                    gpu_numa='single'))
CATALOG = catalog.build([K4200, V100], [WS])


def wanted():
    return {f.name: f for f in flavors.desired(CATALOG)}


class TestDesired(test_base.TestCase):

    def test_one_flavor_per_count_models_first_none_without_counts(self):
        self.assertEqual(['gpu.k4200.x1', 'gpu.k4200.x4', 'gpu.ws.x1',
                          'gpu.ws.x2'],
                         [f.name for f in flavors.desired(CATALOG)])

    def test_cpu_ram_and_ephemeral_grow_per_gpu_root_disk_does_not(self):
        flavor = wanted()['gpu.k4200.x4']
        self.assertEqual((16, 32768, 30, 400), flavor.sizing)

    def test_model_flavor_specs(self):
        self.assertEqual({'nova_gpu_ext:managed': 'true',
                          'pci_passthrough:alias': 'quadro:4',
                          'hw:hide_hypervisor_id': 'true'},
                         wanted()['gpu.k4200.x4'].extra_specs)
        self.assertEqual('4 x Quadro K4200 (nova-gpu-ext)',
                         wanted()['gpu.k4200.x4'].description)

    def test_class_flavors_ask_for_one_model_when_more_than_one_gpu(self):
        self.assertEqual({'nova_gpu_ext:managed': 'true',
                          'pci_passthrough:alias': 'ws:2',
                          'gpu:same_model': 'true', 'gpu:numa': 'single'},
                         wanted()['gpu.ws.x2'].extra_specs)
        self.assertNotIn('gpu:same_model', wanted()['gpu.ws.x1'].extra_specs)

    def test_switch_policy_is_set_when_the_catalog_sets_it(self):
        four = catalog.GpuModel(
            name='l40s', vendor_id='10de', product_id='26b9', alias='l40s',
            flavor=catalog.FlavorSettings(counts=(4,), gpu_switch='single'))
        [flavor] = flavors.desired(catalog.build([four], []))
        self.assertEqual('single', flavor.extra_specs['gpu:switch'])
        self.assertNotIn('gpu:switch', wanted()['gpu.ws.x2'].extra_specs)

    def test_a_class_named_like_a_model_is_refused(self):
        clash = catalog.build([K4200], [catalog.GpuClass(
            name='k4200', models=('k4200',), alias='k',
            flavor=catalog.FlavorSettings(counts=(4,)))])
        exc = self.assertRaises(catalog.CatalogError, flavors.desired, clash)
        self.assertEqual(('gpu_class:k4200', 'flavor_counts', 4),
                         (exc.section, exc.option, exc.value))


def nova_flavor(target, **changes):
    """``target`` as nova would list it, with ``changes``."""
    fields = dict(name=target.name, vcpus=target.vcpus, ram=target.ram,
                  disk=target.disk, ephemeral=target.ephemeral,
                  description=target.description,
                  extra_specs=dict(target.extra_specs), id='id-' + target.name)
    fields.update(changes)
    return flavors.Flavor(**fields)


class TestPlan(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.target = wanted()['gpu.k4200.x1']

    def plan(self, *existing, prune=False):
        return flavors.plan([self.target], existing, prune)

    def test_missing_flavor_is_created(self):
        change, = self.plan()
        self.assertEqual(flavors.Action.CREATE, change.action)
        self.assertFalse(flavors.changes_made(self.plan(
            nova_flavor(self.target))))

    def test_same_flavor_is_unchanged(self):
        change, = self.plan(nova_flavor(self.target))
        self.assertEqual(flavors.Action.UNCHANGED, change.action)

    def test_changed_sizing_is_recreated(self):
        change, = self.plan(nova_flavor(self.target, ram=1024))
        self.assertEqual(flavors.Action.RECREATE, change.action)
        self.assertIn('deleted and created again', change.describe())

    def test_spec_changes_touch_only_our_keys(self):
        specs = dict(self.target.extra_specs)
        specs.update({'pci_passthrough:alias': 'quadro:2',
                      'gpu:numa': 'prefer', 'quota:cpu_shares': '10'})
        change, = self.plan(nova_flavor(self.target, extra_specs=specs))
        self.assertEqual((flavors.Action.UPDATE,
                          {'pci_passthrough:alias': 'quadro:1'},
                          ('gpu:numa',), None),
                         (change.action, change.set_specs,
                          change.unset_specs, change.description))

    def test_changed_description_is_updated(self):
        change, = self.plan(nova_flavor(self.target, description='old'))
        self.assertEqual((flavors.Action.UPDATE, self.target.description),
                         (change.action, change.description))

    def test_flavor_we_did_not_make_is_a_conflict(self):
        change, = self.plan(nova_flavor(self.target, extra_specs={}))
        self.assertEqual(flavors.Action.CONFLICT, change.action)
        self.assertFalse(flavors.changes_made([change]))

    def test_our_flavor_no_longer_wanted_is_kept_unless_pruning(self):
        ours = nova_flavor(wanted()['gpu.ws.x1'])
        theirs = nova_flavor(wanted()['gpu.ws.x2'], extra_specs={})
        kept = self.plan(nova_flavor(self.target), ours, theirs)
        pruned = self.plan(nova_flavor(self.target), ours, theirs,
                           prune=True)
        self.assertEqual([('gpu.k4200.x1', flavors.Action.UNCHANGED),
                          ('gpu.ws.x1', flavors.Action.KEEP)],
                         [(c.name, c.action) for c in kept])
        self.assertEqual(flavors.Action.DELETE, pruned[1].action)
        self.assertEqual(2, len(pruned))

    def test_summary_counts_in_action_order(self):
        changes = flavors.plan(list(wanted().values()),
                               [nova_flavor(self.target)], False)
        self.assertEqual('3 create, 1 unchanged', flavors.summary(changes))
