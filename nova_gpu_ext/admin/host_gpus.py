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

"""The GPUs of one compute host, as plain data for render and lint.

The commands read a host through :mod:`nova_gpu_ext.host` and hand what
they found here; the admin modules never read a host themselves, so they
run the same on a workstation, on the host, and on a tree copied from it.
This module also says which device_spec entry selects a GPU, as nova's
``Whitelist.get_devspec`` does: the first one whose ids and address match.
"""

import dataclasses
import re
import typing as ty

# The device_spec tag naming the PCIe switch a GPU sits behind: the PCI
# address of the switch's upstream port. nova copies every extra tag of
# a device_spec into the device's PCI pool (nova/pci/stats.py), so the
# scheduler sees it on each pool; a GPU behind no switch has no tag.
PCIE_SWITCH_TAG = 'pcie_switch'

# One function's full address, as sysfs names it: what a pcie_switch tag
# belongs to (a glob would give one switch to GPUs of several).
EXACT_ADDRESS = re.compile(
    r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$', re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class HostGpu:
    """One GPU of the host: address, ids and the switch above it.

    ``pcie_switch`` is None behind no switch; ``path_known`` is False when
    a bridge above the GPU could not be read, so nobody knows.
    """

    address: str
    vendor_id: str
    product_id: str
    pcie_switch: str | None = None
    path_known: bool = True

    @property
    def ids(self) -> str:
        return f'{self.vendor_id}:{self.product_id}'


def address_matches(glob: str, address: str) -> bool:
    """Whether the device_spec address glob ``glob`` selects ``address``.

    nova's grammar (``PciAddressGlobSpec``):
    ``[[[[domain]:]bus]:][slot][.[function]]``, missing leading fields and
    ``*`` or empty fields match anything, the others compare as hex.
    """
    head, _, function = glob.strip().partition('.')
    fields = head.split(':')
    wanted = [''] * (3 - len(fields)) + fields + [function]
    slot, _, actual_function = address.partition('.')
    return all(_field_matches(w, a) for w, a in
               zip(wanted, slot.split(':') + [actual_function]))


def _field_matches(wanted: str, actual: str) -> bool:
    wanted = wanted.strip()
    if wanted in ('', '*'):
        return True
    try:
        return int(wanted, 16) == int(actual, 16)
    except ValueError:
        return False


def spec_selects(spec: ty.Mapping, gpu: HostGpu) -> bool | None:
    """Whether the device_spec ``spec`` matches ``gpu``.

    None when that cannot be told here: an address given as a regex
    object, or a ``devname`` (nova resolves those on the host itself).
    """
    if 'devname' in spec or isinstance(spec.get('address'), dict):
        return None
    ids = all(_id_matches(spec.get(key), getattr(gpu, key))
              for key in ('vendor_id', 'product_id'))
    address = spec.get('address')
    return ids and (address is None
                    or address_matches(str(address), gpu.address))


def _id_matches(spec_id, gpu_id: str) -> bool:
    if spec_id is None or str(spec_id).strip() == '*':
        return True
    return _field_matches(str(spec_id), gpu_id)
