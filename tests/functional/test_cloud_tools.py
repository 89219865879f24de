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

"""``flavors sync`` and ``capacity`` against the real in-process nova.

openstacksdk talks to the nova API and Placement of the harness through
the wsgi-intercepts of nova's OSAPIFixture and PlacementFixture; the
sub-commands run through ``nova-gpu-ext``'s main with only the connection
replaced (keystone is stubbed out: nova and placement read the user from
headers).
"""

import io
import json
from unittest import mock

import fixtures
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
from nova import objects
import openstack.connection
from openstack import service_description

from nova_gpu_ext.cmd import main
from tests.functional import base
from tests.unit import catalog_files

NVIDIA = '10de'
K4200_ID = '11b4'
V100_ID = '1db4'

# nova's OpenStackSDKFixture turns the placement proxy into a bare REST
# adapter for nova's own use; the commands need openstacksdk's real one.
REAL_MAKE_PROXY = service_description.ServiceDescription._make_proxy

CATALOG = """
[nova_gpu_ext]
gpu_models = k4200, v100
gpu_classes = ws

[gpu:k4200]
vendor_id = 10de
product_id = 11b4
description = Quadro K4200
flavor_counts = 1, 2
flavor_hide_hypervisor_id = true

[gpu:v100]
vendor_id = 10de
product_id = 1db4
flavor_counts = 1
flavor_ram_mb_per_gpu = 8192
flavor_disk_gb = 20

[gpu_class:ws]
models = k4200, v100
flavor_counts = 2
"""


class CloudToolsBase(base.GpuServersTestBase):
    """Per-model resource classes, as genconf renders them.

    ``CUSTOM_GPU_K4200`` and ``CUSTOM_GPU_V100`` in placement mode: the
    catalog of a cloud without classes.
    """

    def device_spec(self):
        tags = {}
        specs = []
        for name, product in (('K4200', K4200_ID), ('V100', V100_ID)):
            if self.PLACEMENT:
                tags = {'resource_class': f'CUSTOM_GPU_{name}'}
            specs.append(json.dumps(dict(vendor_id=NVIDIA,
                                         product_id=product, **tags)))
        return specs

    def aliases(self):
        aliases = []
        for name, product in (('k4200', K4200_ID), ('v100', V100_ID)):
            spec = dict(name=name, device_type='type-PCI',
                        vendor_id=NVIDIA, product_id=product)
            if self.PLACEMENT:
                spec['resource_class'] = f'CUSTOM_GPU_{name.upper()}'
            aliases.append(json.dumps(spec))
        return aliases

    def connection(self, roles='reader,member,admin'):
        """openstacksdk to the in-process nova API and Placement."""
        self.useFixture(fixtures.MonkeyPatch(
            'openstack.service_description.ServiceDescription._make_proxy',
            REAL_MAKE_PROXY))
        user = 'admin' if 'admin' in roles else 'demo'
        session = ks_session.Session(auth=noauth.NoAuth(), additional_headers={
            'X-Auth-User': user,
            'X-Auth-Project-Id': self.api_fixture.project_id,
            'X-Roles': roles,
            'X-Auth-Token': user,
        })
        return openstack.connection.Connection(
            session=session,
            compute_endpoint_override=self.api_fixture.base_url,
            placement_endpoint_override=self.placement_fixture.endpoint,
            placement_api_version='1')

    def cli(self, *argv, roles='reader,member,admin'):
        """(exit code, stdout, stderr) of ``nova-gpu-ext ARGV``."""
        out, err = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', err))
        with mock.patch('nova_gpu_ext.tooling.cloud.connect.connect',
                        return_value=self.connection(roles)):
            code = main.main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def catalog(self, text=CATALOG):
        return catalog_files.write(self, text)

    def flavors(self):
        """name -> (vcpus, ram, disk, ephemeral, extra specs) in nova."""
        return {f['name']: (f['vcpus'], f['ram'], f['disk'],
                            f['OS-FLV-EXT-DATA:ephemeral'],
                            f.get('extra_specs', {}))
                for f in self.api.api_get(
                    '/flavors/detail?is_public=none').body['flavors']}


