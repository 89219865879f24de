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

"""Whether a GPU flavor's guest can map its RAM and all its GPUs' BARs.

A 4 x H100 VM with 1 TiB of RAM sees 3, 2 or 1 GPUs when its physical
address space cannot hold RAM plus the GPUs' 64-bit BARs: the firmware
leaves out the BARs that do not fit. Pure: flavors and images in,
findings with the ``openstack`` line that fixes each out; the guest's
layout is :mod:`address_space`'s.
"""

import dataclasses
import re
import typing as ty

from nova_gpu_ext.admin import address_space
from nova_gpu_ext.admin import flavors
from nova_gpu_ext.common import catalog
from nova_gpu_ext.gpu import models

CPU_MODES = ('host-passthrough', 'host-model', 'custom')
MACHINE_TYPE_PROPERTY = 'hw_machine_type'
FIRMWARE_PROPERTY = 'hw_firmware_type'

_ALIAS_ITEM = re.compile(r'^\s*([^:,]+?)\s*:\s*([0-9]+)\s*$')


@dataclasses.dataclass(frozen=True)
class Finding:
    """A flavor or image that a large VM fails with, and the fix line."""

    code: str
    flavor: str
    image: str
    problem: str
    fix: str


@dataclasses.dataclass(frozen=True)
class Hosts:
    """What is known of the hosts: their CPU mode and address bits."""

    cpu_mode: str = 'host-model'
    phys_bits: int | None = None


def gpu_counts(flavor: flavors.Flavor) -> list[tuple[str, int]]:
    """``(alias, count)`` of the flavor's ``pci_passthrough:alias``."""
    items = []
    for item in str(flavor.extra_specs.get(flavors.ALIAS_SPEC, '')).split(
            ','):
        match = _ALIAS_ITEM.match(item)
        if match:
            items.append((match.group(1), int(match.group(2))))
    return items


def bar_bytes_of(gpu_catalog: catalog.Catalog, alias: str) -> int | None:
    """One GPU's BAR bytes for an alias: a class's largest member's.

    None when the alias is not the catalog's or a model's size is unknown.
    """
    members = [m for m in gpu_catalog.models if m.alias == alias]
    for gpu_class in gpu_catalog.classes:
        if gpu_class.alias == alias:
            members = [gpu_catalog.model(n) for n in gpu_class.models]
    sizes = [m.bar_bytes for m in members]
    if not sizes or None in sizes:
        return None
    return max(sizes)


def guest_bits(flavor: flavors.Flavor, hosts: Hosts) -> int | None:
    """The guest's physical address bits; None if the hosts' are unknown."""
    specs = flavor.extra_specs
    mode = specs.get(models.MAXPHYSADDR_MODE_SPEC)
    if mode == 'emulate':
        return _int(specs.get(models.MAXPHYSADDR_BITS_SPEC))
    if mode == 'passthrough' or hosts.cpu_mode == 'host-passthrough':
        return hosts.phys_bits
    return address_space.DEFAULT_PHYS_BITS


