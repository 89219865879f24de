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

"""``flavors sync`` and ``capacity``: exit codes and messages.

Without a cloud; the functional tests run them against nova and placement.
"""

import contextlib
import io
import os
from unittest import mock

import fixtures
import testtools

from nova_gpu_ext.cmd import main
from nova_gpu_ext.tooling import capacity
from tests.unit import catalog_files

CLOUD_ENV = ('OS_CLOUD', 'OS_AUTH_URL', 'OS_AUTH_TYPE', 'OS_REGION_NAME',
             'OS_PLACEMENT_ENDPOINT_OVERRIDE', 'OS_PLACEMENT_API_VERSION')


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


class CliTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # No clouds.yaml or OS_* variables of the machine running the tests.
        clouds = os.path.join(self.useFixture(fixtures.TempDir()).path,
                              'clouds.yaml')
        with open(clouds, 'w') as f:
            f.write('clouds: {}\n')
        self.useFixture(fixtures.EnvironmentVariable('OS_CLIENT_CONFIG_FILE',
                                                     clouds))
        for name in CLOUD_ENV:
            self.useFixture(fixtures.EnvironmentVariable(name))

    def catalog(self, text=catalog_files.MINIMAL + 'flavor_counts = 1\n'):
        return catalog_files.write(self, text)


class TestFlavorsSync(CliTest):

    def test_bad_catalog_is_a_usage_error(self):
        rc, _, err = run('flavors', 'sync', '--config-file', self.catalog(
            catalog_files.MINIMAL + 'flavor_counts = none\n'))
        self.assertEqual(2, rc)
        self.assertIn('bad catalog: [gpu:k4200] flavor_counts = none', err)

    def test_catalog_without_models_is_a_usage_error(self):
        rc, _, err = run('flavors', 'sync', '--config-file',
                         self.catalog(''))
        self.assertEqual(2, rc)
        self.assertIn('lists no GPU models', err)

    def test_unknown_cloud_is_one_line_and_exit_1(self):
        rc, out, err = run('flavors', 'sync', '--os-cloud', 'nope',
                           '--config-file', self.catalog())
        self.assertEqual((1, '', 'nova-gpu-ext flavors sync: error: Cloud '
                                 'nope was not found.\n'), (rc, out, err))


class TestCapacity(CliTest):

    def test_unreachable_placement_is_one_line_and_exit_1(self):
        # Port 9 (discard) on localhost refuses at once.
        for name, value in (('OS_AUTH_TYPE', 'none'),
                            ('OS_PLACEMENT_ENDPOINT_OVERRIDE',
                             'http://127.0.0.1:9/placement'),
                            ('OS_PLACEMENT_API_VERSION', '1')):
            self.useFixture(fixtures.EnvironmentVariable(name, value))
        rc, _, err = run('capacity')
        self.assertEqual(1, rc)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('cannot reach the cloud', err)
        self.assertIn('http://127.0.0.1:9/placement', err)

    def providers(self, *providers):
        self.useFixture(fixtures.MockPatch(
            'nova_gpu_ext.tooling.cloud.connect.connect'))
        self.useFixture(fixtures.MockPatch(
            'nova_gpu_ext.tooling.cloud.capacity.pci_providers',
            return_value=list(providers)))

    def test_no_pci_inventory_names_the_option(self):
        self.providers()
        rc, out, err = run('capacity')
        self.assertEqual((1, ''), (rc, out))
        self.assertIn('set [pci] report_in_placement = True', err)

    def test_no_catalog_gpu_among_the_providers(self):
        self.providers(capacity.PciProvider('h1', 'h1_0000:81:00.0',
                                            'CUSTOM_NIC', 1))
        rc, _, err = run('capacity', '--config-file', self.catalog())
        self.assertEqual(1, rc)
        self.assertIn('(found CUSTOM_NIC)', err)

    def test_table_names_catalog_models(self):
        self.providers(capacity.PciProvider('h1', 'h1_0000:81:00.0',
                                            'CUSTOM_PCI_10DE_11B4', 1))
        rc, out, _ = run('capacity', '--config-file', self.catalog())
        self.assertEqual(0, rc)
        self.assertIn('h1    k4200      1     0     1        1', out)
        self.assertIn('FIT x1\n', out)


class TestWithoutOpenstacksdk(CliTest):

    def test_missing_sdk_is_one_line(self):
        with mock.patch.dict('sys.modules', {'openstack': None}):
            rc, _, err = run('capacity')
        self.assertEqual(1, rc)
        self.assertIn("pip install 'nova_gpu_ext[cloud]'", err)
