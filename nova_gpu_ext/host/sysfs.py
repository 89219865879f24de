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

What is read is not trusted: ids, class codes and numbers are parsed
strictly (hex of the kernel's length, decimal), names are kept only if
they are plain names, and text meant for people (pci.ids names) loses its
control characters, so nothing read can change the structure of what the
commands print. A file that is absent where absence is normal (no
``driver`` link: unbound) reads as unknown; one that exists but cannot be
read, does not parse, or a link that dangles or loops, becomes a
:class:`ReadProblem` of the facts, which check-host reports instead of
letting a GPU vanish.
"""

import dataclasses
import errno
import os
import re
import typing as ty

from nova_gpu_ext import exception

PCI_ADDRESS = re.compile(
    r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$', re.IGNORECASE)

# pci.ids locations of the common distributions (Debian/Ubuntu first).
PCI_IDS_PATHS = ('usr/share/misc/pci.ids', 'usr/share/hwdata/pci.ids')

MODPROBE_DIRS = ('etc/modprobe.d', 'lib/modprobe.d', 'usr/lib/modprobe.d')

# Class code prefixes (class byte, or class and subclass bytes).
DISPLAY_CLASS = '03'
BRIDGE_CLASS = '0604'

# Attribute files are a few bytes; a larger one is not a sysfs attribute.
_MAX_ATTRIBUTE = 4096
# /proc/cpuinfo of a large host, a long modprobe.d file, modules.dep.
_MAX_TEXT = 16 * 1024 * 1024
# Bytes asked of the kernel per read. procfs and sysfs handlers allocate
# a buffer of the size asked for: on Linux 6.x one read of 4 MiB or more
# from /proc/sys fails with ENOMEM, however small the file. 64 KiB is
# what cat asks for on most systems and holds any attribute in one read.
READ_CHUNK = 64 * 1024

_NAME = re.compile(r'^[A-Za-z0-9_.+-]+$')
_DECIMAL = re.compile(r'^-?[0-9]+$')


class HostReadError(exception.BadInput):
    """ROOT does not hold a readable PCI sysfs tree."""


@dataclasses.dataclass(frozen=True)
class ReadProblem:
    """A file or link that exists but could not be read or understood.

    ``address`` is the PCI function it belongs to (None for host-wide
    files). A function whose vendor, device or class cannot be read is
    left out of the facts: whether it is a GPU is unknown.
    """

    path: str
    reason: str
    address: str | None = None

    def __str__(self):
        return f'cannot read {printable(self.path)}: {printable(self.reason)}'


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
    problems: tuple[ReadProblem, ...] = ()
    # The CPU's physical address bits: a guest's physical address space
    # (hw:maxphysaddr_bits) can be no larger. None where cpuinfo does not
    # say (not x86).
    phys_bits: int | None = None

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
            f'cannot read PCI devices under {printable(devices_dir)}: '
            f'{exc.strerror}; --root must be a host root holding '
            f'sys/bus/pci/devices') from exc
    reader = _Reader()
    names = read_pci_ids(root)
    functions = tuple(f for f in (
        _read_function(reader, devices_dir, a, names) for a in addresses)
        if f is not None)
    cmdline = tuple((reader.text(root, 'proc/cmdline') or '').split())
    return HostFacts(
        root=root,
        functions=functions,
        iommu_groups=_read_iommu_groups(reader, root, functions),
        cmdline=cmdline,
        loaded_modules=_read_loaded_modules(reader, root),
        available_modules=_read_available_modules(reader, root),
        blacklisted_modules=_read_blacklisted_modules(reader, root, cmdline),
        cpu_vendor=_read_cpu_vendor(reader, root),
        problems=tuple(reader.problems),
        phys_bits=_read_phys_bits(reader, root))


def read_bounded(path: str, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of ``path``, :data:`READ_CHUNK` at a time.

    One byte over ``limit`` tells the caller the file is larger than it
    accepts. Unbuffered, so each read asks the kernel for one chunk.

    :raises OSError: as ``open`` and ``read`` raise it.
    """
    chunks = []
    size = 0
    with open(path, 'rb', buffering=0) as stream:
        while size <= limit:
            chunk = stream.read(min(READ_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    return b''.join(chunks)


def module_name(name: str) -> str:
    """modprobe treats ``-`` and ``_`` alike; compare on ``_``."""
    return name.replace('-', '_')


def printable(text: str) -> str:
    """``text`` with every character that is not printable as ``?``.

    Whatever was read (a pci.ids name, a file name) can then hold no line
    break, terminal escape or other character that changes the layout of
    the output it is printed in.
    """
    return ''.join(c if c.isprintable() else '?' for c in str(text))


class _Reader:
    """Reads attributes and links, keeping what went wrong as problems."""

    def __init__(self):
        self.problems: list[ReadProblem] = []

    def problem(self, path: str, reason: str,
                address: str | None = None) -> None:
        self.problems.append(ReadProblem(path, reason, address))

    def text(self, *path: str, address: str | None = None,
             required: bool = False, limit: int = _MAX_TEXT) -> str | None:
        """A file's text, stripped, or None.

        None when the file is absent (a problem if ``required``), cannot
        be read or is not text (a problem).
        """
        full = os.path.join(*path)
        try:
            data = read_bounded(full, limit)
        except FileNotFoundError:
            if required or os.path.islink(full):
                self.problem(full, _missing(full), address)
            return None
        except OSError as exc:
            self.problem(full, exc.strerror or str(exc), address)
            return None
        if len(data) > limit:
            self.problem(full, f'larger than {limit} bytes', address)
            return None
        try:
            return data.decode('utf-8').strip()
        except UnicodeDecodeError:
            self.problem(full, 'not UTF-8 text', address)
            return None

    def parsed(self, directory: str, name: str, pattern: re.Pattern,
               what: str, address: str, required: bool = False
               ) -> str | None:
        """An attribute matching ``pattern``; None (a problem) if not."""
        value = self.text(directory, name, address=address,
                          required=required, limit=_MAX_ATTRIBUTE)
        if value is None:
            return None
        if not pattern.match(value):
            self.problem(os.path.join(directory, name),
                         f'{value[:40]!r} is not {what}', address)
            return None
        return value

    def link(self, directory: str, name: str, address: str,
             pattern: re.Pattern = _NAME) -> str | None:
        """The name a link leads to (driver, iommu_group); None if absent.

        A link that dangles or loops, or leads to an odd name, is a
        problem: the function's state is then unknown, not "none".
        """
        path = os.path.join(directory, name)
        if not os.path.islink(path):
            if os.path.lexists(path):
                self.problem(path, 'not a symbolic link', address)
            return None
        try:
            target = os.path.realpath(path, strict=True)
        except OSError as exc:
            self.problem(path, _link_failure(path, exc), address)
            return None
        target_name = os.path.basename(target)
        if not pattern.match(target_name):
            self.problem(path, f'leads to {target_name[:40]!r}, not a '
                         f'{name} name', address)
            return None
        return target_name


def _missing(path: str) -> str:
    if os.path.islink(path):
        return f'the link dangles (to {os.readlink(path)})'
    return 'No such file or directory'


def _link_failure(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return 'the link loops'
    if exc.errno == errno.ENOENT:
        return f'the link dangles (to {os.readlink(path)})'
    return exc.strerror or str(exc)


# The kernel writes ids and class as 0x-prefixed hex of fixed length.
_HEX4 = re.compile(r'^(0x)?[0-9a-fA-F]{4}$')
_HEX6 = re.compile(r'^(0x)?[0-9a-fA-F]{6}$')
_DIGITS = re.compile(r'^[0-9]+$')
_BIT = re.compile(r'^[01]$')
_PCI_IDS_ID = re.compile(r'^[0-9a-fA-F]{4}$')


def _read_function(reader: _Reader, devices_dir: str, address: str,
                   names: ty.Mapping) -> PciFunction | None:
    """One function's facts; None (a problem) when its ids are unknown."""
    path = os.path.join(devices_dir, address)
    address = address.lower()
    try:
        if not os.path.isdir(os.path.realpath(path, strict=True)):
            reader.problem(path, 'not a directory', address)
            return None
    except OSError as exc:
        reader.problem(path, _link_failure(path, exc), address)
        return None
    ids = [reader.parsed(path, attr, pattern, what, address, required=True)
           for attr, pattern, what in (
               ('vendor', _HEX4, '4 hex digits'),
               ('device', _HEX4, '4 hex digits'),
               ('class', _HEX6, '6 hex digits'))]
    if None in ids:
        return None
    vendor, product, class_code = (_hex(i) for i in ids)
    vendor_name, device_names = names.get(vendor, (None, {}))
    return PciFunction(
        address=address,
        vendor_id=vendor,
        product_id=product,
        class_code=class_code,
        driver=reader.link(path, 'driver', address),
        numa_node=_numa_node(reader.parsed(
            path, 'numa_node', _DECIMAL, 'a number', address)),
        iommu_group=reader.link(path, 'iommu_group', address, _DIGITS),
        sriov_totalvfs=int(reader.parsed(
            path, 'sriov_totalvfs', _DIGITS, 'a count', address) or 0),
        is_virtfn=os.path.islink(os.path.join(path, 'physfn')),
        boot_vga=reader.parsed(path, 'boot_vga', _BIT, '0 or 1',
                               address) == '1',
        parent=_parent_bridge(path),
        vendor_name=vendor_name,
        device_name=device_names.get(product))


def _read_iommu_groups(
    reader: _Reader, root: str, functions: ty.Iterable[PciFunction],
) -> dict[str, tuple[str, ...]]:
    """IOMMU group -> member addresses.

    The kernel's ``/sys/kernel/iommu_groups`` is the source; functions
    whose ``iommu_group`` link names a group missing there (a partial copy
    of a tree) are added from their own link. Entries that are not a
    group number or a PCI address are not groups or members.
    """
    groups: dict[str, set[str]] = {}
    groups_dir = os.path.join(root, 'sys/kernel/iommu_groups')
    for group in _listdir(reader, groups_dir):
        if not _DIGITS.match(group):
            continue
        members = _listdir(reader, os.path.join(groups_dir, group,
                                                'devices'))
        groups[group] = {m.lower() for m in members if PCI_ADDRESS.match(m)}
    for function in functions:
        if function.iommu_group is not None:
            groups.setdefault(function.iommu_group, set()).add(
                function.address)
    return {g: tuple(sorted(members)) for g, members in groups.items()}


def _listdir(reader: _Reader, path: str) -> list[str]:
    """Entries of a directory; none when it is absent.

    A directory that exists but cannot be listed is a problem.
    """
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []
    except OSError as exc:
        reader.problem(path, exc.strerror or str(exc))
        return []


def read_pci_ids(root: str) -> dict[str, tuple[str, dict[str, str]]]:
    """vendor id -> (vendor name, {device id: device name}) from pci.ids.

    Empty when the host has no readable pci.ids: names are a convenience,
    ids are what the catalog and nova use.
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
    """Parse vendor and device lines; the class list at the end is unused.

    Only ids of 4 hex digits are kept, names without control characters.
    """
    vendors: dict[str, tuple[str, dict[str, str]]] = {}
    devices: dict[str, str] = {}
    for line in lines:
        if line.startswith('C '):
            break
        if not line.strip() or line.startswith('#'):
            continue
        ident, _, name = line.strip().partition(' ')
        if not _PCI_IDS_ID.match(ident):
            continue
        if not line.startswith('\t'):
            devices = {}
            vendors[ident.lower()] = (printable(name.strip()), devices)
        elif not line.startswith('\t\t'):
            devices[ident.lower()] = printable(name.strip())
    return vendors


def _read_loaded_modules(reader: _Reader, root: str) -> frozenset[str]:
    """Loaded and built-in modules.

    ``/proc/modules`` lists loadable modules only; a built-in module (vfio
    is built into some distribution kernels) shows as ``/sys/module/NAME``
    when it has parameters, and is always in ``modules.builtin``.
    """
    names = {line.split()[0] for line in
             (reader.text(root, 'proc/modules') or '').splitlines()
             if line.strip()}
    names.update(_listdir(reader, os.path.join(root, 'sys/module')))
    names.update(_module_index(reader, root, 'modules.builtin') or ())
    return frozenset(module_name(n) for n in names if _NAME.match(n))


def _read_available_modules(reader: _Reader,
                            root: str) -> frozenset[str] | None:
    """Modules the running kernel can load; None when that is unknown."""
    loadable = _module_index(reader, root, 'modules.dep')
    if loadable is None:
        return None
    return frozenset(
        loadable | (_module_index(reader, root, 'modules.builtin') or set()))


def _module_index(reader: _Reader, root: str,
                  index: str) -> set[str] | None:
    """Module names in an index of the running kernel's module tree."""
    release = reader.text(root, 'proc/sys/kernel/osrelease') or ''
    if not _NAME.match(release):
        return None
    modules_dir = os.path.join(root, 'lib/modules', release)
    if not os.path.isdir(modules_dir):
        return None
    text = reader.text(modules_dir, index)
    if text is None:
        return None
    names = set()
    for line in text.splitlines():
        path = line.split(':', 1)[0].strip()
        name = os.path.basename(path).split('.ko')[0]
        if _NAME.match(name):
            names.add(module_name(name))
    return names


def _read_blacklisted_modules(reader: _Reader, root: str,
                              cmdline: ty.Sequence[str]) -> frozenset[str]:
    """Modules kept from loading by modprobe.d or the kernel line.

    ``blacklist NAME`` and ``install NAME /bin/false`` (or ``/bin/true``)
    in modprobe.d, and ``modprobe.blacklist=`` / ``module_blacklist=`` on
    the kernel command line.
    """
    names = set()
    for directory in MODPROBE_DIRS:
        path = os.path.join(root, directory)
        for entry in _listdir(reader, path):
            if entry.endswith('.conf'):
                names.update(_blacklisted_in(
                    reader.text(path, entry) or ''))
    for word in cmdline:
        key, _, value = word.partition('=')
        if key in ('modprobe.blacklist', 'module_blacklist'):
            names.update(v for v in value.split(',') if v)
    return frozenset(module_name(n) for n in names if _NAME.match(n))


def _blacklisted_in(text: str) -> ty.Iterator[str]:
    for line in text.splitlines():
        words = line.split('#', 1)[0].split()
        if len(words) == 2 and words[0] == 'blacklist':
            yield words[1]
        elif (len(words) >= 3 and words[0] == 'install'
              and os.path.basename(words[2]) in ('false', 'true')):
            yield words[1]


def _read_cpu_vendor(reader: _Reader, root: str) -> str | None:
    """``GenuineIntel`` or ``AuthenticAMD``: which IOMMU switch applies."""
    for line in (reader.text(root, 'proc/cpuinfo') or '').splitlines():
        key, _, value = line.partition(':')
        if key.strip() == 'vendor_id':
            return value.strip() if _NAME.match(value.strip()) else None
    return None


# "address sizes\t: 46 bits physical, 48 bits virtual" (x86 /proc/cpuinfo)
_ADDRESS_SIZES = re.compile(r'^address sizes\s*:\s*([0-9]{1,3}) bits physical')


def _read_phys_bits(reader: _Reader, root: str) -> int | None:
    """The physical address bits of the host's CPU (the first one's)."""
    for line in (reader.text(root, 'proc/cpuinfo') or '').splitlines():
        match = _ADDRESS_SIZES.match(line)
        if match:
            return int(match.group(1))
    return None


def _parent_bridge(path: str) -> str | None:
    """The upstream bridge: the device directory holding this one.

    ``/sys/bus/pci/devices/ADDR`` links into ``/sys/devices``, where a
    function behind a bridge sits in the bridge's directory.
    """
    parent = os.path.basename(os.path.dirname(os.path.realpath(path)))
    return parent.lower() if PCI_ADDRESS.match(parent) else None


def _hex(value: str) -> str:
    return value.lower().removeprefix('0x')


def _numa_node(value: str | None) -> int | None:
    if value is None:
        return None
    node = int(value)
    return node if node >= 0 else None
