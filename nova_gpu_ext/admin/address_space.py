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

"""The guest physical address space of a large multi-GPU VM.

What QEMU and OVMF make of it, so that a flavor's RAM plus its GPUs'
64-bit BARs can be checked (``lint-flavors``) and sized (``flavor
sync``):

* physical address bits: ``hw:maxphysaddr_mode=emulate`` gives
  ``hw:maxphysaddr_bits``; ``passthrough`` the host CPU's. Without them
  QEMU's default: the host's bits for the ``host`` CPU model (libvirt
  ``host-passthrough``: QEMU's max/host CPU model turns on
  ``host-phys-bits``), 40 bits for every named model (``host-model``,
  ``custom``: QEMU's ``TCG_PHYS_ADDR_BITS``). OVMF uses at most 46 bits
  (it avoids 5-level paging).
* RAM: q35 puts at most 2 GiB below 4 GiB (the rest is the PCI hole), the
  rest from 4 GiB up, so RAM ends at ``max(4 GiB, RAM + 2 GiB)``.
* the 64-bit PCI window: OVMF (edk2 ``PlatformDynamicMmioWindow``, 2023
  and later) makes it one eighth of the address space, at its top. The
  GPUs' 64-bit BARs must fit in it, and the RAM below it.
"""

from nova_gpu_ext.gpu import models

GIB = 2 ** 30
# QEMU's phys-bits for a named CPU model (target/i386: TCG_PHYS_ADDR_BITS).
DEFAULT_PHYS_BITS = 40
# OVMF caps the guest's address width here (4-level paging).
FIRMWARE_MAX_BITS = 46
# The smallest address space considered: 4 GiB.
MIN_BITS = 32


def ram_top(ram_mb: int) -> int:
    """The guest address where its RAM ends (q35)."""
    return max(4 * GIB, ram_mb * 2 ** 20 + 2 * GIB)


def fits(ram_mb: int, bar_bytes: int, bits: int) -> bool:
    """RAM below OVMF's 64-bit window, the BARs in it."""
    bits = min(bits, FIRMWARE_MAX_BITS)
    window = 2 ** (bits - 3)
    return bar_bytes <= window and ram_top(ram_mb) <= 2 ** bits - window


def needed_bits(ram_mb: int, bar_bytes: int) -> int | None:
    """The fewest address bits that hold them; None beyond the firmware's."""
    return next((bits for bits in range(MIN_BITS, FIRMWARE_MAX_BITS + 1)
                 if fits(ram_mb, bar_bytes, bits)), None)


def properties(ram_mb: int, bar_bytes: int) -> dict[str, str]:
    """Flavor extra specs for a large VM; none when the default holds it.

    The default is the 40 bits of a named CPU model, the smallest a
    guest gets; ``emulate`` with the fewest bits that hold it otherwise.
    """
    if fits(ram_mb, bar_bytes, DEFAULT_PHYS_BITS):
        return {}
    needed = needed_bits(ram_mb, bar_bytes) or FIRMWARE_MAX_BITS
    return {models.MAXPHYSADDR_MODE_SPEC: 'emulate',
            models.MAXPHYSADDR_BITS_SPEC: str(needed)}
