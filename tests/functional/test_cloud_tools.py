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

"""``flavor sync`` and ``capacity`` against the real in-process nova.

``openstack gpu ...`` runs through openstackclient's own shell, and
``nova-gpu-ext`` through its cliff app, both in this process: openstacksdk
talks to the nova API and Placement of the harness through the
wsgi-intercepts of nova's OSAPIFixture and PlacementFixture, found
through a clouds.yaml like an operator's. Keystone is stubbed out: the
``admin_token`` auth type sends a token naming the user, which nova's
test context and placement's noauth2 middleware turn into its roles.
"""

import json

import fixtures
from nova import context as nova_context
from openstack import service_description
from wsgi_intercept import interceptor

from tests.functional import base
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

NVIDIA = '10de'
K4200_ID = '11b4'
V100_ID = '1db4'

# nova's OpenStackSDKFixture turns the placement proxy into a bare REST
# adapter for nova's own use; the commands need openstacksdk's real one.
REAL_MAKE_PROXY = service_description.ServiceDescription._make_proxy

# The users of the stubbed keystone: token -> roles.
ROLES = {'admin': 'reader,member,admin', 'member': 'reader,member'}

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

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'nova.api.auth.NovaKeystoneContext._create_context',
            self._context))
        self.clouds = self._clouds_yaml()

    def _operator(self):
        """What an operator's shell has, while a command runs.

        Only then: nova's own services also use openstacksdk and must keep
        nova's proxy and configuration.
        """
        return fixtures.CompoundFixture([
            fixtures.MonkeyPatch(
                'openstack.service_description.ServiceDescription.'
                '_make_proxy', REAL_MAKE_PROXY),
            cli.Clouds(self.clouds)])

    def _context(self, env, **kwargs):
        """nova's test context, from the token when the headers are absent.

        nova's OSAPIFixture reads X-Auth-User and X-Roles, which the test
        client sends and openstacksdk does not.
        """
        user = env.get('HTTP_X_AUTH_USER') or env['HTTP_X_AUTH_TOKEN']
        return nova_context.RequestContext(
            user, env.get('HTTP_X_AUTH_PROJECT_ID',
                          self.api_fixture.project_id),
            is_admin=user == 'admin',
            roles=env.get('HTTP_X_ROLES', ROLES[user]).split(','), **kwargs)

    def _clouds_yaml(self):
        """clouds.yaml text: one cloud per user of the stubbed keystone."""
        clouds = {user: {
            'auth_type': 'admin_token',
            'auth': {'endpoint': self.api_fixture.base_url, 'token': user},
            'compute_endpoint_override': self.api_fixture.base_url,
            'placement_endpoint_override': self.placement_fixture.endpoint,
            'placement_api_version': '1',
        } for user in ROLES}
        return json.dumps({'clouds': clouds})

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

    def openstack(self, *argv, user='admin'):
        """(exit status, stdout, stderr) of ``openstack ARGV``."""
        with self._operator():
            return cli.openstack('--os-cloud', user, *argv)

    def nova_gpu_ext(self, *argv, user='admin'):
        """(exit status, stdout, stderr) of ``nova-gpu-ext ARGV``."""
        with self._operator():
            return cli.run('--os-cloud', user, *argv)

    def catalog(self, text=CATALOG):
        return catalog_files.write(self, text)

    def flavors(self):
        """name -> (vcpus, ram, disk, ephemeral, extra specs) in nova."""
        return {f['name']: (f['vcpus'], f['ram'], f['disk'],
                            f['OS-FLV-EXT-DATA:ephemeral'],
                            f.get('extra_specs', {}))
                for f in self.api.api_get(
                    '/flavors/detail?is_public=none').body['flavors']}


def records(out):
    return {r['flavor']: (r['action'], r['detail']) for r in json.loads(out)}


