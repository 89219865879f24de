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

"""gpu:numa=single, prefer and any in the real nova-scheduler.

Two hosts: on 'split' the only way to give two K4200 splits them over the
NUMA nodes, and fills the host exactly; on 'local' two of its three K4200
share node 1. GpuWeigher's best fit prefers 'split' (nothing left over),
so the policy, not the weigher, decides where the first server goes:

* any: 'split' (NUMA does not filter, the fit wins);
* prefer: 'local', then 'split' once no host can keep one node;
* single: 'local', then no valid host.
"""

from tests.functional import base
from tests.functional.base import K4200


class NumaPoliciesMixin:

    def setUp(self):
        super().setUp()
        self.start_gpu_host('split', [(K4200, 0), (K4200, 1)])
        self.start_gpu_host('local', [(K4200, 1), (K4200, 1), (K4200, 1)])

    def boot_twice(self, numa):
        flavor = self.gpu_flavor('k4200:2', **{'gpu:numa': numa})
        first = self.claimed(self.boot(flavor))
        second = self.boot(flavor, expected_state=(
            'ERROR' if numa == 'single' else 'ACTIVE'))
        return first, second

    def test_any(self):
        first, _ = self.boot_twice('any')
        self.assertEqual(('split', [('K4200', 0), ('K4200', 1)]), first)

    def test_prefer(self):
        first, second = self.boot_twice('prefer')
        self.assertEqual(('local', [('K4200', 1), ('K4200', 1)]), first)
        self.assertEqual(('split', [('K4200', 0), ('K4200', 1)]),
                         self.claimed(second))
        self.assertIn('can keep it on one (gpu:numa=prefer)',
                      self.scheduler_log.output)

    def test_single(self):
        first, second = self.boot_twice('single')
        self.assertEqual(('local', [('K4200', 1), ('K4200', 1)]), first)
        self.assertIn('No valid host', second['fault']['message'])
        self.assertIn('split over NUMA nodes', self.scheduler_log.output)


class TestNumaPoliciesLegacy(NumaPoliciesMixin, base.GpuServersTestBase):
    pass


class TestNumaPoliciesPlacement(NumaPoliciesMixin, base.GpuServersTestBase):
    PLACEMENT = True
