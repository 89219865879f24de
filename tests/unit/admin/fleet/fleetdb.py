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

"""Cell databases holding GPU hosts as nova itself would record them.

Each host's devices are real ``objects.PciDevice`` values; its
``compute_nodes.pci_stats`` is what nova-compute writes for them: the
pools of nova's own ``PciDeviceStats`` (filled with ``add_device`` under a
``[pci] device_spec`` whitelist), serialized as ``ComputeNode`` does.
Devices that are not available are left out of the pools, or kept with
their count reduced, the way the compute's tracker leaves them.
"""

import uuid

from nova import objects
from nova.pci import stats
from nova.pci import whitelist
from oslo_serialization import jsonutils

from tests.unit.admin.audit import nova_db

objects.register_all()

K4200 = ('10de', '11b4')
V100 = ('10de', '1db4')
A100 = ('10de', '20f1')


def device(address, model, numa, status='available', dev_type='type-PCI',
           rp_uuid=None):
    """A PciDevice row's values (without ids); ``rp_uuid``: its provider."""
    return dict(address=address, vendor_id=model[0], product_id=model[1],
                numa_node=numa, status=status, dev_type=dev_type,
                dev_id='pci_' + address.replace(':', '_').replace('.', '_'),
                label=f'label_{model[0]}_{model[1]}',
                extra_info={'rp_uuid': rp_uuid} if rp_uuid else {})


def pci_stats(devices, device_spec=None):
    """``compute_nodes.pci_stats`` of these devices, made by nova.

    Every device joins its pool (so pool order is nova's); the ones that
    are not available are then taken out again, as consumed devices are:
    their pool stays, with a lower count. Devices whose ``extra_info``
    names their ``rp_uuid`` (placement mode) give their pools that
    provider, as nova-compute does.
    """
    specs = device_spec or [jsonutils.dumps(
        {'vendor_id': v, 'product_id': p})
        for v, p in sorted({(d['vendor_id'], d['product_id'])
                            for d in devices})]
    pci = stats.PciDeviceStats(None,
                               dev_filter=whitelist.Whitelist(specs))
    objs = []
    for values in devices:
        obj = objects.PciDevice(
            compute_node_id=1, parent_addr=None, request_id=None,
            instance_uuid=None, uuid=str(uuid.uuid4()),
            **{k: v for k, v in values.items() if k != 'status'},
            status='available')
        pci.add_device(obj)
        objs.append((obj, values['status']))
    if any('rp_uuid' in d.get('extra_info', {}) for d in devices):
        pci.populate_pools_metadata_from_assigned_devices()
    for pool in pci.pools:
        gone = [d for d in pool['devices']
                if dict((o.address, s) for o, s in objs)[d.address]
                != 'available']
        for dev in gone:
            pool['devices'].remove(dev)
            pool['count'] -= 1
    return jsonutils.dumps(pci.to_device_pools_obj().obj_to_primitive())


class FleetCell(nova_db.Cell):
    """A cell database with GPU compute hosts."""

    def gpu_host(self, host, devices, deleted_devices=(), device_spec=None):
        """A compute node with ``devices`` (dicts from :func:`device`).

        ``deleted_devices`` are soft-deleted rows of the same node: gone
        devices nova keeps a record of.
        """
        node_id = self.compute(host)
        self.update('compute_nodes', node_id,
                    pci_stats=pci_stats(devices, device_spec))
        for values in devices:
            self._row(node_id, values)
        for values in deleted_devices:
            row_id = self._row(node_id, values)
            self.update('pci_devices', row_id, deleted=row_id)
        return node_id

    def _row(self, node_id, values):
        return self._insert(
            'pci_devices', compute_node_id=node_id, uuid=str(uuid.uuid4()),
            **dict(values, extra_info='{}'))