class TestFlavorSync(CloudToolsBase):

    def test_sync_creates_then_a_second_run_changes_nothing(self):
        path = self.catalog()
        status, out, err = self.openstack('gpu', 'flavor', 'sync',
                                          '--catalog', path, '-f', 'json')
        self.assertEqual((0, 'done: 4 create\n'), (status, err))
        self.assertEqual({'gpu.k4200.x1', 'gpu.k4200.x2', 'gpu.v100.x1',
                          'gpu.ws.x2'}, set(records(out)))
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

        status, out, err = self.openstack('gpu', 'flavor', 'sync',
                                          '--catalog', path)
        self.assertEqual((0, 'nothing to change: 4 unchanged\n'),
                         (status, err))
        self.assertEqual(got, self.flavors())

    def test_nova_gpu_ext_runs_the_same_command(self):
        path = self.catalog()
        status, out, err = self.nova_gpu_ext('flavor', 'sync', '--catalog',
                                             path, '-f', 'json')
        self.assertEqual((0, 'done: 4 create\n'), (status, err))
        self.assertEqual({'create'}, {a for a, _ in records(out).values()})
        status, out, err = self.openstack('gpu', 'flavor', 'sync',
                                          '--catalog', path, '-f', 'json')
        self.assertEqual({'unchanged'},
                         {a for a, _ in records(out).values()})

    def test_dry_run_changes_nothing(self):
        status, out, err = self.openstack(
            'gpu', 'flavor', 'sync', '--dry-run', '--catalog',
            self.catalog(), '-f', 'value', '-c', 'action')
        self.assertEqual((0, 'create\n' * 4), (status, out))
        self.assertEqual('dry run, nothing changed: 4 create\n', err)
        self.assertFalse([n for n in self.flavors() if n.startswith('gpu.')])

    def test_changed_catalog_updates_specs_in_place_and_recreates_sizing(
            self):
        self.openstack('gpu', 'flavor', 'sync', '--catalog', self.catalog())
        before = {f['name']: f['id'] for f in self.api.get_flavors()}
        changed = CATALOG.replace('flavor_hide_hypervisor_id = true',
                                  'flavor_gpu_numa = single').replace(
            'flavor_ram_mb_per_gpu = 8192', 'flavor_ram_mb_per_gpu = 4096')
        status, out, err = self.openstack(
            'gpu', 'flavor', 'sync', '--catalog', self.catalog(changed),
            '-f', 'json')
        self.assertEqual((0, 'done: 1 recreate, 2 update, 1 unchanged\n'),
                         (status, err))
        action, detail = records(out)['gpu.v100.x1']
        self.assertEqual('recreate', action)
        self.assertIn('nova cannot resize a flavor', detail)
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
        self.openstack('gpu', 'flavor', 'sync', '--catalog', self.catalog())
        smaller = CATALOG.replace('flavor_counts = 1, 2', 'flavor_counts = 1')
        status, out, _ = self.openstack(
            'gpu', 'flavor', 'sync', '--catalog', self.catalog(smaller),
            '-f', 'json')
        self.assertEqual(0, status)
        self.assertEqual('keep', records(out)['gpu.k4200.x2'][0])
        self.assertIn('gpu.k4200.x2', self.flavors())

        status, out, err = self.openstack(
            'gpu', 'flavor', 'sync', '--prune', '--catalog',
            self.catalog(smaller))
        self.assertEqual((0, 'done: 3 unchanged, 1 delete\n'), (status, err))
        names = set(self.flavors())
        self.assertNotIn('gpu.k4200.x2', names)
        self.assertTrue({'gpu.handmade.x1', 'gpu.k4200.x1', 'gpu.v100.x1',
                         'gpu.ws.x2'} <= names)

    def test_foreign_flavor_of_the_same_name_is_left_alone_exit_1(self):
        self._create_flavor(name='gpu.v100.x1', vcpu=1)
        status, out, _ = self.openstack('gpu', 'flavor', 'sync', '--catalog',
                                        self.catalog(), '-f', 'json')
        self.assertEqual(1, status)
        action, detail = records(out)['gpu.v100.x1']
        self.assertEqual('conflict', action)
        self.assertIn('exists and was not made by nova-gpu-ext', detail)
        self.assertEqual(1, self.flavors()['gpu.v100.x1'][0])

    def test_forbidden_is_one_line(self):
        status, out, err = self.openstack('gpu', 'flavor', 'sync',
                                          '--catalog', self.catalog(),
                                          user='member')
        self.assertEqual((1, ''), (status, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('HTTP 403 on POST', err)
        self.assertIn('need the admin role', err)
        self.assertNotIn('Traceback', err)
        status, _, err = self.nova_gpu_ext('flavor', 'sync', '--catalog',
                                           self.catalog(), user='member')
        self.assertEqual(2, status, err)
        self.assertFalse([n for n in self.flavors() if n.startswith('gpu.')])

    def test_failure_after_changes_says_what_was_changed_exit_4(self):
        # nova refuses more than 2**31 - 1 vCPUs: the 8-GPU flavor fails
        # after the 1-GPU one was made.
        huge = CATALOG.replace('flavor_counts = 1, 2', 'flavor_counts = 1, 8'
                               '\nflavor_vcpus_per_gpu = 300000000')
        status, out, err = self.nova_gpu_ext(
            'flavor', 'sync', '--catalog', self.catalog(huge))
        self.assertEqual((4, ''), (status, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('create gpu.k4200.x8 failed: HTTP 400', err)
        self.assertIn('Already changed in nova: created gpu.k4200.x1.', err)
        self.assertIn('gpu.k4200.x1', self.flavors())
        self.assertNotIn('gpu.k4200.x8', self.flavors())


GLANCE = 'http://glance.test'
H100_BAR_BYTES = 128 * 2 ** 30 + 32 * 2 ** 20
H100_CATALOG = f"""
[nova_gpu_ext]
gpu_models = h100
[gpu:h100]
vendor_id = 10de
product_id = 2331
device_type = type-PF
bar_bytes = {H100_BAR_BYTES}
"""


def glance_app(images):
    """Glance's image API as openstacksdk reads it, over ``images``.

    ``images`` is nova's GlanceFixture's: the in-process cloud's images,
    which nova itself boots from; the harness has no Glance service.
    """
    def app(environ, start_response):
        path = environ['PATH_INFO'].rstrip('/')
        if path in ('', '/v2'):
            body = {'versions': [{'id': 'v2.16', 'status': 'CURRENT',
                                  'links': [{'rel': 'self',
                                             'href': f'{GLANCE}/v2/'}]}]}
        elif path == '/v2/images':
            body = {'images': [_glance_image(i) for i in images.values()]}
        else:
            start_response('404 Not Found', [])
            return [b'']
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [json.dumps(body).encode()]
    return app


def _glance_image(image):
    """A GlanceFixture image (nova's v1-style dict) as Glance v2 lists it."""
    return {'id': image['id'], 'name': image['name'],
            'status': image['status'], 'visibility': 'public',
            **{k: str(v) for k, v in image.get('properties', {}).items()}}


class TestLintFlavors(CloudToolsBase):
    """The done-when case: 4 x H100 with 1 TiB, made by hand in nova."""

    def setUp(self):
        super().setUp()
        intercept = interceptor.RequestsInterceptor(
            lambda: glance_app(self.glance.images), url=GLANCE)
        intercept.install_intercept()
        self.addCleanup(intercept.uninstall_intercept)
        clouds = json.loads(self.clouds)
        for cloud in clouds['clouds'].values():
            cloud['image_endpoint_override'] = f'{GLANCE}/v2/'
        self.clouds = json.dumps(clouds)

    def test_cloud_flavor_gets_the_finding_and_the_line(self):
        self._create_flavor(name='gpu.h100.x4', memory_mb=1024 * 1024,
                            vcpu=64, extra_spec={
                                'pci_passthrough:alias': 'h100:4'})
        path = self.catalog(H100_CATALOG)
        status, out, err = self.openstack(
            'gpu', 'lint-flavors', '--catalog', path, '--cloud',
            '--host-phys-bits', '46', '-f', 'json')
        self.assertEqual(1, status, err)
        found = json.loads(out)
        [flavor] = [f for f in found if f['flavor'] == 'gpu.h100.x4']
        self.assertEqual(
            ('address-space-too-small',
             'openstack flavor set --property hw:maxphysaddr_mode=emulate '
             '--property hw:maxphysaddr_bits=43 gpu.h100.x4'),
            (flavor['finding'], flavor['fix']))
        images = {f['image'] for f in found if f['image']}
        self.assertEqual({i['name'] for i in self.glance.images.values()},
                         images)

        self.api_fixture.admin_api.post_extra_spec(
            self._flavor_id('gpu.h100.x4'), {'extra_specs': {
                'hw:maxphysaddr_mode': 'emulate',
                'hw:maxphysaddr_bits': '43'}})
        for image in self.glance.images.values():
            image['properties'].update(hw_machine_type='q35',
                                       hw_firmware_type='uefi')
        status, out, err = self.nova_gpu_ext(
            'lint-flavors', '--catalog', path, '--cloud',
            '--host-phys-bits', '46', '-f', 'json')
        self.assertEqual((0, [], '0 finding(s)\n'),
                         (status, json.loads(out), err))

    def test_named_image_only(self):
        path = self.catalog(H100_CATALOG)
        image = next(iter(self.glance.images.values()))
        status, out, err = self.nova_gpu_ext(
            'lint-flavors', '--catalog', path, '--cloud', '--image',
            image['id'], '-f', 'json')
        self.assertEqual(1, status, err)
        self.assertEqual({image['name']},
                         {f['image'] for f in json.loads(out)})

    def test_image_name_of_several_images_is_bad_input(self):
        """GlanceFixture's images share their names."""
        path = self.catalog(H100_CATALOG)
        name = next(iter(self.glance.images.values()))['name']
        status, out, err = self.nova_gpu_ext(
            'lint-flavors', '--catalog', path, '--cloud', '--image', name)
        self.assertEqual((2, ''), (status, out))
        self.assertIn(f'--image {name}: more than one image', err)

    def _flavor_id(self, name):
        return next(f['id'] for f in self.api.api_get(
            '/flavors/detail?is_public=none').body['flavors']
            if f['name'] == name)
