"""A scheduler loop over real nova HostStates and nova's own handlers.

Each request goes through nova's ``HostFilterHandler`` and
``HostWeightHandler`` with real filter and weigher classes; the first host
is chosen as nova's scheduler does (``host_subset_size = 1``) and its
devices are consumed with nova's own ``PciDeviceStats.apply_requests`` on
the claimed candidate, then the host's pools are rebuilt in their original
order with 0-count pools kept, as a compute reports them.  Legacy mode
(no PCI providers in placement): every host has one root candidate.
"""

import collections
import dataclasses
import typing as ty

from nova import objects
from nova.pci import stats
from nova.scheduler import filters
from nova.scheduler import host_manager
from nova.scheduler import weights
from oslo_utils import uuidutils

from nova_gpu_ext.gpu import models

objects.register_all()


@dataclasses.dataclass(frozen=True)
class Gpu:
    """One whole GPU of a demo host."""

    model: models.ModelKey
    numa_node: int
    dev_type: str = 'type-PCI'


class Host:
    """A compute host: its devices in the compute's pool order."""

    def __init__(self, name: str, gpus: ty.Sequence[Gpu]):
        self.name = name
        self.pools = [
            {'vendor_id': g.model.vendor_id, 'product_id': g.model.product_id,
             'numa_node': g.numa_node, 'count': 1, 'dev_type': g.dev_type,
             'address': f'0000:{0x81 + i:02x}:00.0'}
            for i, g in enumerate(gpus)]
        self.state = host_manager.HostState(name, name,
                                            uuidutils.generate_uuid())
        self.report()

    def report(self):
        """Publish the pools to the scheduler view (a compute update)."""
        pools = [objects.PciDevicePool(
            vendor_id=p['vendor_id'], product_id=p['product_id'],
            numa_node=p['numa_node'], count=p['count'],
            tags={'dev_type': p['dev_type'], 'address': p['address']})
            for p in self.pools]
        self.state.pci_stats = stats.PciDeviceStats(
            None, stats=objects.PciDevicePoolList(objects=pools))
        self.state.allocation_candidates = [
            {'allocations': {}, 'mappings': {'': [self.name]}}]

    def claim(self, requests) -> list:
        """Consume with nova's code; return the pools taken, one per GPU."""
        mapping = self.state.allocation_candidates[0]['mappings']
        before = {p['address']: p['count'] for p in self.state.pci_stats.pools}
        self.state.pci_stats.apply_requests(requests, mapping)
        after = {p['address']: p['count'] for p in self.state.pci_stats.pools}
        taken = []
        for pool in self.pools:
            n = before.get(pool['address'], 0) - after.get(pool['address'], 0)
            pool['count'] -= n
            taken.extend([pool] * n)
        self.report()
        return taken

    def release(self, taken: ty.Iterable[dict]):
        for pool in taken:
            pool['count'] += 1
        self.report()

    def free(self) -> collections.Counter:
        return collections.Counter(
            {(models.model_of(p), p['numa_node']): p['count']
             for p in self.pools})


@dataclasses.dataclass
class Placement:
    host: Host | None
    taken: list

    @property
    def models(self) -> set:
        return {models.model_of(p) for p in self.taken}

    @property
    def numa_nodes(self) -> set:
        return {p['numa_node'] for p in self.taken}


class Scheduler:
    """Nova's handlers with a given set of filter and weigher classes."""

    def __init__(self, filter_classes, weigher_classes):
        self.filters = [cls() for cls in filter_classes]
        self.weighers = [cls() for cls in weigher_classes]
        self.filter_handler = filters.HostFilterHandler()
        self.weight_handler = weights.HostWeightHandler()

    def place(self, hosts: ty.Sequence[Host], spec) -> Placement:
        by_state = {id(h.state): h for h in hosts}
        for host in hosts:
            host.report()
        passed = self.filter_handler.get_filtered_objects(
            self.filters, [h.state for h in hosts], spec)
        if not passed:
            return Placement(None, [])
        best = self.weight_handler.get_weighed_objects(
            self.weighers, passed, spec)[0].obj
        host = by_state[id(best)]
        return Placement(host, host.claim(spec.pci_requests.requests))


@dataclasses.dataclass(frozen=True)
class Alias:
    """A ``[pci] alias`` as nova turns it into request specs."""

    name: str
    models: tuple[models.ModelKey, ...]
    dev_type: str = 'type-PCI'


def request_spec(items: ty.Sequence[tuple[Alias, int]],
                 extra_specs: ty.Mapping[str, str] | None = None):
    """A RequestSpec as nova-api builds it from ``alias:count`` items."""
    requests = [objects.InstancePCIRequest(
        count=count, alias_name=alias.name, numa_policy='legacy',
        request_id=uuidutils.generate_uuid(),
        spec=[{'vendor_id': m.vendor_id, 'product_id': m.product_id,
               'dev_type': alias.dev_type} for m in alias.models])
        for alias, count in items]
    return objects.RequestSpec(
        instance_uuid=uuidutils.generate_uuid(),
        pci_requests=objects.InstancePCIRequests(requests=requests),
        flavor=objects.Flavor(extra_specs=dict(extra_specs or {})),
        scheduler_hints={})
