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

"""Free GPUs per host and model, and how many N-GPU servers still fit.

Pure arithmetic over the PCI resource providers nova reports to placement
(``[pci] report_in_placement``): one provider per physical device, named
``<hypervisor>_<PCI address>``, under the compute node provider, with an
inventory of the device's resource class.
``nova_gpu_ext.tooling.cloud.capacity`` reads them through openstacksdk.

A request of N GPUs of one model fits a host when that host has N free
GPUs of the model; NUMA placement is not considered, so the numbers are an
upper bound for ``gpu:numa=single`` flavors.
"""

import dataclasses
import typing as ty

from nova_gpu_ext.tooling import catalog
from nova_gpu_ext.tooling import resource_classes

# The counts reported when the catalog has no flavor_counts.
DEFAULT_COUNTS = (1, 2, 4, 8)


@dataclasses.dataclass(frozen=True)
class PciProvider:
    """One PCI device provider: its host and one resource class."""

    host: str
    name: str
    resource_class: str
    total: int
    reserved: int = 0
    used: int = 0

    @property
    def free(self) -> int:
        return max(self.total - self.reserved - self.used, 0)


@dataclasses.dataclass(frozen=True)
class Usage:
    """GPUs of one group (model, class or resource class) somewhere."""

    group: str
    total: int
    used: int
    free: int
    largest: int


@dataclasses.dataclass(frozen=True)
class HostUsage(Usage):
    host: str = ''

    def fit(self, count: int) -> int:
        """How many servers of ``count`` GPUs of the group still fit here."""
        return self.free // count


@dataclasses.dataclass(frozen=True)
class Report:
    """Per host, per group over the cloud, and fits per server size.

    ``fits[group][count]``: how many servers of ``count`` GPUs of that
    group still fit, each alone (not all together).
    """

    hosts: tuple[HostUsage, ...]
    groups: tuple[Usage, ...]
    counts: tuple[int, ...]
    fits: ty.Mapping[str, ty.Mapping[int, int]]
    ignored: tuple[str, ...] = ()


def group_of(gpu_catalog: catalog.Catalog | None,
             resource_class: str) -> str | None:
    """The catalog model or class a resource class stands for.

    A model's own resource class first, then a class's (its models share
    it, so placement cannot tell them apart), then nova's default
    ``CUSTOM_PCI_<VENDOR>_<PRODUCT>``. Without a catalog the resource
    class is its own group; with one, None means not a catalog GPU.
    """
    if gpu_catalog is None:
        return resource_class
    for model in gpu_catalog.models:
        if model.resource_class == resource_class:
            return model.name
    for gpu_class in gpu_catalog.classes:
        if gpu_class.resource_class == resource_class:
            return gpu_class.name
    ids = resource_classes.pci_ids(resource_class)
    if ids:
        model = gpu_catalog.model_by_ids(*ids)
        return model.name if model else None
    return None


def counts_of(gpu_catalog: catalog.Catalog | None) -> tuple[int, ...]:
    """The GPU counts of the catalog's flavors, or 1, 2, 4, 8."""
    if gpu_catalog is None:
        return DEFAULT_COUNTS
    counts = {n for entry in gpu_catalog.models + gpu_catalog.classes
              for n in entry.flavor.counts}
    return tuple(sorted(counts)) or DEFAULT_COUNTS


def report(providers: ty.Iterable[PciProvider],
           gpu_catalog: catalog.Catalog | None) -> Report:
    """Sum the providers per host and group, and the fits per count."""
    per_host = {}
    ignored = set()
    for provider in providers:
        group = group_of(gpu_catalog, provider.resource_class)
        if group is None:
            ignored.add(provider.resource_class)
            continue
        per_host.setdefault((provider.host, group), []).append(provider)
    hosts = tuple(_host_usage(host, group, members)
                  for (host, group), members in sorted(per_host.items()))
    counts = counts_of(gpu_catalog)
    groups, fits = [], {}
    for group in sorted({h.group for h in hosts}):
        members = [h for h in hosts if h.group == group]
        groups.append(_sum(group, members))
        fits[group] = {n: sum(h.fit(n) for h in members) for n in counts}
    return Report(hosts, tuple(groups), counts, fits,
                  tuple(sorted(ignored)))


def _host_usage(host: str, group: str,
                providers: ty.Sequence[PciProvider]) -> HostUsage:
    total = sum(p.total - p.reserved for p in providers)
    used = sum(p.used for p in providers)
    free = sum(p.free for p in providers)
    # Every free device of the group is one model (or, for a class, one
    # resource class): the largest request is all of them.
    return HostUsage(group=group, total=total, used=used, free=free,
                     largest=free, host=host)


def _sum(group: str, hosts: ty.Sequence[HostUsage]) -> Usage:
    return Usage(group=group, total=sum(h.total for h in hosts),
                 used=sum(h.used for h in hosts),
                 free=sum(h.free for h in hosts),
                 largest=max(h.largest for h in hosts))
