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

"""nova_gpu_ext loads the way an operator's nova.conf loads it."""

import importlib.metadata
import os
import subprocess
import sys
import tempfile

from nova.scheduler import filters
from nova import test

from nova_gpu_ext.scheduler.filters import gpu_passthrough

DIST = 'nova_gpu_ext'

_LOAD_ALL = f'''
import importlib.metadata as md
eps = [ep for ep in md.distribution({DIST!r}).entry_points]
for ep in eps:
    ep.load()
print(len(eps), sorted({{ep.group for ep in eps}}))
'''


class TestLoading(test.NoDBTestCase):

    def test_nova_filter_handler_finds_the_filter(self):
        classes = filters.HostFilterHandler().get_matching_classes([
            'nova.scheduler.filters.all_filters',
            'nova_gpu_ext.scheduler.filters.all_filters'])
        self.assertIn(gpu_passthrough.GpuPassthroughFilter, classes)
        names = [c.__name__ for c in classes]
        self.assertEqual(len(names), len(set(names)),
                         'a filter name clashes with a nova filter')

    def test_every_entry_point_loads_from_the_installed_package(self):
        # Run from an empty directory so the source tree is not on sys.path:
        # under tox the package is a normal (non-editable) install, and a
        # subpackage missing from it fails here.
        with tempfile.TemporaryDirectory() as cwd:
            out = subprocess.run(
                [sys.executable, '-c', _LOAD_ALL], cwd=cwd, check=True,
                capture_output=True, text=True,
                env=dict(os.environ, PYTHONPATH='')).stdout
        declared = importlib.metadata.distribution(DIST).entry_points
        self.assertEqual(str(len(declared)), out.split()[0])
        for group in ('console_scripts', 'nova.api.extra_spec_validators',
                      'nova_gpu_ext.filters', 'oslo.config.opts',
                      'nova_gpu_ext.cli', 'openstack.cli.extension',
                      'openstack.gpu.v1'):
            self.assertIn(group, out)
