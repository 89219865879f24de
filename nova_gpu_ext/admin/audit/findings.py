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

"""Which held ``pci_devices`` rows are stale, and why.

Pure: the rules work on plain dicts read by
:mod:`nova_gpu_ext.admin.audit.db`, so they can be read and tested
without a database.
"""

import dataclasses

INSTANCE_GONE = 'instance-gone'
INSTANCE_ELSEWHERE = 'instance-elsewhere'
ORPHAN_CLAIM = 'orphan-claim'

# The statuses that tie a device to an instance; only these can be stale.
HELD_STATUSES = ('allocated', 'claimed')

# Migration statuses after which a migration holds no devices any more: the
# list nova's migration_get_in_progress_by_host_and_node leaves out.
# 'finished' is not in it: a finished resize waits for confirm or revert and
# still holds devices on both hosts.
ENDED_MIGRATION_STATUSES = ('confirmed', 'reverted', 'error', 'failed',
                            'completed', 'cancelled', 'done')


@dataclasses.dataclass(frozen=True)
class Finding:
    """A stale row, with everything needed to report, free and restore it.

    ``device`` is the whole ``pci_devices`` row as it was read: freeing
    compares it with the row inside the transaction, and the backup keeps
    it to put the row back. ``node_uuid`` is the uuid of its compute node:
    with the device's own ``uuid`` it tells the database the row was read
    from from any other (row ids repeat across databases, uuids do not).
    """

    cell: str
    host: str
    node: str
    kind: str
    why: str
    device: dict
    node_uuid: str | None = None

    @property
    def model(self):
        return f"{self.device['vendor_id']}:{self.device['product_id']}"


def classify(device, location, instance, migrating):
    """Return ``(kind, why)`` when the row is stale, else None.

    :param device: the ``pci_devices`` row, status allocated or claimed.
    :param location: ``(host, node)`` of the device's compute node.
    :param instance: the ``instances`` row named by ``instance_uuid`` (keys
        host, node, deleted, task_state), or None when there is none.
    :param migrating: whether that instance has a migration in progress.

    An instance that is on another node is left alone while it has a
    migration in progress or a task_state set (an operation such as a
    resize or an evacuation may still bring it here or release the device
    itself).
    """
    uuid = device['instance_uuid']
    if uuid is None:
        if device['status'] == 'claimed':
            return ORPHAN_CLAIM, 'claimed without an instance'
        return INSTANCE_GONE, 'allocated without an instance'
    if instance is None:
        return INSTANCE_GONE, f'instance {uuid} does not exist'
    if instance['deleted']:
        return INSTANCE_GONE, f'instance {uuid} is deleted'
    if (instance['host'], instance['node']) == location:
        return None
    if migrating or instance['task_state']:
        return None
    where = (f"{instance['host']} ({instance['node']})" if instance['host']
             else 'no host')
    kind = (INSTANCE_ELSEWHERE if device['status'] == 'allocated'
            else ORPHAN_CLAIM)
    return kind, f'instance {uuid} is on {where}, no migration in progress'
