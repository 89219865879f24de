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

"""The health of passthrough GPUs and their companions, from sysfs alone.

On a passthrough host the GPU belongs to vfio-pci, so NVML, DCGM and the
vendor exporters cannot see it. What the kernel still shows is enough to
find the GPUs nova must not hand to the next tenant: one that fell off
the bus (config space reads all ones until the host reboots), one with
fatal or non-fatal AER errors, one whose link trained to fewer lanes than
it has, one that cannot be reset between tenants, one whose IOMMU group
QEMU refuses. Link *speed* is not judged: idle GPUs train down to save
power and back up under load; lanes are not given back that way.

Read-only. A file the kernel does not offer (no AER capability, an older
kernel without ``reset_method``) leaves its check out instead of guessing.
"""

import dataclasses
import os
import re
import typing as ty

from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import vfio
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs

Check = hostcheck.Check
Status = hostcheck.Status

# What a config space read of a device that left the bus returns.
DEAD_VENDOR = 0xffff
# The standard header; an unprivileged read gets these 64 bytes only.
_CONFIG_SIZE = 4096
_ATTRIBUTE_SIZE = 4096

# The kernel's AER counter files and the line holding each one's total.
AER_FILES = {'fatal': ('aer_dev_fatal', 'TOTAL_ERR_FATAL'),
             'nonfatal': ('aer_dev_nonfatal', 'TOTAL_ERR_NONFATAL'),
             'correctable': ('aer_dev_correctable', 'TOTAL_ERR_COR')}

# The checks ``check-host`` runs on top of its readiness checks; the
# readiness checks already judge bindings (``binding``) and groups
# (``isolation``), ``check-host --health`` runs these two as well.
HEALTH_ONLY = ('driver', 'iommu-group')

CORDON = ('take it out of service: nova-gpu-ext gpu cordon HOST {address} '
          '--reason "..." (placement mode)')

_WIDTH = re.compile(r'^[0-9]+$')


@dataclasses.dataclass(frozen=True)
class Health:
    """What sysfs says of one function's health; None where it is silent.

    ``vendor`` is the vendor id read from config space (``DEAD_VENDOR``
    for a device off the bus); ``aer`` maps ``fatal``, ``nonfatal``,
    ``correctable`` to their totals since boot; ``reset_methods`` is
    empty when the device has none.
    """

    function: sysfs.PciFunction
    gpu: sysfs.PciFunction
    model: str
    # The card's vfio-pci ids= (hostcheck.vfio_ids).
    card_ids: str
    vendor: int | None = None
    config_problem: str | None = None
    aer: ty.Mapping[str, int] = dataclasses.field(default_factory=dict)
    link_width: int | None = None
    max_link_width: int | None = None
    reset_methods: tuple[str, ...] | None = None
    group_outsiders: tuple[sysfs.PciFunction, ...] = ()
    # The host's GPUs the card's vfio-pci ids= would also take.
    sharing: tuple[sysfs.PciFunction, ...] = ()

    @property
    def role(self) -> str:
        return 'gpu' if self.function == self.gpu else 'companion'

    @property
    def what(self) -> str:
        """The function as findings name it: address, model, role."""
        if self.role == 'gpu':
            return f'GPU {self.function.address} ({self.model})'
        return (f'{self.function.address} ({self.function.ids}, companion '
                f'of GPU {self.gpu.address}, {self.model})')

    @property
    def vfio_bound(self) -> bool:
        return vfio.is_vfio_driver(self.function.driver)


def model_name(gpu: sysfs.PciFunction,
               gpu_catalog: catalog.Catalog | None) -> str:
    """The catalog's model name, else the pci.ids name, else the ids."""
    model = gpu_catalog and gpu_catalog.model_by_ids(gpu.vendor_id,
                                                     gpu.product_id)
    return model.name if model else gpu.label


def read_health(facts: sysfs.HostFacts,
                gpus: ty.Sequence[sysfs.PciFunction],
                gpu_catalog: catalog.Catalog | None = None,
                ) -> list[Health]:
    """The health of each GPU and of the other functions of its card."""
    kept = hostcheck.host_kept_gpus(facts, gpu_catalog)
    found = []
    for gpu in gpus:
        model = model_name(gpu, gpu_catalog)
        card = hostcheck.card_functions(facts, gpu)
        card_ids, sharing = hostcheck.vfio_ids(facts, card, kept)
        for function in card:
            found.append(_read_one(facts, function, gpu, model, card_ids,
                                   sharing))
    return found


