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

"""Where a GPU sits in the PCIe tree: its root port and its PCIe switch.

Peer-to-peer traffic between two GPUs below one PCIe switch stays in the
switch; between GPUs below different switches (or straight on root
ports) it crosses the root complex and the CPU interconnect, at a
fraction of the bandwidth. The switch is what a multi-GPU server should
be kept under.

sysfs nests every function in the directory of the bridge above it
(``/sys/devices/pci0000:40/0000:40:01.1/0000:41:00.0/...``), so the chain
of bridges above a GPU is the chain of ``parent`` links that
:mod:`sysfs` already read, each with its class. A PCIe switch shows as an
upstream port (a bridge) with downstream ports (bridges) below it; the
GPU hangs off a downstream port::

    root port (bridge, on the root bus pciDDDD:BB)
      upstream port (bridge)      <- the switch, named by this address
        downstream port (bridge)
          GPU, and its audio function at .1

So the switch of a GPU is the bridge right below its root port, when that
bridge has a bridge below it on the way to the GPU. With switches
cascaded (or a GPU that brings its own switch, as AMD cards do), it is
the topmost one: all traffic below it stays off the root complex. A GPU
right below its root port (or below a single bridge) has no switch: it is
its own domain.

The address of the upstream port is the switch's name. It is stable
across reboots as long as the firmware numbers the buses the same, which
changes only with the hardware or a firmware update.
"""

import dataclasses
import typing as ty

from nova_gpu_ext.host import sysfs

# Bridges from the root port down to a GPU's downstream port: root port,
# upstream port, downstream port.
_SWITCH_DEPTH = 3


@dataclasses.dataclass(frozen=True)
class PciePath:
    """The bridges above one function, root port first.

    ``unknown`` is the address of an ancestor that is not in the facts (it
    could not be read: a read problem says why) or is not a bridge; the
    path above it, and so the root port and the switch, are then unknown.
    """

    address: str
    bridges: tuple[str, ...] = ()
    unknown: str | None = None

    @property
    def root_port(self) -> str | None:
        if self.unknown is not None or not self.bridges:
            return None
        return self.bridges[0]

    @property
    def pcie_switch(self) -> str | None:
        """The switch's upstream port address; None without a switch."""
        if self.unknown is not None or len(self.bridges) < _SWITCH_DEPTH:
            return None
        return self.bridges[1]


def pcie_path(facts: sysfs.HostFacts,
              function: sysfs.PciFunction) -> PciePath:
    """The bridges above ``function``, from its parent up to the root bus."""
    bridges: list[str] = []
    parent = function.parent
    while parent is not None:
        bridge = facts.function(parent)
        if bridge is None or not bridge.is_bridge or parent in bridges:
            return PciePath(function.address, tuple(reversed(bridges)),
                            unknown=parent)
        bridges.append(parent)
        parent = bridge.parent
    return PciePath(function.address, tuple(reversed(bridges)))


def pcie_paths(facts: sysfs.HostFacts,
               functions: ty.Iterable[sysfs.PciFunction]
               ) -> dict[str, PciePath]:
    """Address -> path of each of ``functions``."""
    return {f.address: pcie_path(facts, f) for f in functions}


def per_switch(paths: ty.Iterable[PciePath]
               ) -> dict[str | None, tuple[PciePath, ...]]:
    """Paths grouped by switch (None: no switch or unknown), sorted."""
    groups: dict[str | None, list[PciePath]] = {}
    for path in sorted(paths, key=lambda p: p.address):
        groups.setdefault(path.pcie_switch, []).append(path)
    return {switch: tuple(group) for switch, group in sorted(
        groups.items(), key=lambda item: (item[0] is None, item[0] or ''))}
