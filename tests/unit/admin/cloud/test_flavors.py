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

"""Applying a sync plan: the openstacksdk calls, and nothing half-made."""

from unittest import mock


from nova_gpu_ext.admin.cloud import flavors as cloud_flavors
from nova_gpu_ext.admin import flavors
from nova_gpu_ext import exception
from tests import base as test_base


TARGET = flavors.Flavor(name='gpu.k4200.x1', vcpus=8, ram=16384, disk=40,
                        description='1 x k4200 (nova-gpu-ext)',
                        extra_specs={flavors.MANAGED_SPEC: 'true',
                                     flavors.ALIAS_SPEC: 'k4200:1'})
OLD = flavors.Flavor(name='gpu.k4200.x1', vcpus=4, ram=16384, disk=40,
                     extra_specs={flavors.MANAGED_SPEC: 'true'}, id='old')


class TestApply(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.conn = mock.Mock()

    def test_failed_extra_specs_delete_the_new_flavor_again(self):
        self.conn.compute.create_flavor_extra_specs.side_effect = \
            RuntimeError('400')
        self.assertRaises(RuntimeError, cloud_flavors.apply, self.conn,
                          flavors.Change(flavors.Action.CREATE, TARGET.name,
                                         TARGET))
        created = self.conn.compute.create_flavor.return_value
        self.conn.compute.delete_flavor.assert_called_once_with(
            created, ignore_missing=True)

    def test_recreate_deletes_the_old_flavor_before_creating(self):
        cloud_flavors.apply(self.conn, flavors.Change(
            flavors.Action.RECREATE, TARGET.name, TARGET, OLD))
        self.assertEqual(
            ['delete_flavor', 'create_flavor', 'create_flavor_extra_specs'],
            [c[0] for c in self.conn.compute.method_calls])
        self.conn.compute.create_flavor.assert_called_once_with(
            name='gpu.k4200.x1', vcpus=8, ram=16384, disk=40, ephemeral=0,
            description='1 x k4200 (nova-gpu-ext)', is_public=True)

    def test_update_sets_and_unsets_only_the_changed_keys(self):
        cloud_flavors.apply(self.conn, flavors.Change(
            flavors.Action.UPDATE, TARGET.name, TARGET, OLD,
            {flavors.ALIAS_SPEC: 'k4200:1'}, ('gpu:numa',)))
        self.conn.compute.create_flavor_extra_specs.assert_called_once_with(
            'old', {flavors.ALIAS_SPEC: 'k4200:1'})
        (self.conn.compute.delete_flavor_extra_specs_property
         .assert_called_once_with('old', 'gpu:numa'))
        self.conn.compute.update_flavor.assert_not_called()

    def test_unchanged_calls_nothing(self):
        cloud_flavors.apply(self.conn, flavors.Change(
            flavors.Action.UNCHANGED, TARGET.name, TARGET, OLD))
        self.assertEqual([], self.conn.compute.method_calls)

    def test_failure_after_a_change_says_what_was_changed(self):
        self.conn.compute.create_flavor.side_effect = [
            mock.Mock(), RuntimeError('boom')]
        second = flavors.Flavor(name='gpu.k4200.x2', vcpus=16, ram=32768,
                                disk=40)
        exc = self.assertRaises(
            exception.ChangedThenFailed, cloud_flavors.sync, self.conn,
            [flavors.Change(flavors.Action.CREATE, TARGET.name, TARGET),
             flavors.Change(flavors.Action.CREATE, second.name, second)])
        self.assertEqual(4, exc.exit_status)
        self.assertIn('create gpu.k4200.x2 failed: boom. Already changed in '
                      'nova: created gpu.k4200.x1.', str(exc))

    def test_recreate_that_fails_after_the_delete_says_so(self):
        self.conn.compute.create_flavor.side_effect = RuntimeError('boom')
        exc = self.assertRaises(
            exception.ChangedThenFailed, cloud_flavors.sync, self.conn,
            [flavors.Change(flavors.Action.RECREATE, TARGET.name, TARGET,
                            OLD)])
        self.assertIn('Already changed in nova: deleted gpu.k4200.x1 (4 '
                      'vCPU', str(exc))

    def test_failure_before_any_change_keeps_its_class(self):
        self.conn.compute.create_flavor.side_effect = RuntimeError('boom')
        self.assertRaises(
            RuntimeError, cloud_flavors.sync, self.conn,
            [flavors.Change(flavors.Action.CREATE, TARGET.name, TARGET)])
