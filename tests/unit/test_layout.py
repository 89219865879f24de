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

"""The package is divided by where its code runs; these rules keep it so.

* The scheduler plugin (``nova_gpu_ext.scheduler``, ``nova_gpu_ext.api``,
  the pure core ``nova_gpu_ext.gpu`` and the scheduler options) runs in
  nova-scheduler and nova-api: it loads nothing of the operator tooling,
  the commands or the in-process nova harness.
* The pure scheduling core imports no nova and no oslo.config.
* The tooling is divided by where it runs: the compute-host side
  (``nova_gpu_ext.host``: sysfs, host checks, discovery) loads no database,
  openstacksdk, fleet or audit code; what both sides need lives in
  ``nova_gpu_ext.common``, which loads neither side; the admin side
  (``nova_gpu_ext.admin``) loads no host-reading code.
* ``nova_gpu_ext.conf`` holds only what nova services load.
* The operator tooling and the commands never load the harness; only the
  ``demo`` command does, when it runs.

Each rule is checked in a fresh interpreter, so modules imported by other
tests do not hide a violation.
"""

import json
import os
import subprocess
import sys

from tests import base as test_base


PLUGIN = ('nova_gpu_ext.scheduler.filters.gpu_passthrough',
          'nova_gpu_ext.scheduler.weights.gpu',
          'nova_gpu_ext.scheduler.filters',
          'nova_gpu_ext.scheduler.weights',
          'nova_gpu_ext.api.extra_specs')
CORE = ('nova_gpu_ext.gpu.claims', 'nova_gpu_ext.gpu.decision',
        'nova_gpu_ext.gpu.fit', 'nova_gpu_ext.gpu.inventory',
        'nova_gpu_ext.gpu.models', 'nova_gpu_ext.gpu.scoring')
TOOLING = ('nova_gpu_ext.admin', 'nova_gpu_ext.cmd', 'nova_gpu_ext.common',
           'nova_gpu_ext.host', 'nova_gpu_ext.harness')
HOST = ('nova_gpu_ext.host.sysfs', 'nova_gpu_ext.host.hostcheck',
        'nova_gpu_ext.host.discovery', 'nova_gpu_ext.host.health',
        'nova_gpu_ext.host.textfile')
COMMON = ('nova_gpu_ext.common.catalog', 'nova_gpu_ext.common.catalog_file',
          'nova_gpu_ext.common.catalog_opts', 'nova_gpu_ext.common.inifile',
          'nova_gpu_ext.common.opts', 'nova_gpu_ext.common.resource_classes',
          'nova_gpu_ext.common.vfio')
ADMIN = tuple(f'nova_gpu_ext.admin.{name}' for name in (
    'render', 'releases', 'lint', 'flavors', 'database', 'audit.actions',
    'cloud.connect', 'cloud.flavors', 'fleet.celldb', 'fleet.capacity',
    'fleet.explain', 'fleet.whatif', 'fleet.exporter', 'fleet.placement',
    'lifecycle', 'cloud.devices'))
# What a compute host's tooling must not need: databases, the cloud APIs,
# the fleet and the audit.
ADMIN_ONLY = ('nova_gpu_ext.admin', 'sqlalchemy', 'openstack', 'pymysql')

_LOADED_AFTER = '''
import json, sys
for name in sys.argv[1:]:
    __import__(name)
print(json.dumps(sorted(sys.modules)))
'''


def loaded_after_importing(*modules):
    """The module names a fresh interpreter holds after these imports."""
    out = subprocess.run(
        [sys.executable, '-c', _LOADED_AFTER, *modules], check=True,
        capture_output=True, text=True,
        env=dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING='1')).stdout
    return json.loads(out.splitlines()[-1])


def within(loaded, prefixes):
    return sorted(m for m in loaded
                  if any(m == p or m.startswith(p + '.') for p in prefixes))


class TestLayout(test_base.TestCase):

    def test_scheduler_plugin_loads_no_tooling_commands_or_harness(self):
        loaded = loaded_after_importing(*PLUGIN)
        self.assertIn('nova_gpu_ext.scheduler.filters.gpu_passthrough',
                      loaded)
        self.assertEqual([], within(loaded, TOOLING))

    def test_pure_core_imports_no_nova_and_no_oslo_config(self):
        loaded = loaded_after_importing(*CORE)
        self.assertIn('nova_gpu_ext.gpu.claims', loaded)
        self.assertEqual([], within(loaded, ('nova', 'oslo_config')))

    def test_tooling_loads_no_harness(self):
        loaded = loaded_after_importing(*HOST, *COMMON, *ADMIN)
        self.assertEqual([], within(loaded, ('nova_gpu_ext.harness',)))

    def test_host_side_loads_no_database_cloud_fleet_or_audit(self):
        loaded = loaded_after_importing(*HOST)
        self.assertIn('nova_gpu_ext.host.hostcheck', loaded)
        self.assertEqual([], within(loaded, ADMIN_ONLY))

    def test_common_loads_neither_side(self):
        loaded = loaded_after_importing(*COMMON)
        self.assertEqual([], within(loaded, ADMIN_ONLY + (
            'nova_gpu_ext.host', 'nova')))

    def test_admin_side_loads_no_host_reading(self):
        loaded = loaded_after_importing(*ADMIN)
        self.assertEqual([], within(loaded, ('nova_gpu_ext.host',)))

    def test_conf_holds_only_what_nova_services_load(self):
        package = os.path.join(test_base.ROOT, 'nova_gpu_ext', 'conf')
        self.assertEqual(['__init__.py', 'scheduler.py'], sorted(
            name for name in os.listdir(package) if name.endswith('.py')))
