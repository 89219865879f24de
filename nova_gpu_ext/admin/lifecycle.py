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

"""A GPU's life in service: free, in use, cordoned, awaiting cleaning.

In placement mode each GPU is a resource provider of one unit. Its
``reserved`` is the operator's: nova never changes it, except for a
one-time-use device (``one_time_use`` device_spec tag, trait
:data:`ONE_TIME_USE_TRAIT`), which nova reserves when a server takes it
and never releases. So ``reserved`` equal to the total takes a GPU out of
service without touching the server that uses it, and setting it back to
0 returns it. These are plain functions on what placement reports; the
calls live in :mod:`nova_gpu_ext.admin.cloud.devices`.

Placement keeps no free text on a provider, and a trait of ours would be
removed by nova, which sets the traits of the providers it reports; the
reason of a cordon is therefore said and logged when the command runs,
never stored.
"""

import dataclasses
import enum
import json
import re
import typing as ty

from nova_gpu_ext import exception

ONE_TIME_USE_TRAIT = 'HW_PCI_ONE_TIME_USE'

PCI_ADDRESS = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')

# The check-host health checks, whose rows ``release --health`` reads.
HEALTH_CHECKS = ('config-space', 'driver', 'aer', 'link', 'reset',
                 'iommu-group')
HEALTH_METRIC = 'nova_gpu_ext_host_gpu_health'
# check-host statuses by severity; the metric's value is the index.
STATUSES = ('ok', 'warning', 'problem')


class State(str, enum.Enum):
    FREE = 'free'
    IN_USE = 'in_use'
    CORDONED = 'cordoned'
    AWAITING_CLEANING = 'awaiting_cleaning'


class Refused(exception.NovaGpuExtError):
    """The device's state or the cloud's mode forbids it; nothing changed.

    Exit status 1, as for findings: the command worked and said no.
    """

    exit_status = exception.EXIT_FINDINGS


def state(total: int, reserved: int, used: int,
          traits: ty.Collection[str]) -> State:
    """The state of a device provider from its inventory, usage and traits.

    A one-time-use device nova reserved while a server holds it is in use;
    once the server is gone it is awaiting cleaning. Any other device
    reserved whole is cordoned, whether or not a server still holds it
    (it drains). ``reserved`` below the total leaves room: not cordoned.
    """
    if ONE_TIME_USE_TRAIT in traits:
        if used:
            return State.IN_USE
        if total and reserved >= total:
            return State.AWAITING_CLEANING
    if total and reserved >= total:
        return State.CORDONED
    return State.IN_USE if used else State.FREE


@dataclasses.dataclass(frozen=True)
class Device:
    """One GPU's provider as read from placement, at one generation.

    ``inventory`` is placement's inventory record of ``resource_class``
    (total, reserved, min_unit, ...); ``consumers`` are the servers (or
    migrations) holding allocations against it.
    """

    host: str
    address: str
    provider: str
    generation: int
    resource_class: str
    inventory: ty.Mapping[str, ty.Any]
    traits: frozenset[str] = frozenset()
    consumers: tuple[str, ...] = ()
    used: int = 0

    @property
    def total(self) -> int:
        return int(self.inventory.get('total', 0))

    @property
    def reserved(self) -> int:
        return int(self.inventory.get('reserved', 0))

    @property
    def one_time_use(self) -> bool:
        return ONE_TIME_USE_TRAIT in self.traits

    @property
    def state(self) -> State:
        return state(self.total, self.reserved, self.used, self.traits)

    @property
    def name(self) -> str:
        return f'{self.host} {self.address}'


def address(text: str) -> str:
    """A PCI address as nova names it (lower case, with the domain)."""
    value = text.strip().lower()
    if len(value) == 7:
        value = f'0000:{value}'
    if not PCI_ADDRESS.match(value):
        raise exception.BadInput(
            f'ADDRESS {text!r} is not a PCI address; give it as '
            'domain:bus:device.function, e.g. 0000:81:00.0 (gpu list '
            'shows them)')
    return value


def reason(text: str) -> str:
    """The operator's reason: one printable line, said and logged."""
    value = ' '.join(text.split())
    if not value or not value.isprintable():
        raise exception.BadInput(
            '--reason must say why, in printable text on one line (it is '
            'logged; placement cannot store it)')
    return value