def _int(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def check_flavor(flavor: flavors.Flavor, gpu_catalog: catalog.Catalog,
                 hosts: Hosts) -> list[Finding]:
    """A GPU flavor's address space against its RAM and BARs."""
    counts = gpu_counts(flavor)
    if not counts:
        return []
    sizes = [(alias, count, bar_bytes_of(gpu_catalog, alias))
             for alias, count in counts]
    unknown = [alias for alias, _, size in sizes if size is None]
    if unknown:
        return [_unknown_bars(flavor, unknown)]
    total = sum(count * size for _, count, size in sizes)
    return _address_space(flavor, total, hosts)


def _address_space(flavor, total, hosts) -> list[Finding]:
    bits = guest_bits(flavor, hosts)
    needed = address_space.needed_bits(flavor.ram, total)
    specs = flavor.extra_specs
    if (specs.get(models.MAXPHYSADDR_MODE_SPEC) == 'emulate'
            and bits is None):
        return [_finding('maxphysaddr-bits-missing', flavor, total, needed,
                         hosts, 'hw:maxphysaddr_mode=emulate without a '
                         'valid hw:maxphysaddr_bits: nova refuses to '
                         'build the guest')]
    if bits is None:
        return [Finding(
            'host-phys-bits-unknown', flavor.name, '',
            f'the guest takes the host CPU\'s address bits, which are not '
            f'given; it needs {_bits(needed)} for {flavor.ram} MiB of RAM '
            f'and {_gib(total)} of BARs', 'give --host-phys-bits N (the '
            'smallest "phys-bits" of check-host on the GPU hosts)')]
    findings = []
    if hosts.phys_bits is not None and bits > hosts.phys_bits:
        findings.append(_finding(
            'maxphysaddr-above-host', flavor, total, needed, hosts,
            f'{bits} guest address bits, more than the hosts\' '
            f'{hosts.phys_bits}: QEMU refuses to start the guest'))
    if not address_space.fits(flavor.ram, total, bits):
        findings.append(_finding(
            'address-space-too-small', flavor, total, needed, hosts,
            f'{flavor.ram} MiB of RAM and {_gib(total)} of 64-bit GPU BARs '
            f'do not fit in {bits} address bits (RAM below '
            f'{_gib(2 ** bits - 2 ** (bits - 3))}, BARs in a '
            f'{_gib(2 ** (bits - 3))} window): the guest sees fewer GPUs '
            f'than it was given'))
    return findings


def _finding(code, flavor, total, needed, hosts, problem) -> Finding:
    return Finding(code, flavor.name, '', problem,
                   _fix_line(flavor, total, needed, hosts))


def _fix_line(flavor, total, needed, hosts) -> str:
    """``openstack flavor set`` with the fewest bits that hold it all."""
    if needed is None or (hosts.phys_bits is not None
                          and needed > hosts.phys_bits):
        limit = min(address_space.FIRMWARE_MAX_BITS,
                    hosts.phys_bits or address_space.FIRMWARE_MAX_BITS)
        return (f'no guest address space of at most {limit} bits holds '
                f'{flavor.ram} MiB and {_gib(total)} of BARs: make a flavor '
                'with less RAM or fewer GPUs (nova cannot resize a flavor)')
    return ('openstack flavor set --property '
            f'{models.MAXPHYSADDR_MODE_SPEC}=emulate --property '
            f'{models.MAXPHYSADDR_BITS_SPEC}={needed} {flavor.name}')


def _unknown_bars(flavor, aliases) -> Finding:
    return Finding(
        'bar-size-unknown', flavor.name, '',
        f'the BAR size of {", ".join(aliases)} is not in the catalog, so '
        'the guest address space cannot be checked',
        'set bar_bytes in the model\'s [gpu:NAME] section (nova-gpu-ext '
        'discover --ini on a host with the GPU prints it)')


def check_image(name: str, props: ty.Mapping[str, ty.Any]) -> list[Finding]:
    """q35 and UEFI, which a guest with 64-bit GPU BARs needs.

    The 64-bit window above is OVMF's; SeaBIOS on the i440fx (``pc``)
    machine type maps large BARs poorly or not at all.
    """
    findings = []
    machine = str(props.get(MACHINE_TYPE_PROPERTY) or '')
    if 'q35' not in machine:
        findings.append(Finding(
            'image-not-q35', '', name,
            f'{MACHINE_TYPE_PROPERTY} is {machine or "not set"}: the guest '
            'gets the compute\'s default machine type, and on pc (i440fx) '
            'large BARs do not map',
            f'openstack image set --property {MACHINE_TYPE_PROPERTY}=q35 '
            f'{name}'))
    firmware = str(props.get(FIRMWARE_PROPERTY) or '')
    if firmware != 'uefi':
        findings.append(Finding(
            'image-not-uefi', '', name,
            f'{FIRMWARE_PROPERTY} is {firmware or "not set"}: the guest '
            'boots SeaBIOS, whose 64-bit PCI window does not grow with the '
            'address space',
            f'openstack image set --property {FIRMWARE_PROPERTY}=uefi '
            f'{name}'))
    return findings


def _gib(size: int) -> str:
    return f'{size / address_space.GIB:.2f} GiB'


def _bits(bits: int | None) -> str:
    return 'more than the firmware\'s 46 bits' if bits is None else (
        f'{bits} bits')
