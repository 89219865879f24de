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

"""The demo's hosts, aliases and server stream, shared by both engines.

Plain data: the in-process cloud (``cloud``) and the object-level
simulation (``sim``) turn it into fake libvirt hosts or HostStates.
"""

import dataclasses

from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import models

NVIDIA = '10de'


@dataclasses.dataclass(frozen=True)
class GpuModel:
    name: str
    key: models.ModelKey
    product_name: str


K4200 = GpuModel('K4200', models.ModelKey(NVIDIA, '11b4'),
                 'GK104GL [Quadro K4200]')
V100 = GpuModel('V100', models.ModelKey(NVIDIA, '1db4'),
                'GV100GL [Tesla V100 PCIe 16GB]')
# A real A100 is SR-IOV capable and reports as type-PF; the demo keeps all
# cards type-PCI so one alias set serves both engines.
A100 = GpuModel('A100', models.ModelKey(NVIDIA, '20f1'),
                'GA100 [A100 PCIe 40GB]')
MODELS = (K4200, V100, A100)

# Alias name -> models; 'gpu' is a class alias (any of two models).
ALIASES = {
    'gpu': (K4200, V100),
    'k4200': (K4200,),
    'v100': (V100,),
    'a100': (A100,),
}


@dataclasses.dataclass(frozen=True)
class Host:
    """A compute host of the demo fleet.

    ``gpus`` are ``(model, NUMA node)`` in PCI address order, as on a
    compute; ``switches`` the PCIe switch above each of them, as the
    compute's ``[pci] device_spec`` tags it (``pcie_switch``, the switch's
    upstream port), or empty for a host without switches. ``cpus`` and
    ``memory_gb`` are split evenly over two NUMA nodes; the defaults are
    those of nova's fake libvirt host.
    """

    name: str
    gpus: tuple[tuple[GpuModel, int], ...] = ()
    switches: tuple[str, ...] = ()
    cpus: int = 8
    memory_gb: int = 16


SWITCH_A = '0000:80:01.0'
SWITCH_B = '0000:80:02.0'

# A 2-GPU host with one card of each model, four 4-GPU hosts and one
# without GPUs. NUMA node 0 sits on the lower PCI buses. gpu-a100-sw, a
# larger server (nova's RAM and CPU weighers prefer it), has its four GPUs
# on one NUMA node, two below each of two PCIe switches: NUMA locality does
# not tell them apart.
FLEET = (
    Host('gpu-mixed', ((K4200, 0), (V100, 1))),
    Host('gpu-k4200', ((K4200, 0), (K4200, 0), (K4200, 1), (K4200, 1))),
    Host('gpu-v100', ((V100, 0), (V100, 0), (V100, 1), (V100, 1))),
    Host('gpu-a100-sw', ((A100, 0),) * 4, (SWITCH_A,) * 2 + (SWITCH_B,) * 2,
         cpus=12, memory_gb=32),
    Host('gpu-a100', ((A100, 0), (A100, 1), (A100, 1), (A100, 1))),
    Host('cpu-only'),
)

NUMA_SINGLE = {models.NUMA_SPEC: 'single'}
SWITCH_SINGLE = {models.SWITCH_SPEC: 'single'}

# (flavor name, pci_passthrough:alias, other extra specs): the flavors as
# nova_gpu_ext is asked; the in-tree run's flavors carry ``in_tree_specs``.
STREAM = (
    ('gpu.x2', 'gpu:2', {}),
    ('v100.x1', 'v100:1', {}),
    ('gpu.x1', 'gpu:1', {}),
    ('gpu.x4', 'gpu:4', {}),
    ('gpu.x2.numa', 'gpu:2', NUMA_SINGLE),
    ('a100.x1', 'a100:1', {}),
    ('a100.x2.switch', 'a100:2', SWITCH_SINGLE),
    ('a100.x2.numa', 'a100:2', NUMA_SINGLE),
    ('cpu.small', '', {}),
)

FLAVORS = {name: (items, extra_specs) for name, items, extra_specs in STREAM}

# What the in-tree run's flavor carries for each ``gpu:`` extra spec: nova's
# own means of asking the same, where nova has one. ``hw:numa_nodes=1``
# gives the instance one NUMA cell and the ``required`` PCI NUMA affinity
# policy its devices on that cell (NUMATopologyFilter and the compute's
# claim honour both); nova has no means of asking for one PCIe switch.
IN_TREE_MEANS = {
    (models.NUMA_SPEC, 'single'): {'hw:numa_nodes': '1',
                                   'hw:pci_numa_affinity_policy': 'required'},
    (models.SWITCH_SPEC, 'single'): {},
}


def in_tree_specs(extra_specs: dict) -> dict:
    """The extra specs of the in-tree run's flavor (``IN_TREE_MEANS``)."""
    found = {}
    for spec in extra_specs.items():
        found.update(IN_TREE_MEANS[spec])
    return found


def extra_specs(flavor: str, ours: bool) -> dict:
    """The extra specs (but the alias) one scheduler's flavor carries."""
    specs = FLAVORS[flavor][1]
    return dict(specs) if ours else in_tree_specs(specs)


def switch_at(host: str, slot: int) -> str | None:
    """The PCIe switch above the GPU at ``slot`` of ``host`` in FLEET."""
    switches = next(h.switches for h in FLEET if h.name == host)
    return switches[slot] if switches else None


def name_of(model_key: models.ModelKey) -> str:
    return next((m.name for m in MODELS if m.key == model_key),
                str(model_key))


@dataclasses.dataclass(frozen=True)
class Gpu:
    """One GPU a server got: its model, NUMA node, slot and PCIe switch.

    ``slot`` is the GPU's index in its ``Host.gpus``, which is its PCI
    address order; ``switch`` the ``pcie_switch`` tag of the GPU
    (None: no switch above it). The fields of a domain are named as in
    ``fit.LEVELS``.
    """

    model: str
    numa_node: int | None
    slot: int
    switch: str | None = None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Where one server of the stream landed and what it got.

    ``reason`` says why a refused server found no host.
    """

    flavor: str
    host: str | None
    gpus: tuple[Gpu, ...] = ()
    reason: str | None = None

    @property
    def refused(self) -> bool:
        return self.host is None

    @property
    def mixed(self) -> bool:
        return len({g.model for g in self.gpus}) > 1

    def split(self, level: fit.Level) -> bool:
        """Whether the GPUs span domains of ``level`` (NUMA, switches).

        A GPU without a domain at the level (no switch above it) counts
        in none: only a host with switches splits a server over them.
        """
        domains = {getattr(g, level.attr) for g in self.gpus}
        return len(domains - {None}) > 1

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> 'Outcome':
        return cls(data['flavor'], data['host'],
                   tuple(Gpu(**g) for g in data['gpus']), data['reason'])
