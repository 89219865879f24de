"""Read nova's PCI device providers from placement, through openstacksdk.

nova reports one provider per device with the trait
``COMPUTE_MANAGED_PCI_DEVICE`` when ``[pci] report_in_placement`` is on,
as a child of the compute node provider (named after the hypervisor).
Two calls per device: placement has no bulk inventory or usage listing.
"""

from nova_gpu_ext.gpu import capacity

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
