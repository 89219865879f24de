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

"""Validators of the ``gpu:`` flavor extra specs.

Loaded by nova-api through the stevedore namespace
``nova.api.extra_spec_validators`` (entry point ``gpu``), so nova answers
400 to a flavor with a bad ``gpu:`` value instead of scheduling it with a
silently ignored one.
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
]


def register():
    return EXTRA_SPEC_VALIDATORS
