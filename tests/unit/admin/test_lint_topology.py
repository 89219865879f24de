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

"""lint-conf's check of pcie_switch tags against the host's GPUs."""

import json

from tests import base as test_base

from nova_gpu_ext.admin import host_gpus
from nova_gpu_ext.admin import lint

A, B, LONE = '0000:03:00.0', '0000:43:00.0', '0000:81:00.0'
GPUS = [host_gpus.HostGpu(A, '10de', '26b9', '0000:01:00.0'),
        host_gpus.HostGpu(B, '10de', '26b9', '0000:41:00.0'),
        host_gpus.HostGpu(LONE, '10de', '26b9', None)]
MODEL = {'vendor_id': '10de', 'product_id': '26b9'}


def entry(spec, option='device_spec'):
    return lint.Entry('nova.conf', 'pci', option, json.dumps(spec))


def tagged(address, switch):
    return entry({**MODEL, 'address': address, 'pcie_switch': switch})


class TestCheckTopology(test_base.TestCase):

    def codes(self, entries, gpus=GPUS):
        return [(f.code, json.loads(f.entry.value).get('address'))
                for f in lint.check_topology(entries, gpus)]

    def test_entries_as_genconf_writes_them_are_clean(self):
        self.assertEqual([], self.codes([
            tagged(A, '0000:01:00.0'), tagged(B, '0000:41:00.0'),
            entry(MODEL)]))

    def test_tag_of_another_switch_is_a_mismatch_with_the_right_value(self):
        [finding] = lint.check_topology(
            [tagged(A, '0000:41:00.0'), tagged(B, '0000:41:00.0'),
             entry(MODEL)], GPUS)
        self.assertEqual('pcie-switch-mismatch', finding.code)
        self.assertIn('set "pcie_switch": "0000:01:00.0"', finding.fix)

    def test_tag_on_a_gpu_behind_no_switch_is_to_be_removed(self):
        [finding] = lint.check_topology(
            [tagged(LONE, '0000:01:00.0')], GPUS[2:])
        self.assertEqual(('pcie-switch-mismatch', 'remove the pcie_switch '
                          'tag'), (finding.code, finding.fix.split(',')[0]))

    def test_untagged_model_entry_lists_the_gpus_behind_switches(self):
        [finding] = lint.check_topology([entry(MODEL)], GPUS)
        self.assertEqual('pcie-switch-missing', finding.code)
        self.assertIn(f'(switch 0000:01:00.0: {A}; switch 0000:41:00.0: '
                      f'{B})', finding.problem)
        self.assertNotIn(LONE, finding.problem)

    def test_first_matching_entry_decides_as_in_nova(self):
        self.assertEqual(
            [('pcie-switch-missing', '0000:43:*.*')],
            self.codes([entry({**MODEL, 'address': '0000:43:*.*'}),
                        tagged(A, '0000:01:00.0'),
                        tagged(B, '0000:41:00.0')]))

    def test_tag_on_a_glob_or_an_absent_gpu(self):
        self.assertEqual(
            [('pcie-switch-without-address', '0000:03:*.*'),
             ('pcie-switch-no-such-gpu', '0000:c3:00.0'),
             ('pcie-switch-without-address', None)],
            self.codes([tagged('0000:03:*.*', '0000:01:00.0'),
                        tagged('0000:c3:00.0', '0000:c1:00.0'),
                        entry({**MODEL, 'pcie_switch': '0000:01:00.0'})]))

    def test_gpu_whose_path_is_unknown_cannot_be_verified(self):
        gpu = host_gpus.HostGpu(A, '10de', '26b9', None, path_known=False)
        self.assertEqual([('pcie-switch-unverified', A)],
                         self.codes([tagged(A, '0000:01:00.0')], [gpu]))

    def test_values_that_are_not_device_specs_are_left_to_check(self):
        self.assertEqual([], self.codes([
            lint.Entry('nova.conf', 'pci', 'device_spec', '{bad'),
            entry({**MODEL, 'pcie_switch': 'x'}, option='alias'),
            lint.Entry('nova.conf', 'pci', 'device_spec', '[1]')], []))
