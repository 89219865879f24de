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

"""The demo's in-process cloud shows the contrast it is there to show."""

import testtools

from nova_gpu_ext.harness import cloud
from nova_gpu_ext.harness import scenario


class TestDemoStream(testtools.TestCase):

    def test_nova_mixes_and_splits_nova_gpu_ext_does_not(self):
        in_tree = cloud.run_stream(ours=False)
        ours = cloud.run_stream(ours=True)
        self.assertEqual(len(scenario.STREAM), len(ours))
        self.assertGreater(sum(o.mixed for o in in_tree), 0)
        self.assertEqual(0, sum(o.mixed for o in ours))
        # The 4-GPU server fits only where small requests did not
        # fragment the hosts.
        x4 = [i for i, (name, _, _) in enumerate(scenario.STREAM)
              if name == 'gpu.x4']
        self.assertIsNone(in_tree[x4[0]].host)
        self.assertIsNotNone(ours[x4[0]].host)
        table = scenario.table({'nova in-tree': in_tree,
                                'nova_gpu_ext': ours})
        self.assertIn('MIXED MODELS', table)
        self.assertIn('nova_gpu_ext  mixed-model servers: 0', table)
