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

"""Read nova's PCI device providers from placement, through openstacksdk.

nova reports one provider per device with the trait
``COMPUTE_MANAGED_PCI_DEVICE`` when ``[pci] report_in_placement`` is on,
as a child of the compute node provider (named after the hypervisor).
Two calls per device: placement has no bulk inventory or usage listing.
"""

from nova_gpu_ext.tooling import capacity

PCI_TRAIT = 'COMPUTE_MANAGED_PCI_DEVICE'


def pci_providers(conn) -> list[capacity.PciProvider]:
    """One PciProvider per PCI provider and resource class."""
    names = {rp.id: rp.name for rp in conn.placement.resource_providers()}
    result = []
    for rp in conn.placement.resource_providers(required=PCI_TRAIT):
        usages = conn.placement.fetch_resource_provider_usages(rp).usages
        host = names.get(rp.root_provider_id, rp.root_provider_id)
        for inv in conn.placement.resource_provider_inventories(rp):
            result.append(capacity.PciProvider(
                host=host, name=rp.name,
                resource_class=inv.resource_class, total=inv.total,
                reserved=inv.reserved or 0,
                used=(usages or {}).get(inv.resource_class, 0)))
    return result
