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

"""A scheduler loop over real nova HostStates and nova's own handlers.

Each request goes through nova's ``HostFilterHandler`` and
``HostWeightHandler`` with real filter and weigher classes; the first host
is chosen as nova's scheduler does (``host_subset_size = 1``) and its
devices are consumed with nova's own ``PciDeviceStats.apply_requests`` on
the claimed candidate, then the host's pools are rebuilt in their original
order with 0-count pools kept, as a compute reports them.  Legacy mode
(no PCI providers in placement): every host has one root candidate.

Placement mode (``placement=True``): every GPU is a resource provider with
one unit of inventory, its pool carries ``rp_uuid``, and each request gets
the allocation candidates placement would return for its request groups
(one group per device, ``<request_id>-<i>``): every combination of free
providers that match, in provider order, at most ``candidate_limit`` per
host, like placement's ``max_allocation_candidates``.
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

from nova_gpu_ext.admin.fleet import candidates
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models

objects.register_all()

# Placement-mode inventory of the sim's GPUs: one resource class for every
# model (so an alias can ask for any GPU) and one trait per model (so an
# alias can ask for one model), the way an operator sets up a class alias
# when multi-spec aliases are refused in placement mode.
RESOURCE_CLASS = 'CUSTOM_GPU'
# Allocation candidates per host and request; placement returns the
# combinations in provider order, and the cap stands for
# ``[placement] max_allocation_candidates`` spread over hosts.
CANDIDATE_LIMIT = 20


# Pool keys that are PciDevicePool fields; the others travel as tags.
POOL_FIELDS = frozenset(('vendor_id', 'product_id', 'numa_node', 'count'))


def model_trait(model: models.ModelKey) -> str:
    return f'CUSTOM_GPU_{model.vendor_id}_{model.product_id}'.upper()


@dataclasses.dataclass(frozen=True)
class Gpu:
    """One whole GPU of a demo host, under a PCIe switch or none."""

    model: models.ModelKey
    numa_node: int
    dev_type: str = 'type-PCI'
    pcie_switch: str | None = None


class Host:
    """A compute host: its devices in the compute's pool order."""

    def __init__(self, name: str, gpus: ty.Sequence[Gpu],
                 placement: bool = False,
                 candidate_limit: int = CANDIDATE_LIMIT):
        self.name = name
        self.placement = placement
        self.candidate_limit = candidate_limit
        self.pools = [self._pool(name, i, g, placement)
                      for i, g in enumerate(gpus)]
        self.state = host_manager.HostState(name, name,
                                            uuidutils.generate_uuid())
        self.report()

    @staticmethod
    def _pool(name: str, index: int, gpu: Gpu, placement: bool) -> dict:
        address = f'0000:{0x81 + index:02x}:00.0'
        pool = {'vendor_id': gpu.model.vendor_id,
                'product_id': gpu.model.product_id,
                'numa_node': gpu.numa_node, 'count': 1,
                'dev_type': gpu.dev_type, 'address': address}
        if gpu.pcie_switch:
            pool[claims.PCIE_SWITCH] = gpu.pcie_switch
        if placement:
            pool.update(rp_uuid=f'{name}_{address}',
                        resource_class=RESOURCE_CLASS,
                        traits=model_trait(gpu.model))
        return pool

    def report(self):
        """Publish the pools to the scheduler view (a compute update)."""
        pools = [objects.PciDevicePool(
            vendor_id=p['vendor_id'], product_id=p['product_id'],
            numa_node=p['numa_node'], count=p['count'],
            tags={k: v for k, v in p.items() if k not in POOL_FIELDS})
            for p in self.pools]
        self.state.pci_stats = stats.PciDeviceStats(
            None, stats=objects.PciDevicePoolList(objects=pools))
        self.offer(None)

    def offer(self, spec):
        """Set the allocation candidates placement returns for ``spec``."""
        self.state.allocation_candidates = self.candidates(spec)

    def candidates(self, spec) -> list:
        requests = _field(_field(spec, 'pci_requests'), 'requests') or []
        if not self.placement or not requests:
            return [{'allocations': {},
                     'mappings': {candidates.ROOT: [self.name]}}]
        wanted = [claims.DeviceRequest(r.count, tuple(r.spec), r.request_id)
                  for r in requests]
        return [{'allocations': {rp: {'resources': {RESOURCE_CLASS: 1}}
                                 for group, [rp] in mapping.items()
                                 if group != candidates.ROOT},
                 'mappings': mapping}
                for mapping in candidates.mappings(
                    wanted, self.pools, self.candidate_limit, self.name)]

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


def _field(obj, name):
    if obj is None or not obj.obj_attr_is_set(name):
        return None
    return getattr(obj, name)


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
            host.offer(spec)
        # Placement returns no host it has no allocation candidate for.
        offered = [h.state for h in hosts if h.state.allocation_candidates]
        passed = self.filter_handler.get_filtered_objects(
            self.filters, offered, spec)
        if not passed:
            return Placement(None, [])
        best = self.weight_handler.get_weighed_objects(
            self.weighers, passed, spec)[0].obj
        host = by_state[id(best)]
        return Placement(host, host.claim(spec.pci_requests.requests))


def _legacy_specs(alias) -> list:
    return [{'vendor_id': m.vendor_id, 'product_id': m.product_id,
             'dev_type': alias.dev_type} for m in alias.models]


def _placement_spec(alias) -> list:
    spec = {'resource_class': RESOURCE_CLASS, 'dev_type': alias.dev_type}
    if len(alias.models) == 1:
        spec['traits'] = model_trait(alias.models[0])
    return [spec]


@dataclasses.dataclass(frozen=True)
class Alias:
    """A ``[pci] alias`` as nova turns it into request specs."""

    name: str
    models: tuple[models.ModelKey, ...]
    dev_type: str = 'type-PCI'


def request_spec(items: ty.Sequence[tuple[Alias, int]],
                 extra_specs: ty.Mapping[str, str] | None = None,
                 placement: bool = False):
    """A RequestSpec as nova-api builds it from ``alias:count`` items.

    In placement mode an alias has one spec (nova refuses more): the shared
    resource class, plus the model's trait for a one-model alias.
    """
    requests = [objects.InstancePCIRequest(
        count=count, alias_name=alias.name, numa_policy='legacy',
        request_id=uuidutils.generate_uuid(),
        spec=(_placement_spec(alias) if placement else _legacy_specs(alias)))
        for alias, count in items]
    return objects.RequestSpec(
        instance_uuid=uuidutils.generate_uuid(),
        pci_requests=objects.InstancePCIRequests(requests=requests),
        flavor=objects.Flavor(extra_specs=dict(extra_specs or {})),
        scheduler_hints={})
