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

"""Validators of the ``gpu:`` flavor extra specs, and of nova's own
``hw:maxphysaddr_*``.

Loaded by nova-api through the stevedore namespace
``nova.api.extra_spec_validators`` (entry point ``gpu``), so nova answers
400 to a flavor with a bad ``gpu:`` value instead of scheduling it with a
silently ignored one. nova 34 reads ``hw:maxphysaddr_mode`` and
``hw:maxphysaddr_bits`` (what large multi-GPU VMs need) but has no
validator for them, so from microversion 2.86 on it refuses them as
unknown ``hw:`` specs; nova's loader merges every plugin's validators by
name into one registry, so ours make them known.
"""

from nova.api.validation.extra_specs import base

from nova_gpu_ext.gpu import models

EXTRA_SPEC_VALIDATORS = [
    base.ExtraSpecValidator(
        name=models.SAME_MODEL_SPEC,
        description=(
            'Whether all GPUs given for one ``pci_passthrough:alias`` item '
            'must be of one model (vendor and product id). Enforced by '
            'GpuPassthroughFilter; defaults to ``[nova_gpu_ext] '
            'same_model_default``.'
        ),
        value={'type': bool, 'description': 'Whether GPUs must match.'},
    ),
    base.ExtraSpecValidator(
        name=models.NUMA_SPEC,
        description=(
            'NUMA locality of the GPUs of one ``pci_passthrough:alias`` '
            'item: ``single`` puts them on one host NUMA node (hosts that '
            'cannot are refused); ``prefer`` splits them over NUMA nodes '
            'only when no host of the request can keep them on one; '
            '``any`` does not filter on it. Defaults to ``[nova_gpu_ext] '
            'numa_default``.'
        ),
        value={
            'type': str,
            'description': 'The NUMA locality policy.',
            'enum': [mode.value for mode in models.NumaMode],
        },
    ),
    base.ExtraSpecValidator(
        name=models.SWITCH_SPEC,
        description=(
            'PCIe switch locality of the GPUs of one '
            '``pci_passthrough:alias`` item (the compute\'s ``[pci] '
            'device_spec`` tag ``pcie_switch``; a GPU without it is its '
            'own switch): ``single`` puts them under one switch (hosts '
            'that cannot are refused); ``prefer`` splits them over '
            'switches only when no host of the request can keep them '
            'under one; ``any`` does not filter on it. Defaults to '
            '``[nova_gpu_ext] switch_default``.'
        ),
        value={
            'type': str,
            'description': 'The PCIe switch locality policy.',
            'enum': [mode.value for mode in models.SwitchMode],
        },
    ),
    base.ExtraSpecValidator(
        name=models.MAXPHYSADDR_MODE_SPEC,
        description=(
            'How the guest\'s physical address bits are set: '
            '``passthrough`` takes the host CPU\'s, ``emulate`` the '
            '``hw:maxphysaddr_bits`` value. Needs libvirt 8.7.0; the '
            'guest must hold its RAM plus the 64-bit BARs of its GPUs.'
        ),
        value={
            'type': str,
            'description': 'The address size mode.',
            'enum': list(models.MAXPHYSADDR_MODES),
        },
    ),
    base.ExtraSpecValidator(
        name=models.MAXPHYSADDR_BITS_SPEC,
        description=(
            'The guest\'s physical address bits with '
            '``hw:maxphysaddr_mode=emulate``; at most the host CPU\'s.'
        ),
        value={
            'type': int,
            'description': 'Physical address bits.',
            'min': 1,
        },
    ),
]


def register():
    return EXTRA_SPEC_VALIDATORS