class TestFlavorsSync(CloudToolsBase):

    def test_sync_creates_then_a_second_run_changes_nothing(self):
        path = self.catalog()
        code, out, _ = self.cli('flavors', 'sync', '--config-file', path)
        self.assertEqual(0, code, out)
        self.assertIn('done: 4 create', out)
        got = self.flavors()
        self.assertEqual(
            (16, 32768, 40, 0, {'nova_gpu_ext:managed': 'true',
                                'pci_passthrough:alias': 'k4200:2',
                                'hw:hide_hypervisor_id': 'true'}),
            got['gpu.k4200.x2'])
        self.assertEqual(
            (8, 8192, 20, 0, {'nova_gpu_ext:managed': 'true',
                              'pci_passthrough:alias': 'v100:1'}),
            got['gpu.v100.x1'])
        self.assertEqual(
            {'nova_gpu_ext:managed': 'true', 'pci_passthrough:alias': 'ws:2',
             'gpu:same_model': 'true'}, got['gpu.ws.x2'][4])

        code, out, _ = self.cli('flavors', 'sync', '--config-file', path)
        self.assertEqual(0, code)
        self.assertIn('nothing to change: 4 unchanged', out)
        self.assertEqual(got, self.flavors())

    def test_dry_run_changes_nothing(self):
        code, out, _ = self.cli('flavors', 'sync', '--dry-run',
                                '--config-file', self.catalog())
        self.assertEqual(0, code)
        self.assertIn('dry run, nothing changed: 4 create', out)
        self.assertFalse([n for n in self.flavors() if n.startswith('gpu.')])

    def test_changed_catalog_updates_specs_in_place_and_recreates_sizing(
            self):
        self.cli('flavors', 'sync', '--config-file', self.catalog())
        before = {f['name']: f['id'] for f in self.api.get_flavors()}
        changed = CATALOG.replace('flavor_hide_hypervisor_id = true',
                                  'flavor_gpu_numa = single').replace(
            'flavor_ram_mb_per_gpu = 8192', 'flavor_ram_mb_per_gpu = 4096')
        code, out, _ = self.cli('flavors', 'sync', '--config-file',
                                self.catalog(changed))
        self.assertEqual(0, code, out)
        self.assertIn('done: 1 recreate, 2 update, 1 unchanged', out)
        self.assertIn('nova cannot resize a flavor', out)
        got = self.flavors()
        self.assertEqual({'nova_gpu_ext:managed': 'true',
                          'pci_passthrough:alias': 'k4200:1',
                          'gpu:numa': 'single'}, got['gpu.k4200.x1'][4])
        self.assertEqual(4096, got['gpu.v100.x1'][1])
        after = {f['name']: f['id'] for f in self.api.get_flavors()}
        self.assertEqual(before['gpu.k4200.x1'], after['gpu.k4200.x1'])
        self.assertNotEqual(before['gpu.v100.x1'], after['gpu.v100.x1'])

    def test_prune_removes_only_our_flavors(self):
        self._create_flavor(name='gpu.handmade.x1', extra_spec={
            'pci_passthrough:alias': 'k4200:1'})
        self.cli('flavors', 'sync', '--config-file', self.catalog())
        smaller = CATALOG.replace('flavor_counts = 1, 2', 'flavor_counts = 1')
        code, out, _ = self.cli('flavors', 'sync', '--config-file',
                                self.catalog(smaller))
        self.assertEqual(0, code)
        self.assertIn('keep      gpu.k4200.x2', out)
        self.assertIn('gpu.k4200.x2', self.flavors())

        code, out, _ = self.cli('flavors', 'sync', '--prune',
                                '--config-file', self.catalog(smaller))
        self.assertEqual(0, code)
        self.assertIn('done: 3 unchanged, 1 delete', out)
        names = set(self.flavors())
        self.assertNotIn('gpu.k4200.x2', names)
        self.assertTrue({'gpu.handmade.x1', 'gpu.k4200.x1', 'gpu.v100.x1',
                         'gpu.ws.x2'} <= names)

    def test_foreign_flavor_of_the_same_name_is_left_alone(self):
        self._create_flavor(name='gpu.v100.x1', vcpu=1)
        code, out, _ = self.cli('flavors', 'sync', '--config-file',
                                self.catalog())
        self.assertEqual(1, code)
        self.assertIn('conflict  gpu.v100.x1: exists and was not made by '
                      'nova-gpu-ext', out)
        self.assertEqual(1, self.flavors()['gpu.v100.x1'][0])

    def test_forbidden_is_one_line_and_exit_1(self):
        code, out, err = self.cli('flavors', 'sync', '--config-file',
                                  self.catalog(), roles='reader,member')
        self.assertEqual(1, code)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('HTTP 403 on POST', err)
        self.assertIn('need the admin role', err)
        self.assertNotIn('Traceback', err)


class TestCapacity(CloudToolsBase):
    PLACEMENT = True

    def test_capacity_matches_the_devices_nova_claimed(self):
        k4200, v100 = base.K4200, base.V100
        self.start_gpu_host('gpu1', [(k4200, 0), (k4200, 0), (k4200, 1),
                                     (k4200, 1)])
        self.start_gpu_host('gpu2', [(v100, 0), (v100, 0), (k4200, 0)])
        servers = [self.boot(self.gpu_flavor('k4200:2')),
                   self.boot(self.gpu_flavor('v100:1'))]
        claimed = {}
        for server in servers:
            for dev in objects.PciDeviceList.get_by_instance_uuid(
                    self.ctxt, server['id']):
                key = (server['OS-EXT-SRV-ATTR:host'], dev.product_id)
                claimed[key] = claimed.get(key, 0) + 1

        code, out, err = self.cli('capacity', '--format', 'json',
                                  '--config-file', self.catalog())
        self.assertEqual(0, code, err)
        got = json.loads(out)
        used = {(h['host'], h['group']): h['used'] for h in got['hosts']
                if h['used']}
        name = {K4200_ID: 'k4200', V100_ID: 'v100'}
        self.assertEqual({(host, name[product]): n
                          for (host, product), n in claimed.items()}, used)
        hosts = {(h['host'], h['group']):
                 (h['total'], h['free'], h['largest'])
                 for h in got['hosts']}
        self.assertEqual({('gpu1', 'k4200'): (4, 2, 2),
                          ('gpu2', 'k4200'): (1, 1, 1),
                          ('gpu2', 'v100'): (2, 1, 1)}, hosts)
        k4200_total = next(g for g in got['groups'] if g['group'] == 'k4200')
        self.assertEqual({'1': 3, '2': 1}, k4200_total['fits'])

    def test_table_output(self):
        self.start_gpu_host('gpu1', [(base.K4200, 0), (base.K4200, 0)])
        self.boot(self.gpu_flavor('k4200:1'))
        code, out, _ = self.cli('capacity', '--config-file', self.catalog())
        self.assertEqual(0, code)
        self.assertIn('gpu1  k4200      2     1     1        1', out)


class TestCapacityWithoutPlacementInventory(CloudToolsBase):
    PLACEMENT = False

    def test_names_the_option_to_turn_on(self):
        self.start_gpu_host('gpu1', [(base.K4200, 0)])
        code, out, err = self.cli('capacity')
        self.assertEqual(1, code)
        self.assertEqual('', out)
        self.assertIn('[pci] report_in_placement = True', err)