def _read_one(facts: sysfs.HostFacts, function: sysfs.PciFunction,
              gpu: sysfs.PciFunction, model: str, card_ids: str,
              sharing: tuple[sysfs.PciFunction, ...]) -> Health:
    directory = os.path.join(facts.root, 'sys/bus/pci/devices',
                             function.address)
    vendor, config_problem = _config_vendor(directory)
    outsiders = tuple(m for m in facts.group_members(function)
                      if not m.is_bridge
                      and not vfio.is_vfio_driver(m.driver))
    return Health(
        function=function, gpu=gpu, model=model, card_ids=card_ids,
        sharing=sharing, vendor=vendor,
        config_problem=config_problem, aer=_aer(directory),
        link_width=_width(directory, 'current_link_width'),
        max_link_width=_width(directory, 'max_link_width'),
        reset_methods=_reset_methods(directory),
        group_outsiders=outsiders)


def _attribute(directory: str, name: str) -> str | None:
    """An attribute's text; None when absent or unreadable.

    The kernel makes these attributes readable by every user, so one that
    cannot be read is missing from a copied tree: its check is left out
    rather than guessed.
    """
    try:
        data = sysfs.read_bounded(os.path.join(directory, name),
                                  _ATTRIBUTE_SIZE)
    except OSError:
        return None
    if len(data) > _ATTRIBUTE_SIZE:
        return None
    return data.decode('utf-8', errors='replace').strip()


def _config_vendor(directory: str) -> tuple[int | None, str | None]:
    """(vendor id from config space, why it could not be read)."""
    path = os.path.join(directory, 'config')
    try:
        data = sysfs.read_bounded(path, _CONFIG_SIZE)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, exc.strerror or str(exc)
    if len(data) < 2:
        return None, f'{len(data)} bytes of config space'
    return int.from_bytes(data[:2], 'little'), None


def _aer(directory: str) -> dict[str, int]:
    counts = {}
    for kind, (name, total_key) in AER_FILES.items():
        for line in (_attribute(directory, name) or '').splitlines():
            key, _, value = line.partition(' ')
            if key == total_key and value.strip().isdigit():
                counts[kind] = int(value)
    return counts


def _width(directory: str, name: str) -> int | None:
    value = _attribute(directory, name)
    return int(value) if value and _WIDTH.match(value) else None


def _reset_methods(directory: str) -> tuple[str, ...] | None:
    """The reset methods; () for none, None when the kernel does not say.

    Since Linux 5.15 ``reset_method`` lists them and is hidden when there
    is none; ``reset`` is hidden then too. With neither file the device
    cannot be reset; with ``reset`` alone the kernel predates the list.
    """
    methods = _attribute(directory, 'reset_method')
    if methods is not None:
        return tuple(methods.split())
    if os.path.exists(os.path.join(directory, 'reset')):
        return None
    return ()


def status(health: Health) -> Status:
    """The worst finding of one function: ok, warning or problem."""
    return hostcheck.worst(findings(health))


def findings(health: Health, skip: ty.Collection[str] = ()) -> list[Check]:
    """The health checks of one function, each with what to do."""
    checks = [check(health) for name, check in CHECKS
              if name not in skip]
    return [c for c in checks if c is not None]


def check_host(healths: ty.Iterable[Health],
               skip: ty.Collection[str] = ()) -> list[Check]:
    return [c for h in healths for c in findings(h, skip)]


def check_config(health: Health) -> Check | None:
    subject = health.function.address
    if health.config_problem:
        return Check('config-space', subject, Status.PROBLEM,
                     f'{health.what}: cannot read its config space '
                     f'({health.config_problem})',
                     'run check-host as root; if root cannot read it, '
                     + _dead_remedy(health))
    if health.vendor is None:
        return None
    if health.vendor == DEAD_VENDOR:
        return Check('config-space', subject, Status.PROBLEM,
                     f'{health.what}: config space reads vendor ffff: the '
                     'device is off the bus (often after a failed reset) '
                     'and any VM given it fails to start or hangs',
                     _dead_remedy(health))
    return Check('config-space', subject, Status.OK,
                 f'{health.what}: config space readable (vendor '
                 f'{health.vendor:04x})')


