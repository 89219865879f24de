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

"""Options: the generated sample is current, list_opts is complete."""

import io
import os

from oslo_config import cfg
from oslo_config import generator

from nova_gpu_ext.common import opts
from tests import base as test_base


ROOT = test_base.ROOT
GENERATOR_CONF = os.path.join(ROOT, 'etc', 'nova-gpu-ext',
                              'nova-gpu-ext-config-generator.conf')


class TestSample(test_base.TestCase):

    def test_committed_sample_is_current(self):
        conf = cfg.ConfigOpts()
        generator.register_cli_opts(conf)
        conf(['--config-file', GENERATOR_CONF])
        with open(os.path.join(ROOT, conf.output_file)) as f:
            committed = f.read()
        fresh = io.StringIO()
        generator.generate(conf, output_file=fresh)
        self.assertEqual(committed, fresh.getvalue(),
                         'etc sample is stale: run "tox -e genconfig"')

    def test_list_opts_registers_on_a_private_conf(self):
        conf = cfg.ConfigOpts()
        for group, group_opts in opts.list_opts():
            conf.register_opts(group_opts, group=group)
        conf([])
        self.assertTrue(conf.nova_gpu_ext.same_model_default)
        self.assertEqual('prefer', conf.nova_gpu_ext.numa_default)
        self.assertEqual('any', conf.nova_gpu_ext.switch_default)
