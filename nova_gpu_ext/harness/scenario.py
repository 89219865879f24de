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

# A 2-GPU host with one card of each model, three 4-GPU hosts and one
# without GPUs. NUMA node 0 sits on the lower PCI buses and devices are
# listed in PCI address order, as on a compute.
FLEET = (
    ('gpu-mixed', ((K4200, 0), (V100, 1))),
    ('gpu-k4200', ((K4200, 0), (K4200, 0), (K4200, 1), (K4200, 1))),
    ('gpu-v100', ((V100, 0), (V100, 0), (V100, 1), (V100, 1))),
    ('gpu-a100', ((A100, 0), (A100, 1), (A100, 1), (A100, 1))),
    ('cpu-only', ()),
)

SINGLE = {'gpu:numa': 'single'}

# (flavor name, pci_passthrough:alias, other extra specs)
STREAM = (
    ('gpu.x2', 'gpu:2', {}),
    ('v100.x1', 'v100:1', {}),
    ('gpu.x1', 'gpu:1', {}),
    ('gpu.x4', 'gpu:4', {}),
    ('gpu.x2.numa', 'gpu:2', SINGLE),
    ('a100.x1', 'a100:1', {}),
    ('a100.x2.numa', 'a100:2', SINGLE),
    ('cpu.small', '', {}),
)

FLAVORS = {name: (items, extra_specs) for name, items, extra_specs in STREAM}


def name_of(model_key: models.ModelKey) -> str:
    return next((m.name for m in MODELS if m.key == model_key),
                str(model_key))


@dataclasses.dataclass(frozen=True)
class Gpu:
    """One GPU a server got: its model, NUMA node and slot on the host.

    ``slot`` is the GPU's index in the host's ``FLEET`` entry, which is
    its PCI address order.
    """

    model: str
    numa: int | None
    slot: int


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

    @property
    def split(self) -> bool:
        return len({g.numa for g in self.gpus}) > 1

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> 'Outcome':
        return cls(data['flavor'], data['host'],
                   tuple(Gpu(**g) for g in data['gpus']), data['reason'])
