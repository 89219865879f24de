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

"""GPU catalog files for tests: one good catalog and a writer."""

import os

import fixtures

# One model, nothing else.
MINIMAL = """
[nova_gpu_ext]
gpu_models = k4200
[gpu:k4200]
vendor_id = 10de
product_id = 11b4
"""

# Two classes: type-PCI workstation cards and type-PF data-center cards
# (nova refuses an alias whose specs differ in device_type).
GOOD = """
[nova_gpu_ext]
gpu_models = k4200, v100, a100, l40s
gpu_classes = pcie, dc

[gpu:k4200]
vendor_id = 10DE
product_id = 11b4
companions = 10de:0e0a
description = Quadro K4200

[gpu:v100]
vendor_id = 10de
product_id = 1db4
addresses = 0000:81:*.*, 0000:82:*.*

[gpu:a100]
vendor_id = 10de
product_id = 20b5
device_type = type-PF
numa_policy = preferred
traits = NVLINK

[gpu:l40s]
vendor_id = 10de
product_id = 26b9
device_type = type-PF
alias = l40s-48g
managed = true
live_migratable = false

[gpu_class:pcie]
models = k4200, v100

[gpu_class:dc]
models = a100, l40s
resource_class = CUSTOM_GPU_DATACENTER
"""


# Two models and a class alias of both, as the harness's fleet has them
# (its class "gpu" shares the default resource class CUSTOM_GPU_GPU in
# placement mode).
TWO_MODELS_AND_A_CLASS = """
[nova_gpu_ext]
gpu_models = k4200, v100
gpu_classes = gpu

[gpu:k4200]
vendor_id = 10de
product_id = 11b4
flavor_counts = 1, 2

[gpu:v100]
vendor_id = 10de
product_id = 1db4
flavor_counts = 4

[gpu_class:gpu]
models = k4200, v100
flavor_counts = 2
"""


def write(test, text: str, name: str = 'catalog.conf') -> str:
    """Write ``text`` into a temporary file of ``test``; return its path."""
    path = os.path.join(test.useFixture(fixtures.TempDir()).path, name)
    with open(path, 'w') as f:
        f.write(text)
    return path
