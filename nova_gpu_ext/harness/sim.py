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

Every host has two NUMA cells (``HostState.numa_topology``), so that
NUMATopologyFilter can judge a flavor with a guest NUMA topology
(``hw:numa_nodes``); such an instance is fitted to the host's cells with
nova's ``numa_fit_instance_to_host`` and its devices taken on its cells,
as the compute's claim does.

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
from nova.virt import hardware
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

# A host's CPUs and memory, split evenly over its NUMA cells, and a
# flavor's: the defaults of nova's fake libvirt host and of its functional
# tests' flavors, which the demo's cloud engine boots.
NUMA_CELLS = 2
HOST_CPUS = 8
HOST_MEMORY_MB = 16384
FLAVOR_VCPUS = 2
FLAVOR_MEMORY_MB = 2048
# The allocation ratios a new compute reports ([DEFAULT]
# initial_cpu_allocation_ratio, initial_ram_allocation_ratio).
CPU_ALLOCATION_RATIO = 4.0
RAM_ALLOCATION_RATIO = 1.0
SMALL_PAGE_KB = 4


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
                 candidate_limit: int = CANDIDATE_LIMIT,
                 cpus: int = HOST_CPUS, memory_mb: int = HOST_MEMORY_MB):
        self.name = name
        self.placement = placement
        self.candidate_limit = candidate_limit
        self.pools = [self._pool(name, i, g, placement)
                      for i, g in enumerate(gpus)]
        self.state = host_manager.HostState(name, name,
                                            uuidutils.generate_uuid())
        self.state.numa_topology = numa_topology(cpus, memory_mb)
        self.state.cpu_allocation_ratio = CPU_ALLOCATION_RATIO
        self.state.ram_allocation_ratio = RAM_ALLOCATION_RATIO
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

    def claim(self, requests, instance_numa=None) -> list:
        """Consume with nova's code; return the pools taken, one per GPU.

        An instance with a NUMA topology (``instance_numa``) is fitted to
        the host's cells first and gets its devices on them.
        """
        mapping = self.state.allocation_candidates[0]['mappings']
        cells = None
        if instance_numa:
            fitted = hardware.numa_fit_instance_to_host(
                self.state.numa_topology, instance_numa, mapping,
                pci_requests=requests, pci_stats=self.state.pci_stats)
            self.state.numa_topology = hardware.numa_usage_from_instance_numa(
                self.state.numa_topology, fitted)
            cells = fitted.cells
        before = {p['address']: p['count'] for p in self.state.pci_stats.pools}
        self.state.pci_stats.apply_requests(requests, mapping, cells)
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


def numa_topology(cpus: int, memory_mb: int) -> objects.NUMATopology:
    """A host's NUMA cells, its CPUs and memory split evenly over them.

    Its memory is in small pages only, as a host without huge pages
    reports it.
    """
    per_cell = cpus // NUMA_CELLS
    memory = memory_mb // NUMA_CELLS
    cells = []
    for cell in range(NUMA_CELLS):
        cpuset = set(range(cell * per_cell, (cell + 1) * per_cell))
        cells.append(objects.NUMACell(
            id=cell, cpuset=cpuset, pcpuset=set(), memory=memory, socket=0,
            cpu_usage=0, memory_usage=0, pinned_cpus=set(),
            siblings=[{cpu} for cpu in sorted(cpuset)],
            mempages=[objects.NUMAPagesTopology(
                size_kb=SMALL_PAGE_KB, total=memory * 1024 // SMALL_PAGE_KB,
                used=0)]))
    return objects.NUMATopology(cells=cells)


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
        return Placement(host, host.claim(spec.pci_requests.requests,
                                          spec.numa_topology))


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
    resource class, plus the model's trait for a one-model alias.  The
    flavor's ``hw:`` extra specs give the instance its NUMA topology and
    its PCI requests their NUMA affinity policy, with nova's code.
    """
    flavor = objects.Flavor(vcpus=FLAVOR_VCPUS, memory_mb=FLAVOR_MEMORY_MB,
                            extra_specs=dict(extra_specs or {}))
    image = objects.ImageMeta.from_dict({})
    numa_policy = (hardware.get_pci_numa_policy_constraint(flavor, image)
                   or 'legacy')
    requests = [objects.InstancePCIRequest(
        count=count, alias_name=alias.name, numa_policy=numa_policy,
        request_id=uuidutils.generate_uuid(),
        spec=(_placement_spec(alias) if placement else _legacy_specs(alias)))
        for alias, count in items]
    return objects.RequestSpec(
        instance_uuid=uuidutils.generate_uuid(),
        pci_requests=objects.InstancePCIRequests(requests=requests),
        flavor=flavor, image=image,
        numa_topology=hardware.numa_get_constraints(flavor, image),
        scheduler_hints={})
