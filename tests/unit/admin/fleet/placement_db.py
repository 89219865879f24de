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

"""Placement databases with placement's own schema, as placement fills it.

The tables are created from ``placement.db.sqlalchemy.models`` (the
installed openstack-placement); a device provider is a child of its
compute node's provider with the trait ``COMPUTE_MANAGED_PCI_DEVICE``, one
unit of its resource class, and allocations of its consumers, as nova
reports and placement records them.
"""

import uuid

import fixtures
from placement.db.sqlalchemy import models
import sqlalchemy as sa

from nova_gpu_ext.admin.fleet import placement
from nova_gpu_ext.admin import lifecycle

RESOURCE_CLASS_ID = 10001
VCPU_ID = 0


class PlacementDb(fixtures.Fixture):
    """A placement database in an SQLite file; ``url`` names it."""

    def _setUp(self):
        path = self.useFixture(fixtures.TempDir()).join('placement.sqlite')
        self.url = f'sqlite:///{path}'
        self.engine = sa.create_engine(self.url)
        self.addCleanup(self.engine.dispose)
        models.BASE.metadata.create_all(self.engine)
        self._traits = {}
        self._insert(models.ResourceClass, id=RESOURCE_CLASS_ID,
                     name='CUSTOM_PCI_10DE_11B4')

    def _insert(self, model, **values) -> int:
        with self.engine.begin() as conn:
            return conn.execute(sa.insert(model.__table__).values(
                **values)).inserted_primary_key[0]

    def _trait(self, name: str) -> int:
        if name not in self._traits:
            self._traits[name] = self._insert(models.Trait, name=name)
        return self._traits[name]

    def compute(self, host: str) -> int:
        """A compute node's root provider, with CPUs (not a device)."""
        rp_id = self._insert(models.ResourceProvider, uuid=str(uuid.uuid4()),
                             name=host, generation=1)
        self._inventory(rp_id, VCPU_ID, total=16, reserved=0)
        return rp_id

    def device(self, root: int, name: str, *, reserved=0, used=0,
               one_time_use=False) -> str:
        """A GPU's provider under ``root``; its uuid."""
        rp_uuid = str(uuid.uuid4())
        rp_id = self._insert(models.ResourceProvider, uuid=rp_uuid, name=name,
                             generation=1, root_provider_id=root,
                             parent_provider_id=root)
        self._inventory(rp_id, RESOURCE_CLASS_ID, total=1, reserved=reserved)
        traits = [placement.PCI_TRAIT] + (
            [lifecycle.ONE_TIME_USE_TRAIT] if one_time_use else [])
        for trait in traits:
            self._insert(models.ResourceProviderTrait,
                         trait_id=self._trait(trait),
                         resource_provider_id=rp_id)
        if used:
            self._insert(models.Allocation, resource_provider_id=rp_id,
                         consumer_id=str(uuid.uuid4()),
                         resource_class_id=RESOURCE_CLASS_ID, used=used)
        return rp_uuid

    def _inventory(self, rp_id, rc_id, *, total, reserved):
        self._insert(models.Inventory, resource_provider_id=rp_id,
                     resource_class_id=rc_id, total=total, reserved=reserved,
                     min_unit=1, max_unit=total, step_size=1,
                     allocation_ratio=1.0)