def uncordon_refusal(device: Device) -> str | None:
    """Why uncordon must not return ``device``; None when it may."""
    if device.one_time_use and device.consumers:
        return (f'{device.name} is one-time-use and still allocated to '
                f'{", ".join(device.consumers)}: nova reserved it for that '
                'server; after the server is gone clean the GPU and put it '
                'back with gpu release')
    return None


def release_refusal(device: Device) -> str | None:
    """Why release must not return ``device``; None when it may."""
    if not device.one_time_use:
        return (f'{device.name} is not one-time-use (no trait '
                f'{ONE_TIME_USE_TRAIT}): nothing to release; gpu uncordon '
                'returns a cordoned GPU')
    if device.consumers:
        return (f'{device.name} is still allocated to '
                f'{", ".join(device.consumers)}: release it after that '
                'server is deleted and the GPU is cleaned')
    return None


def legacy_steps(host: str, gpu: str, back: bool) -> str:
    """What to do by hand where PCI devices are not in placement.

    The GPU leaves (or rejoins) nova's pools only through the compute's
    ``[pci] device_spec`` and a restart of nova-compute.
    """
    change = ('list it again in' if back else 'leave it out of')
    return (
        f'{host} reports no PCI device to placement ([pci] '
        'report_in_placement is off: legacy mode), so nothing was changed.'
        f' By hand: in the [gpu:NAME] section of its model in the catalog '
        f'of {host}, {change} addresses = (the model\'s addresses on '
        f'{host}, as nova-gpu-ext discover lists them); run nova-gpu-ext '
        'genconf --role compute --catalog FILE on the host; put its '
        f'[pci] device_spec lines in nova.conf of {host}; restart '
        'nova-compute there (systemctl restart nova-compute). A server '
        f'using {gpu} keeps it until it leaves')


def health_status(text: str, source: str, gpu: str) -> str:
    """The health of GPU ``gpu`` (and its card) in a host's health file.

    ``text`` is ``check-host --textfile`` output (Prometheus text) or
    ``check-host -f json`` output. The worst status of the GPU and its
    companions: ``ok``, ``warning`` or ``problem``.

    :raises BadInput: the file is neither, or says nothing of ``gpu``.
    """
    try:
        rows = json.loads(text)
    except ValueError:
        statuses = _textfile_statuses(text, source, gpu)
    else:
        statuses = _json_statuses(rows, source, gpu)
    if not statuses:
        raise exception.BadInput(
            f'--health {source} holds no health of GPU {gpu}: give the '
            'file of its host (check-host --health -f json, or the '
            'textfile of check-host --textfile)')
    return max(statuses, key=lambda s: STATUSES.index(s)
               if s in STATUSES else len(STATUSES))


def _json_statuses(rows, source: str, gpu: str) -> list[str]:
    if not isinstance(rows, list) or not all(isinstance(r, dict)
                                             for r in rows):
        raise exception.BadInput(
            f'--health {source}: not a list of check-host rows; write it '
            'with check-host --health -f json')
    slot = gpu.rsplit('.', 1)[0]

    def field(row, name):
        return str(row.get(name, row.get(name.capitalize(), '')))
    return [field(r, 'status') for r in rows
            if field(r, 'check') in HEALTH_CHECKS
            and field(r, 'subject').rsplit('.', 1)[0] == slot]


def _textfile_statuses(text: str, source: str, gpu: str) -> list[str]:
    try:
        from prometheus_client import parser
    except ImportError as exc:
        raise exception.BadInput(
            f'--health {source} is not JSON, and reading a textfile needs '
            "prometheus_client: pip install 'nova_gpu_ext[exporter]'"
        ) from exc
    try:
        samples = [s for f in parser.text_string_to_metric_families(text)
                   for s in f.samples if s.name == HEALTH_METRIC]
    except ValueError as exc:
        raise exception.BadInput(
            f'--health {source}: neither JSON nor Prometheus text ({exc});'
            ' give check-host --health -f json output or its textfile'
        ) from exc
    return [STATUSES[min(int(s.value), len(STATUSES) - 1)]
            for s in samples if s.labels.get('gpu') == gpu]
