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

"""A device provider's state, the refusals, and host health files.

The health files are the real output of ``check-host`` on synthetic
trees: the textfile and the ``-f json`` records.
"""

import json
import os

import fixtures
from tests import base as test_base
import testscenarios

from nova_gpu_ext.admin import lifecycle
from nova_gpu_ext.cmd import check_host
from nova_gpu_ext import exception
from nova_gpu_ext.host import health
from nova_gpu_ext.host import textfile
from tests.unit.cmd import cli
from tests.unit.host import sysfs_tree

OTU = {lifecycle.ONE_TIME_USE_TRAIT, 'COMPUTE_MANAGED_PCI_DEVICE'}
PLAIN = {'COMPUTE_MANAGED_PCI_DEVICE'}
GPU = '0000:03:00.0'


class TestState(testscenarios.WithScenarios, test_base.TestCase):

    # (total, reserved, used, traits) -> state
    scenarios = [
        ('free', dict(inv=(1, 0, 0, PLAIN), want='free')),
        ('in use', dict(inv=(1, 0, 1, PLAIN), want='in_use')),
        ('cordoned', dict(inv=(1, 1, 0, PLAIN), want='cordoned')),
        ('cordoned, draining', dict(inv=(1, 1, 1, PLAIN), want='cordoned')),
        ('one-time-use free', dict(inv=(1, 0, 0, OTU), want='free')),
        ('one-time-use in use', dict(inv=(1, 1, 1, OTU), want='in_use')),
        ('one-time-use used once', dict(inv=(1, 1, 0, OTU),
                                        want='awaiting_cleaning')),
        ('part of a PF reserved', dict(inv=(4, 2, 0, PLAIN), want='free')),
        ('no inventory', dict(inv=(0, 0, 0, PLAIN), want='free')),
    ]

    def test_state(self):
        self.assertEqual(self.want, lifecycle.state(*self.inv).value)


def device(traits=PLAIN, consumers=(), reserved=0):
    return lifecycle.Device(
        'gpu-a', '0000:81:00.0', 'rp-uuid', 3, 'CUSTOM_GPU_K4200',
        {'total': 1, 'reserved': reserved}, frozenset(traits),
        tuple(consumers), len(consumers))


class TestRefusals(test_base.TestCase):

    def test_uncordon_refuses_an_allocated_one_time_use_gpu(self):
        self.assertIn('still allocated to srv', lifecycle.uncordon_refusal(
            device(OTU, ['srv'], 1)))
        self.assertIsNone(lifecycle.uncordon_refusal(device(PLAIN, ['srv'],
                                                            1)))

    def test_release_only_a_one_time_use_gpu_nobody_holds(self):
        self.assertIn('not one-time-use',
                      lifecycle.release_refusal(device(PLAIN, (), 1)))
        self.assertIn('still allocated',
                      lifecycle.release_refusal(device(OTU, ['srv'], 1)))
        self.assertIsNone(lifecycle.release_refusal(device(OTU, (), 1)))

    def test_addresses_as_nova_names_them(self):
        self.assertEqual('0000:81:00.0', lifecycle.address('81:00.0'))
        self.assertEqual('0000:af:00.1', lifecycle.address('0000:AF:00.1'))
        for bad in ('81:00', '0000:81:00.8', 'gpu0', ''):
            self.assertRaises(exception.BadInput, lifecycle.address, bad)

    def test_reason_is_one_printable_line(self):
        self.assertEqual('fan noise', lifecycle.reason(' fan\nnoise '))
        for bad in ('', '  ', 'bell\x07'):
            self.assertRaises(exception.BadInput, lifecycle.reason, bad)

    def test_legacy_steps_name_host_address_and_restart(self):
        text = lifecycle.legacy_steps('gpu-a', '0000:81:00.0', back=False)
        self.assertEqual(1, len(text.splitlines()))
        for part in ('gpu-a', '0000:81:00.0', 'leave it out of addresses',
                     'genconf --role compute', 'restart nova-compute'):
            self.assertIn(part, text)
        self.assertIn('list it again in', lifecycle.legacy_steps(
            'gpu-a', '0000:81:00.0', back=True))


class TestOneVocabulary(test_base.TestCase):
    """The admin side cannot import the host side: the names must agree."""

    def test_health_check_names_and_metric_are_the_host_side_ones(self):
        self.assertEqual(tuple(name for name, _ in health.CHECKS),
                         lifecycle.HEALTH_CHECKS)
        self.assertEqual(f'{textfile.PREFIX}_health',
                         lifecycle.HEALTH_METRIC)
        self.assertEqual(textfile.FILE_NAME, check_host.TEXTFILE_NAME)
        self.assertEqual(lifecycle.STATUSES,
                         tuple(s.value for s in textfile.STATUS_VALUES))


class TestHealthFiles(test_base.TestCase):
    """What ``release --health`` reads: check-host's own output."""

    def setUp(self):
        super().setUp()
        self.tree = self.useFixture(sysfs_tree.SysfsTree())
        sysfs_tree.k4200(self.tree)
        self.tree.set_health(GPU)
        self.tree.set_health('0000:03:00.1')
        self.dir = self.useFixture(fixtures.TempDir()).path

    def textfile(self):
        cli.run('check-host', '--health', '--root', self.tree.root,
                '--textfile', self.dir)
        path = os.path.join(self.dir, textfile.FILE_NAME)
        with open(path) as f:
            return f.read()

    def json(self):
        _, rows, _ = cli.records('check-host', '--health', '--root',
                                 self.tree.root)
        return json.dumps(rows)

    def status(self, text):
        return lifecycle.health_status(text, 'FILE', GPU)

    def test_healthy_gpu_is_ok_in_both_formats(self):
        self.assertEqual(('ok', 'ok'),
                         (self.status(self.textfile()),
                          self.status(self.json())))

    def test_fault_of_the_gpu_is_a_problem_in_both_formats(self):
        self.tree.set_health(GPU, fatal=1)
        self.assertEqual(('problem', 'problem'),
                         (self.status(self.textfile()),
                          self.status(self.json())))

    def test_fault_of_a_companion_counts_for_its_gpu(self):
        self.tree.kill('0000:03:00.1')
        self.assertEqual(('problem', 'problem'),
                         (self.status(self.textfile()),
                          self.status(self.json())))

    def test_warning_is_not_ok(self):
        self.tree.set_health(GPU, reset_method=None)
        self.assertEqual('warning', self.status(self.json()))

    def test_file_of_another_host_is_bad_input(self):
        for text in (self.textfile(), self.json()):
            exc = self.assertRaises(exception.BadInput,
                                    lifecycle.health_status, text, 'FILE',
                                    '0000:81:00.0')
            self.assertIn('holds no health of GPU 0000:81:00.0', str(exc))

    def test_neither_format_is_bad_input(self):
        for text in ('{"a": 1}', 'not { metrics'):
            exc = self.assertRaises(exception.BadInput,
                                    lifecycle.health_status, text, 'FILE',
                                    GPU)
            self.assertIn('--health FILE', str(exc))
