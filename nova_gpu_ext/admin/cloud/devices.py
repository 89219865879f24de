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

"""GPU device providers in Placement: read them, and set ``reserved``.

nova names a device's provider ``<hypervisor>_<PCI address>``, a child of
the compute node's provider named ``<hypervisor>``, with the trait
``COMPUTE_MANAGED_PCI_DEVICE``. A device is read in three calls
(allocations, inventories, traits) and written in one PUT of its
inventory carrying the generation read first: placement refuses the PUT
(409) if anything changed the provider since, a new allocation included,
so a concurrent change is never overwritten.
"""

import concurrent.futures
import dataclasses
import logging
from urllib import parse

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin.fleet import placement
from nova_gpu_ext.admin import lifecycle
from nova_gpu_ext import exception

LOG = logging.getLogger(__name__)

# 1.26: reserved may equal total (a provider with no room left); older
# versions refuse such an inventory. Placement 2023.1 and later have it.
MICROVERSION = '1.26'


def _get(conn, path: str) -> dict:
    from openstack import exceptions as sdk_exc
    response = conn.placement.get(path, microversion=MICROVERSION)
    sdk_exc.raise_from_response(response)
    return response.json()


def _providers(conn, **query) -> list[dict]:
    return _get(conn, f'/resource_providers?{parse.urlencode(query)}'
                )['resource_providers']


def read(conn, host: str, rp: dict) -> lifecycle.Device:
    """One device provider of ``host``, at the generation read first."""
    uuid = rp['uuid']
    allocations = _get(conn, f'/resource_providers/{uuid}/allocations')
    inventories = _get(conn, f'/resource_providers/{uuid}/inventories')
    traits = _get(conn, f'/resource_providers/{uuid}/traits')['traits']
    rc, inventory = next(iter(inventories['inventories'].items()),
                         ('', {}))
    consumers = allocations['allocations']
    return lifecycle.Device(
        host=host, address=_address(host, rp['name']), provider=uuid,
        generation=allocations['resource_provider_generation'],
        resource_class=rc, inventory=inventory, traits=frozenset(traits),
        consumers=tuple(sorted(consumers)),
        used=sum(c['resources'].get(rc, 0) for c in consumers.values()))


def _address(host: str, name: str) -> str:
    prefix = f'{host}_'
    return name[len(prefix):] if name.startswith(prefix) else name


def _root(conn, host: str) -> dict:
    roots = _providers(conn, name=host)
    if not roots:
        raise exception.BadInput(
            f'HOST {host!r} has no resource provider in placement; give '
            'the hypervisor host name as openstack hypervisor list shows '
            'it')
    return roots[0]


def _children(conn, root: dict) -> list[dict]:
    return [rp for rp in _providers(conn, in_tree=root['uuid'],
                                    required=placement.PCI_TRAIT)
            if rp['uuid'] != root['uuid']]


def find(conn, host: str, address: str, back: bool) -> lifecycle.Device:
    """The device ``address`` of ``host``.

    :raises BadInput: no such host or device.
    :raises Refused: legacy mode (no PCI device of the host in placement);
        the message holds the steps by hand (``back``: to return it).
    """
    with connect.errors(conn):
        children = _children(conn, _root(conn, host))
        if not children:
            raise lifecycle.Refused(lifecycle.legacy_steps(host, address,
                                                           back))
        wanted = [rp for rp in children
                  if _address(host, rp['name']) == address]
        if not wanted:
            known = ', '.join(sorted(_address(host, rp['name'])
                                     for rp in children))
            raise exception.BadInput(
                f'{host} has no PCI device {address} in placement; its '
                f'devices: {known}')
        return read(conn, host, wanted[0])


def every(conn, host: str | None = None,
          workers: int = placement.WORKERS) -> list[lifecycle.Device]:
    """Every device provider, of one host or of all, by host and address.

    :raises Refused: none at all (legacy mode).
    """
    with connect.errors(conn):
        if host is not None:
            roots = {(root := _root(conn, host))['uuid']: host}
            providers = _children(conn, root)
        else:
            roots = {rp['uuid']: rp['name'] for rp in _providers(conn)}
            providers = _providers(conn, required=placement.PCI_TRAIT)
        if not providers:
            raise lifecycle.Refused(
                f'no PCI device of {host or "any host"} is in placement '
                '([pci] report_in_placement is off: legacy mode); gpu list '
                'needs placement mode, nova-gpu-ext capacity --nova-conf '
                'FILE reads the cell databases instead')
        with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
            found = list(pool.map(lambda rp: read(conn, roots.get(
                rp['root_provider_uuid'], rp['root_provider_uuid']), rp),
                providers))
    return sorted(found, key=lambda d: (d.host, d.address))


def set_reserved(conn, device: lifecycle.Device,
                 reserved: int) -> lifecycle.Device:
    """``reserved`` on the device's inventory, if its generation still holds.

    :raises Refused: the provider changed since it was read (HTTP 409);
        nothing was changed.
    """
    from openstack import exceptions as sdk_exc
    body = dict(device.inventory, reserved=reserved,
                resource_provider_generation=device.generation)
    path = (f'/resource_providers/{device.provider}/inventories/'
            f'{device.resource_class}')
    with connect.errors(conn):
        response = conn.placement.put(path, json=body,
                                      microversion=MICROVERSION)
        if response.status_code == 409:
            raise lifecycle.Refused(
                f'placement refused the change of {device.name}: its '
                f'provider {device.provider} changed since it was read '
                f'(generation {device.generation}); nothing was changed, '
                'look at it again with gpu list and run the command again')
        sdk_exc.raise_from_response(response)
    LOG.debug('%(device)s: reserved %(old)s -> %(new)s on %(rp)s',
              {'device': device.name, 'old': device.reserved,
               'new': reserved, 'rp': device.provider})
    return _with_reserved(device, reserved,
                          response.json()['resource_provider_generation'])


def _with_reserved(device: lifecycle.Device, reserved: int,
                   generation: int) -> lifecycle.Device:
    return dataclasses.replace(
        device, generation=generation,
        inventory=dict(device.inventory, reserved=reserved))