def _dead_remedy(health: Health) -> str:
    return (CORDON.format(address=health.gpu.address) + ', then reboot '
            'the host (a remove and bus rescan rarely brings it back); if '
            'it stays dead, reseat or replace the card')


def check_driver(health: Health) -> Check | None:
    function = health.function
    if health.vfio_bound:
        return Check('driver', function.address, Status.OK,
                     f'{health.what}: on {function.driver}')
    bound = (f'bound to {function.driver}' if function.driver
             else 'bound to no driver')
    return Check('driver', function.address, Status.PROBLEM,
                 f'{health.what}: {bound}, not to vfio-pci or a VFIO '
                 'variant driver: it cannot be passed through',
                 hostcheck.binding_remedy(function, health.card_ids,
                                          health.sharing))


def check_aer(health: Health) -> Check | None:
    if not health.aer:
        return None
    fatal = health.aer.get('fatal', 0)
    nonfatal = health.aer.get('nonfatal', 0)
    counts = (f'{fatal} fatal, {nonfatal} non-fatal, '
              f'{health.aer.get("correctable", 0)} correctable AER '
              'error(s) since boot')
    if fatal or nonfatal:
        return Check('aer', health.function.address, Status.PROBLEM,
                     f'{health.what}: {counts}: its PCIe link or the card '
                     'is failing',
                     CORDON.format(address=health.gpu.address) + '; read '
                     f'the AER lines of {health.function.address} in dmesg,'
                     ' reseat the card or replace it or its riser; the '
                     'counters restart at the next boot')
    return Check('aer', health.function.address, Status.OK,
                 f'{health.what}: {counts}')


def check_link(health: Health) -> Check | None:
    width, widest = health.link_width, health.max_link_width
    if width is None or widest is None or widest == 0:
        return None
    subject = health.function.address
    if width == 0:
        return Check('link', subject, Status.WARNING,
                     f'{health.what}: link reads x0 of x{widest}: the '
                     'device is powered off (D3cold) or its link is down',
                     f'cat /sys/bus/pci/devices/{subject}/power_state; if '
                     'it is not D3cold, ' + _dead_remedy(health))
    if width < widest:
        return Check('link', subject, Status.PROBLEM,
                     f'{health.what}: link at x{width} of x{widest}: '
                     f'{width}/{widest} of its bandwidth (a card not fully '
                     'seated, a bad riser, or a slot with fewer lanes)',
                     CORDON.format(address=health.gpu.address) + '; reseat'
                     ' the card, or move it to a slot wired for '
                     f'x{widest} (check lane sharing in the firmware '
                     'setup)')
    return Check('link', subject, Status.OK,
                 f'{health.what}: link at x{width} of x{widest}')


def check_reset(health: Health) -> Check | None:
    if health.reset_methods is None:
        return None
    subject = health.function.address
    if not health.reset_methods:
        return Check('reset', subject, Status.WARNING,
                     f'{health.what}: no reset method (reset_method empty):'
                     ' it cannot be reset between tenants, the next VM '
                     'finds it as the last one left it',
                     'declare it one-time-use (device_spec tag '
                     '"one_time_use": true), clean it after each tenant '
                     'and put it back with nova-gpu-ext gpu release; or '
                     'look for a firmware update that enables FLR')
    return Check('reset', subject, Status.OK,
                 f'{health.what}: reset by '
                 f'{", ".join(health.reset_methods)}')


def check_group(health: Health) -> Check | None:
    function = health.function
    group = function.iommu_group
    if group is None:
        return None
    if not health.group_outsiders:
        return Check('iommu-group', function.address, Status.OK,
                     f'{health.what}: IOMMU group {group} viable (every '
                     'member on VFIO or a bridge)')
    outsiders = ', '.join(
        f'{m.address} on {m.driver or "no driver"}'
        for m in health.group_outsiders)
    first = health.group_outsiders[0]
    return Check('iommu-group', function.address, Status.PROBLEM,
                 f'{health.what}: IOMMU group {group} not viable, QEMU '
                 f'refuses it ("group {group} is not viable"): {outsiders}',
                 hostcheck.binding_remedy(first, first.ids))


CHECKS = (('config-space', check_config), ('driver', check_driver),
          ('aer', check_aer), ('link', check_link), ('reset', check_reset),
          ('iommu-group', check_group))
