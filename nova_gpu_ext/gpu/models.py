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

"""GPU model keys and the per-flavor GPU policy."""

import dataclasses
import enum
import functools
import typing as ty

from oslo_utils import strutils

SAME_MODEL_SPEC = 'gpu:same_model'
NUMA_SPEC = 'gpu:numa'
SWITCH_SPEC = 'gpu:switch'
# nova's guest physical address space (nova 2024.1, libvirt >= 8.7): a
# large multi-GPU VM needs room for its RAM plus every GPU's 64-bit BARs.
# nova 34 reads them but has no extra-spec validator for them, so without
# ours nova-api refuses them from microversion 2.86 on.
MAXPHYSADDR_MODE_SPEC = 'hw:maxphysaddr_mode'
MAXPHYSADDR_BITS_SPEC = 'hw:maxphysaddr_bits'
MAXPHYSADDR_MODES = ('passthrough', 'emulate')


class ModelKey(ty.NamedTuple):
    """A GPU model: CUDA multi-GPU jobs need every device of one model."""

    vendor_id: str
    product_id: str

    def __str__(self):
        return f'{self.vendor_id}:{self.product_id}'


def model_of(pool: ty.Mapping[str, ty.Any]) -> ModelKey:
    """Return the model of a PCI pool (or device) dict, ids lower-cased."""
    return _model(pool.get('vendor_id'), pool.get('product_id'))


# A fleet has few models and the scheduler asks for them per pool walked:
# the key is made once per pair of ids seen (bounded, as ids come from
# the cloud's database).
@functools.lru_cache(maxsize=1024)
def _model(vendor_id, product_id) -> ModelKey:
    return ModelKey(str(vendor_id or '').lower(),
                    str(product_id or '').lower())


class NumaMode(str, enum.Enum):
    """How the devices of one request relate to host NUMA nodes.

    ``single`` is about peer-to-peer locality of a multi-GPU set, so it
    holds whether or not the instance itself has a NUMA topology.
    """

    ANY = 'any'
    PREFER = 'prefer'
    SINGLE = 'single'


class SwitchMode(str, enum.Enum):
    """How the devices of one request relate to the host's PCIe switches.

    Peer-to-peer traffic between GPUs under one switch stays in the
    switch; a set split over switches goes through the root complexes.
    Same words as :class:`NumaMode`, one level down.
    """

    ANY = 'any'
    PREFER = 'prefer'
    SINGLE = 'single'


@dataclasses.dataclass(frozen=True)
class GpuPolicy:
    """What a flavor asks of the GPUs given for each of its requests.

    No field has a default: what a flavor without ``gpu:`` extra specs
    gets is the scheduler's ``[nova_gpu_ext]`` options, read where the
    policy is made (``policy_from_extra_specs``'s ``default``).
    """

    same_model: bool
    numa: NumaMode
    switch: SwitchMode

    def __str__(self):
        return (f'same_model={self.same_model}, numa={self.numa.value}, '
                f'switch={self.switch.value}')


# What nova's in-tree PciPassthroughFilter asks of a host's devices:
# enough of them, of any models, on any NUMA nodes and PCIe switches.
IN_TREE = GpuPolicy(same_model=False, numa=NumaMode.ANY,
                    switch=SwitchMode.ANY)


def policy_from_extra_specs(
    extra_specs: ty.Mapping[str, str] | None, default: GpuPolicy,
) -> GpuPolicy:
    """Read the ``gpu:`` extra specs of a flavor.

    The API validators refuse bad values; a flavor created before the
    validators were installed may still carry one, and the scheduler must
    not fail on it, so unknown values fall back to ``default``.
    """
    specs = extra_specs or {}
    same_model = strutils.bool_from_string(
        specs.get(SAME_MODEL_SPEC), default=None)
    return GpuPolicy(
        same_model=default.same_model if same_model is None else same_model,
        numa=_mode(specs, NUMA_SPEC, NumaMode, default.numa),
        switch=_mode(specs, SWITCH_SPEC, SwitchMode, default.switch))


def _mode(specs, key: str, mode: type, default):
    """The mode a spec names, or ``default`` when unset or unknown."""
    try:
        return mode(str(specs.get(key, '')).strip().lower())
    except ValueError:
        return default
