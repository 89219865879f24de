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

"""Host facts for GPU passthrough, read from sysfs, procfs and /etc.

Everything is read below a ROOT directory (``/`` on a live host), so the
same code runs against a tree copied from another host and against the
synthetic trees of the tests. Nothing here writes, imports nova or reads
the global ``CONF``: ``read_host(root)`` is the library entry point for
the compute-side tooling.
"""

import dataclasses
import glob
import os
import re
import typing as ty

PCI_ADDRESS = re.compile(
    r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$', re.IGNORECASE)

# pci.ids locations of the common distributions (Debian/Ubuntu first).
PCI_IDS_PATHS = ('usr/share/misc/pci.ids', 'usr/share/hwdata/pci.ids')

MODPROBE_DIRS = ('etc/modprobe.d', 'lib/modprobe.d', 'usr/lib/modprobe.d')

# Class code prefixes (class byte, or class and subclass bytes).
DISPLAY_CLASS = '03'
BRIDGE_CLASS = '0604'


class HostReadError(Exception):
    """ROOT does not hold a readable PCI sysfs tree."""


@dataclasses.dataclass(frozen=True)
class PciFunction:
    """One PCI function as sysfs shows it; ids are 4 lower-case hex digits.

    ``numa_node`` is None where sysfs says -1 (no NUMA information);
    ``parent`` is the address of the upstream bridge, None when the
    function sits directly on a root bus.
    """

    address: str
    vendor_id: str
    product_id: str
    class_code: str
    driver: str | None = None
    numa_node: int | None = None
    iommu_group: str | None = None
    sriov_totalvfs: int = 0
    is_virtfn: bool = False
    boot_vga: bool = False
    parent: str | None = None
    vendor_name: str | None = None
    device_name: str | None = None

    @property
    def ids(self) -> str:
        return f'{self.vendor_id}:{self.product_id}'

    @property
    def slot(self) -> str:
        """``domain:bus:device``: the functions of one card share it."""
        return self.address.rsplit('.', 1)[0]

    @property
    def is_gpu(self) -> bool:
        return self.class_code.startswith(DISPLAY_CLASS)

    @property
    def is_bridge(self) -> bool:
        return self.class_code.startswith(BRIDGE_CLASS)

    @property
    def device_type(self) -> str:
        """The nova ``device_type`` the function must be declared with.

        An SR-IOV capable function is a ``type-PF`` to nova whether or not
        VFs are enabled; a ``type-PCI`` alias matches nothing for it.
        """
        if self.is_virtfn:
            return 'type-VF'
        return 'type-PF' if self.sriov_totalvfs > 0 else 'type-PCI'

    @property
    def label(self) -> str:
        """Human name: pci.ids names when known, the ids otherwise."""
        if self.device_name:
            return f'{self.vendor_name or self.vendor_id} {self.device_name}'
        return self.ids


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """What the host readiness checks and ``discover`` need to know."""

    root: str
    functions: tuple[PciFunction, ...]
    iommu_groups: ty.Mapping[str, tuple[str, ...]]
    cmdline: tuple[str, ...] = ()
    loaded_modules: frozenset[str] = frozenset()
    available_modules: frozenset[str] | None = None
    blacklisted_modules: frozenset[str] = frozenset()
    cpu_vendor: str | None = None

    def function(self, address: str) -> PciFunction | None:
        return next(
            (f for f in self.functions if f.address == address), None)

    @property
    def gpus(self) -> tuple[PciFunction, ...]:
        return tuple(f for f in self.functions if f.is_gpu)

    def group_members(self, function: PciFunction) -> tuple[PciFunction, ...]:
        """The functions of ``function``'s IOMMU group, itself included."""
        addresses = self.iommu_groups.get(function.iommu_group or '', ())
        members = (self.function(a) for a in addresses)
        return tuple(m for m in members if m is not None)

    def same_card(self, function: PciFunction) -> tuple[PciFunction, ...]:
        """The other functions of the card: same slot, any IOMMU group."""
        return tuple(f for f in self.functions
                     if f.slot == function.slot and f != function)


def read_host(root: str = '/') -> HostFacts:
    """Read every host fact below ``root``; raise HostReadError if absent."""
    devices_dir = os.path.join(root, 'sys/bus/pci/devices')
    try:
        addresses = sorted(a for a in os.listdir(devices_dir)
                           if PCI_ADDRESS.match(a))
    except OSError as exc:
        raise HostReadError(
            f'cannot read PCI devices under {devices_dir}: '
            f'{exc.strerror}; --root must be a host root holding '
            f'sys/bus/pci/devices') from exc
    names = read_pci_ids(root)
    functions = tuple(
        read_function(devices_dir, a, names) for a in addresses)
    return HostFacts(
        root=root,
        functions=functions,
        iommu_groups=read_iommu_groups(root, functions),
        cmdline=tuple(_read(root, 'proc/cmdline').split()),
        loaded_modules=read_loaded_modules(root),
        available_modules=read_available_modules(root),
        blacklisted_modules=read_blacklisted_modules(root),
        cpu_vendor=read_cpu_vendor(root))


def read_function(devices_dir: str, address: str,
                  names: ty.Mapping) -> PciFunction:
    """One function's facts; missing attribute files read as unknown."""
    path = os.path.join(devices_dir, address)
    vendor = _hex_id(_read(path, 'vendor'))
    product = _hex_id(_read(path, 'device'))
    vendor_name, device_names = names.get(vendor, (None, {}))
    return PciFunction(
        address=address.lower(),
        vendor_id=vendor,
        product_id=product,
        class_code=_read(path, 'class').lower().removeprefix('0x'),
        driver=_link_name(path, 'driver'),
        numa_node=_numa_node(_read(path, 'numa_node')),
        iommu_group=_link_name(path, 'iommu_group'),
        sriov_totalvfs=_int(_read(path, 'sriov_totalvfs')),
        is_virtfn=os.path.islink(os.path.join(path, 'physfn')),
        boot_vga=_read(path, 'boot_vga') == '1',
        parent=_parent_bridge(path),
        vendor_name=vendor_name,
        device_name=device_names.get(product))


def read_iommu_groups(
    root: str, functions: ty.Iterable[PciFunction],
) -> dict[str, tuple[str, ...]]:
    """IOMMU group -> member addresses.

    The kernel's ``/sys/kernel/iommu_groups`` is the source; functions
    whose ``iommu_group`` link names a group missing there (a partial copy
    of a tree) are added from their own link.
    """
    groups: dict[str, set[str]] = {}
    for path in glob.glob(os.path.join(
            root, 'sys/kernel/iommu_groups/*/devices/*')):
        group = os.path.basename(os.path.dirname(os.path.dirname(path)))
        groups.setdefault(group, set()).add(os.path.basename(path).lower())
    for function in functions:
        if function.iommu_group is not None:
            groups.setdefault(function.iommu_group, set()).add(
                function.address)
    return {g: tuple(sorted(members)) for g, members in groups.items()}


def read_pci_ids(root: str) -> dict[str, tuple[str, dict[str, str]]]:
    """vendor id -> (vendor name, {device id: device name}) from pci.ids.

    Empty when the host has no pci.ids: names are a convenience, ids are
    what the catalog and nova use.
    """
    for relative in PCI_IDS_PATHS:
        try:
            with open(os.path.join(root, relative),
                      encoding='utf-8', errors='replace') as ids_file:
                return _parse_pci_ids(ids_file)
        except OSError:
            continue
    return {}


def _parse_pci_ids(lines: ty.Iterable[str]) -> dict:
    """Parse vendor and device lines; the class list at the end is unused."""
    vendors: dict[str, tuple[str, dict[str, str]]] = {}
    devices: dict[str, str] = {}
    for line in lines:
        if line.startswith('C '):
            break
        if not line.strip() or line.startswith('#'):
            continue
        if not line.startswith('\t'):
            vendor, _, name = line.strip().partition(' ')
            devices = {}
            vendors[vendor.lower()] = (name.strip(), devices)
        elif not line.startswith('\t\t'):
            device, _, name = line.strip().partition(' ')
            devices[device.lower()] = name.strip()
    return vendors


def read_loaded_modules(root: str) -> frozenset[str]:
    """Loaded and built-in modules.

    ``/proc/modules`` lists loadable modules only; a built-in module (vfio
    is built into some distribution kernels) shows as ``/sys/module/NAME``
    when it has parameters, and is always in ``modules.builtin``.
    """
    names = {line.split()[0] for line in
             _read(root, 'proc/modules').splitlines() if line.strip()}
    try:
        names.update(os.listdir(os.path.join(root, 'sys/module')))
    except OSError:
        pass
    names.update(_module_index(root, 'modules.builtin') or ())
    return frozenset(module_name(n) for n in names)


def read_available_modules(root: str) -> frozenset[str] | None:
    """Modules the running kernel can load; None when that is unknown."""
    loadable = _module_index(root, 'modules.dep')
    if loadable is None:
        return None
    return loadable | (_module_index(root, 'modules.builtin') or set())


def _module_index(root: str, index: str) -> set[str] | None:
    """Module names in an index of the running kernel's module tree."""
    release = _read(root, 'proc/sys/kernel/osrelease')
    modules_dir = os.path.join(root, 'lib/modules', release)
    if not release or not os.path.isdir(modules_dir):
        return None
    names = set()
    for line in _read(modules_dir, index).splitlines():
        path = line.split(':', 1)[0].strip()
        if path:
            names.add(module_name(os.path.basename(path).split('.ko')[0]))
    return names


def read_blacklisted_modules(root: str) -> frozenset[str]:
    """Modules kept from loading by modprobe.d or the kernel line.

    ``blacklist NAME`` and ``install NAME /bin/false`` (or ``/bin/true``)
    in modprobe.d, and ``modprobe.blacklist=`` / ``module_blacklist=`` on
    the kernel command line.
    """
    names = set()
    for directory in MODPROBE_DIRS:
        for path in sorted(glob.glob(os.path.join(root, directory,
                                                  '*.conf'))):
            names.update(_blacklisted_in(_read(path)))
    for word in _read(root, 'proc/cmdline').split():
        key, _, value = word.partition('=')
        if key in ('modprobe.blacklist', 'module_blacklist'):
            names.update(v for v in value.split(',') if v)
    return frozenset(module_name(n) for n in names)


def _blacklisted_in(text: str) -> ty.Iterator[str]:
    for line in text.splitlines():
        words = line.split('#', 1)[0].split()
        if len(words) == 2 and words[0] == 'blacklist':
            yield words[1]
        elif (len(words) >= 3 and words[0] == 'install'
              and os.path.basename(words[2]) in ('false', 'true')):
            yield words[1]


def read_cpu_vendor(root: str) -> str | None:
    """``GenuineIntel`` or ``AuthenticAMD``: which IOMMU switch applies."""
    for line in _read(root, 'proc/cpuinfo').splitlines():
        key, _, value = line.partition(':')
        if key.strip() == 'vendor_id':
            return value.strip()
    return None


def module_name(name: str) -> str:
    """modprobe treats ``-`` and ``_`` alike; compare on ``_``."""
    return name.replace('-', '_')


def _read(*path: str) -> str:
    """A sysfs/procfs attribute, stripped; '' when absent or unreadable."""
    try:
        with open(os.path.join(*path), encoding='utf-8',
                  errors='replace') as attr:
            return attr.read().strip()
    except OSError:
        return ''


def _link_name(directory: str, name: str) -> str | None:
    """The last component of a symlink target (driver, iommu_group)."""
    try:
        return os.path.basename(os.readlink(os.path.join(directory, name)))
    except OSError:
        return None


def _parent_bridge(path: str) -> str | None:
    """The upstream bridge: the device directory holding this one.

    ``/sys/bus/pci/devices/ADDR`` links into ``/sys/devices``, where a
    function behind a bridge sits in the bridge's directory.
    """
    parent = os.path.basename(os.path.dirname(os.path.realpath(path)))
    return parent.lower() if PCI_ADDRESS.match(parent) else None


def _hex_id(value: str) -> str:
    return value.lower().removeprefix('0x')


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _numa_node(value: str) -> int | None:
    try:
        node = int(value)
    except ValueError:
        return None
    return node if node >= 0 else None
