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

"""A GPU's BAR sizes, from its sysfs ``resource`` file.

A guest must map its RAM and every passed-through GPU's BARs in its
physical address space; a 4 x H100 VM whose space is too small sees
fewer GPUs as its RAM grows. What counts is the 64-bit prefetchable
memory BARs: the firmware (OVMF) maps them in the 64-bit window above the
guest's RAM, while 32-bit BARs sit in the PCI hole below 4 GiB, whatever
the RAM. ``discover`` records their total as the catalog's ``bar_bytes``.

``resource`` has one line per region, ``start end flags`` in 0x-prefixed
hex (``0x0000_0000_0000_0000`` for an unused one); lines 0-5 are the
standard BARs (a 64-bit BAR takes two, the second all zero), line 6 the
expansion ROM, later lines the SR-IOV VF BARs, which are the VFs' and not
the GPU's.
"""

import dataclasses
import os

# include/linux/ioport.h
IORESOURCE_MEM = 0x200
IORESOURCE_PREFETCH = 0x2000
IORESOURCE_MEM_64 = 0x100000
STANDARD_BARS = 6
# The file has some 20 lines of 57 characters.
_MAX_RESOURCE = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Bar:
    """One region of the ``resource`` file."""

    index: int
    start: int
    end: int
    flags: int

    @property
    def size(self) -> int:
        """``end - start + 1``; 0 for an unused region (all zero)."""
        return self.end - self.start + 1 if self.end else 0

    @property
    def large(self) -> bool:
        """A 64-bit prefetchable memory BAR: mapped above the guest RAM."""
        wanted = IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_MEM_64
        return (self.index < STANDARD_BARS and self.size > 0
                and self.flags & wanted == wanted)


def parse_resource(text: str) -> tuple[Bar, ...]:
    """The regions of a ``resource`` file; ValueError if a line is not one."""
    bars = []
    for index, line in enumerate(text.splitlines()):
        fields = line.split()
        if len(fields) != 3:
            raise ValueError(f'line {index + 1} is not "start end flags"')
        start, end, flags = (int(f, 16) for f in fields)
        if end and end < start:
            raise ValueError(f'line {index + 1} ends before it starts')
        bars.append(Bar(index, start, end, flags))
    return tuple(bars)


def large_bar_bytes(bars: tuple[Bar, ...]) -> int:
    """Total size of the 64-bit prefetchable BARs."""
    return sum(bar.size for bar in bars if bar.large)


def read_bar_bytes(root: str, address: str) -> int | None:
    """``large_bar_bytes`` of the function at ``address``; None if unknown.

    Unknown: the file is absent (a copied tree without it), unreadable,
    larger than any real one or not in the kernel's format.
    """
    path = os.path.join(root, 'sys/bus/pci/devices', address, 'resource')
    try:
        with open(path, 'rb') as stream:
            data = stream.read(_MAX_RESOURCE + 1)
        if len(data) > _MAX_RESOURCE:
            return None
        return large_bar_bytes(parse_resource(data.decode('ascii')))
    except (OSError, ValueError):
        return None
