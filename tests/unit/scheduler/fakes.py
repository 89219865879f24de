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

"""Real nova scheduler objects for the adapter tests (no mocks)."""

from nova import objects
from nova.pci import stats
from nova.scheduler import host_manager
from oslo_utils import uuidutils

objects.register_all()

K4200 = ('10de', '11b4')
V100 = ('10de', '1db4')
NIC = ('8086', '1572')
NIC_VF = '154c'
ROOT = 'root-rp'


def pool(model, numa=0, count=1, address=None, **tags):
    tags.setdefault('dev_type', 'type-PCI')
    if address:
        tags['address'] = address
    return objects.PciDevicePool(vendor_id=model[0], product_id=model[1],
                                 numa_node=numa, count=count, tags=tags)


def host(name, pools, candidates=None):
    """A HostState whose PCI stats hold ``pools`` in the given order.

    Nova sorts pools by their number of keys (stably); give every pool the
    same keys (an address, as real type-PCI pools have) to keep the order.
    """
    state = host_manager.HostState(name, name, uuidutils.generate_uuid())
    pools = [p if 'address' in p.tags else _addressed(p, i)
             for i, p in enumerate(pools)]
    state.pci_stats = stats.PciDeviceStats(
        None, stats=objects.PciDevicePoolList(objects=pools))
    state.allocation_candidates = (
        [{'allocations': {}, 'mappings': {'': [ROOT]}}]
        if candidates is None else candidates)
    return state


def _addressed(p, index):
    p.tags = dict(p.tags, address=f'0000:81:{index:02x}.0')
    return p


def request(count, *models, alias='gpu', request_id=None, **spec_extra):
    return objects.InstancePCIRequest(
        count=count, alias_name=alias, numa_policy='legacy',
        request_id=request_id or uuidutils.generate_uuid(),
        spec=[dict({'vendor_id': m[0], 'product_id': m[1]}, **spec_extra)
              for m in models])


def port_request(dev_type=None, physnet='physnet1', remote_managed=False):
    """An InstancePCIRequest as nova builds it for a neutron SR-IOV port.

    ``dev_type`` is None for a VF (vnic_type direct), ``type-PF`` for
    direct-physical and ``vdpa`` for vdpa ports.
    """
    spec = {'physical_network': physnet,
            'remote_managed': str(remote_managed)}
    if dev_type:
        spec['dev_type'] = dev_type
    return objects.InstancePCIRequest(
        count=1, request_id=uuidutils.generate_uuid(), spec=[spec])


def nic_pool(dev_type='type-VF', count=4, numa=0, physnet='physnet1',
             address='0000:3b:00.0', remote_managed='false', **tags):
    """A pool of an SR-IOV NIC as nova reports it: VFs grouped per PF."""
    return objects.PciDevicePool(
        vendor_id=NIC[0], product_id=NIC_VF if dev_type == 'type-VF'
        else NIC[1], numa_node=numa, count=count,
        tags=dict(tags, dev_type=dev_type, physical_network=physnet,
                  address=address, remote_managed=remote_managed))


def spec(*requests, extra_specs=None):
    return objects.RequestSpec(
        instance_uuid=uuidutils.generate_uuid(),
        pci_requests=objects.InstancePCIRequests(requests=list(requests)),
        flavor=objects.Flavor(extra_specs=extra_specs or {}),
        scheduler_hints={})


def candidate(req, *rps):
    """A placement-mode allocation candidate giving ``req`` these RPs."""
    groups = {f'{req.request_id}-{i}': [rp] for i, rp in enumerate(rps)}
    return {'allocations': {rp: {'resources': {}} for rp in rps},
            'mappings': {'': [ROOT], **groups}}
