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
    ('gpu.x1', 'gpu:1', {}),
    ('v100.x1', 'v100:1', {}),
    ('gpu.x1', 'gpu:1', {}),
    ('gpu.x4', 'gpu:4', {}),
    ('a100.x1', 'a100:1', {}),
    ('a100.x2.numa', 'a100:2', SINGLE),
    ('cpu.small', '', {}),
    ('gpu.x2', 'gpu:2', {}),
    ('k4200.x2.numa', 'k4200:2', SINGLE),
    ('gpu.x2', 'gpu:2', {}),
)


def name_of(model_key: models.ModelKey) -> str:
    return next((m.name for m in MODELS if m.key == model_key),
                str(model_key))


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Where one server of the stream landed and what it got."""

    flavor: str
    host: str | None
    gpus: tuple[tuple[str, int | None], ...]  # (model name, NUMA node)

    @property
    def mixed(self) -> bool:
        return len({m for m, _ in self.gpus}) > 1

    @property
    def split(self) -> bool:
        return len({n for _, n in self.gpus}) > 1


def table(runs: dict) -> str:
    """Side-by-side text of ``{scheduler label: [Outcome, ...]}``."""
    header = ('#', 'flavor', 'scheduler', 'host', 'GPUs', 'NUMA', 'note')
    rows = []
    for label, outcomes in runs.items():
        for i, o in enumerate(outcomes, 1):
            notes = [text for flag, text in (
                (o.mixed, 'MIXED MODELS'), (o.split, 'split NUMA'),
                (o.host is None, 'refused')) if flag]
            rows.append((i, (str(i), o.flavor, label,
                             o.host or 'NO VALID HOST',
                             ' + '.join(m for m, _ in o.gpus) or '-',
                             ','.join(sorted({str(n) for _, n in o.gpus}))
                             or '-', ', '.join(notes))))
    lines = [row for _, row in sorted(rows, key=lambda r: r[0])]
    widths = [max(len(row[c]) for row in [header] + lines)
              for c in range(len(header))]
    out = ['  '.join(v.ljust(w) for v, w in zip(row, widths)).rstrip()
           for row in [header] + lines]
    out.append('')
    for label, outcomes in runs.items():
        out.append(
            f'{label:13} mixed-model servers: '
            f'{sum(o.mixed for o in outcomes)}  NUMA-split: '
            f'{sum(o.split for o in outcomes)}  refused: '
            f'{sum(o.host is None for o in outcomes)}  GPUs placed: '
            f'{sum(len(o.gpus) for o in outcomes)}')
    return '\n'.join(out)
