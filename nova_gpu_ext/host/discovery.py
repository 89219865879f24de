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

"""The GPUs of a host as catalog models, for ``nova-gpu-ext discover``.

The output is a catalog the operator can paste and edit, so that nobody
copies ids, companions and device types from ``lspci`` by hand. Every
value in it was parsed strictly by :mod:`sysfs` (hex ids, plain names) or
is a comment without control characters, so nothing read from the host
can add a line, a section or an option to it. What could not be read is
listed as a warning comment at the top.
"""

import dataclasses
import re
import typing as ty

from nova_gpu_ext.common import catalog
from nova_gpu_ext.host import bars
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs

# pci.ids writes "chip [marketing name]"; the marketing name is what
# operators call the card.
_MARKETING_NAME = re.compile(r'\[([^]]+)\]')


@dataclasses.dataclass(frozen=True)
class FoundModel:
    """One GPU model of the host and every GPU of it."""

    name: str
    gpus: tuple[sysfs.PciFunction, ...]
    companions: tuple[str, ...]
    # The largest of its GPUs' 64-bit prefetchable BAR totals (a model's
    # GPUs have one BAR layout); None when no GPU's could be read.
    bar_bytes: int | None = None

    @property
    def first(self) -> sysfs.PciFunction:
        return self.gpus[0]

    @property
    def device_type(self) -> str:
        return self.first.device_type

    @property
    def numa_nodes(self) -> tuple[int, ...]:
        return tuple(sorted({g.numa_node for g in self.gpus
                             if g.numa_node is not None}))


def found_models(facts: sysfs.HostFacts) -> tuple[FoundModel, ...]:
    """Passthrough GPUs grouped per (vendor, product), in address order."""
    per_ids: dict[str, list[sysfs.PciFunction]] = {}
    for gpu in hostcheck.passthrough_gpus(facts):
        per_ids.setdefault(gpu.ids, []).append(gpu)
    models = []
    names: set[str] = set()
    for gpus in per_ids.values():
        name = _unique(model_name(gpus[0]), names)
        names.add(name)
        companions = sorted({f.ids for g in gpus
                             for f in hostcheck.card_functions(facts, g)
                             if f.ids != g.ids})
        sizes = [bars.read_bar_bytes(facts.root, g.address) for g in gpus]
        known = [size for size in sizes if size is not None]
        models.append(FoundModel(name, tuple(gpus), tuple(companions),
                                 max(known) if known else None))
    return tuple(models)


def model_name(gpu: sysfs.PciFunction) -> str:
    """A catalog name: the marketing name from pci.ids, else the ids."""
    text = gpu.device_name or ''
    marketing = _MARKETING_NAME.search(text)
    text = marketing.group(1) if marketing else text
    slug = re.sub(r'[^a-z0-9]+', '_', text.lower()).strip('_')
    return slug or f'{gpu.vendor_id}_{gpu.product_id}'


def _unique(name: str, taken: ty.Collection[str]) -> str:
    candidate, suffix = name, 2
    while candidate in taken:
        candidate, suffix = f'{name}_{suffix}', suffix + 1
    return candidate


def render_ini(facts: sysfs.HostFacts,
               models: ty.Sequence[FoundModel]) -> str:
    """The catalog text: ``[nova_gpu_ext] gpu_models`` and model sections."""
    lines = [f'# nova-gpu-ext discover: {sum(len(m.gpus) for m in models)}'
             f' GPU(s) of {len(models)} model(s) under '
             f'{sysfs.printable(facts.root)}']
    lines += [f'# WARNING: {p}; GPUs may be missing below'
              for p in facts.problems]
    lines += [f'# boot VGA (host console), not listed: {g.address} '
              f'({g.label})' for g in facts.gpus if g.boot_vga]
    if not models:
        lines.append('# no GPU (PCI display class 0x03) found')
        return '\n'.join(lines) + '\n'
    lines += ['[nova_gpu_ext]',
              f'gpu_models = {", ".join(m.name for m in models)}']
    for model in models:
        lines += [''] + _model_lines(model)
    return '\n'.join(lines) + '\n'


def _model_lines(model: FoundModel) -> list[str]:
    gpu = model.first
    lines = [f'# {gpu.label}: {len(model.gpus)} on this host']
    lines += [f'#   {g.address}  NUMA node {_show(g.numa_node)}  '
              f'IOMMU group {_show(g.iommu_group)}  '
              f'driver {_show(g.driver)}' for g in model.gpus]
    if model.device_type == 'type-PF':
        lines.append(f'# SR-IOV capable (sriov_totalvfs = '
                     f'{gpu.sriov_totalvfs}): nova reports it as type-PF')
    if model.bar_bytes is not None:
        lines.append(f'# 64-bit prefetchable BARs: {model.bar_bytes} bytes '
                     f'({gib(model.bar_bytes)}) per GPU')
    lines += [f'[{catalog.model_section(model.name)}]',
              f'vendor_id = {gpu.vendor_id}',
              f'product_id = {gpu.product_id}',
              f'device_type = {model.device_type}']
    if model.companions:
        lines.append(f'companions = {", ".join(model.companions)}')
    if model.bar_bytes is not None:
        lines.append(f'bar_bytes = {model.bar_bytes}')
    return lines


def gib(size: int) -> str:
    """``128.03 GiB``: sizes of BARs and address spaces for people."""
    return f'{size / 2 ** 30:.2f} GiB'


def _show(value: ty.Any) -> str:
    return '-' if value is None else str(value)
