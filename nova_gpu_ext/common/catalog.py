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

"""The GPU catalog: the models of a cloud and the classes grouping them.

Pure data and validation. ``nova_gpu_ext.common.catalog_file`` reads it from
oslo.config files; genconf, check-host and the flavor tools consume it.
Every error names the config section, option and value, because the
operator has to find and fix it in a file.
"""

import dataclasses
import re
import typing as ty

from nova_gpu_ext.common import catalog_opts
from nova_gpu_ext.common import resource_classes
from nova_gpu_ext import exception

DEVICE_TYPES = ('type-PCI', 'type-PF')
NUMA_POLICIES = ('required', 'legacy', 'preferred', 'socket')

_HEX4 = re.compile(r'^[0-9a-f]{4}$')
_VENDOR_PRODUCT = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{4}$')
_PLACEMENT_NAME = re.compile(r'^[A-Z0-9_]+$')
# nova splits ``pci_passthrough:alias = "a:2, b:1"`` on these.
_ALIAS_FORBIDDEN = (':', ',')

# The PCI address globs of nova's device_spec ``address``
# (``nova.pci.devspec.PciAddressGlobSpec``): ``*`` or hex of at most this
# many digits and at most this value, an empty field meaning any; domain,
# bus, slot and function.
_ADDRESS_FIELDS = ((4, 0xFFFF), (2, 0xFF), (2, 0x1F), (1, 0x7))
_HEX = re.compile(r'^[0-9a-f]+$')


class CatalogError(exception.BadInput):
    """A catalog value nova could not use, with where it is and the fix."""

    def __init__(self, section: str, option: str, value: ty.Any,
                 reason: str):
        self.section = section
        self.option = option
        self.value = value
        self.reason = reason
        super().__init__(
            escaped(f'[{section}] {option} = {_show(value)}: {reason}'))

    def located(self, where: str) -> 'CatalogError':
        """The same error, its message starting with ``where`` (file, line).

        Raised ``from`` this one by the file reader, which knows where the
        section or option was written.
        """
        error = CatalogError(self.section, self.option, self.value,
                             self.reason)
        error.args = (f'{escaped(where)}: {self.args[0]}',)
        return error


def escaped(text: str) -> str:
    """``text`` on one line: characters that are not printable escaped.

    A value read from a file (a continuation line, a tab) then shows as
    ``\\n`` or ``\\t`` in the one-line error.
    """
    return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _show(value: ty.Any) -> str:
    if isinstance(value, (list, tuple)):
        return ', '.join(str(v) for v in value)
    return str(value)


def model_section(name: str) -> str:
    """The config section of model ``name``."""
    return f'gpu:{name}'


def class_section(name: str) -> str:
    """The config section of class ``name``."""
    return f'gpu_class:{name}'


@dataclasses.dataclass(frozen=True)
class FlavorSettings:
    """How ``nova-gpu-ext flavor sync`` sizes the flavors of a model or class.

    vCPUs, RAM and ephemeral disk grow with the GPU count (a 4-GPU job
    feeds four GPUs); the root disk holds the OS and does not.
    """

    counts: tuple[int, ...] = ()
    vcpus_per_gpu: int = catalog_opts.VCPUS_PER_GPU
    ram_mb_per_gpu: int = catalog_opts.RAM_MB_PER_GPU
    ephemeral_gb_per_gpu: int = catalog_opts.EPHEMERAL_GB_PER_GPU
    disk_gb: int = catalog_opts.DISK_GB
    hide_hypervisor_id: bool = False
    gpu_numa: str | None = None
    gpu_switch: str | None = None


@dataclasses.dataclass(frozen=True)
class GpuModel:
    """One GPU model: how nova finds it, names it and hands it out."""

    name: str
    vendor_id: str
    product_id: str
    device_type: str = 'type-PCI'
    companions: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    numa_policy: str | None = None
    alias: str = ''
    resource_class: str = ''
    traits: tuple[str, ...] = ()
    managed: bool | None = None
    live_migratable: bool | None = None
    description: str = ''
    flavor: FlavorSettings = FlavorSettings()
    bar_bytes: int | None = None

    @property
    def ids(self) -> str:
        """``vendor:product``, as lspci and ``vfio-pci.ids`` write it."""
        return f'{self.vendor_id}:{self.product_id}'

    def takes(self, address: str) -> bool:
        """Whether the GPU at ``address`` is for instances.

        Every GPU of the model without ``addresses``; with them, only the
        GPUs they match: the others are kept for the host.
        """
        return not self.addresses or any(
            address_matches(glob, address) for glob in self.addresses)


@dataclasses.dataclass(frozen=True)
class GpuClass:
    """Several models behind one alias.

    Each request still gets GPUs of one model: GpuPassthroughFilter keeps
    that, not the alias.
    """

    name: str
    models: tuple[str, ...]
    alias: str = ''
    resource_class: str = ''
    numa_policy: str | None = None
    description: str = ''
    flavor: FlavorSettings = FlavorSettings()


@dataclasses.dataclass(frozen=True)
class Catalog:
    """Validated models and classes, in the order the operator listed."""

    models: tuple[GpuModel, ...] = ()
    classes: tuple[GpuClass, ...] = ()

    def model(self, name: str) -> GpuModel:
        """The model called ``name``; KeyError if there is none."""
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    def model_by_ids(self, vendor_id: str,
                     product_id: str) -> GpuModel | None:
        """The model with these PCI ids (any case), or None."""
        ids = f'{vendor_id}:{product_id}'.lower()
        for model in self.models:
            if model.ids == ids:
                return model
        return None

    def classes_of(self, model_name: str) -> tuple[GpuClass, ...]:
        """The classes that list ``model_name``."""
        return tuple(c for c in self.classes if model_name in c.models)

    def resource_class_of(self, model: GpuModel) -> str:
        """The resource class of the model's devices in placement mode.

        The class's for a model in a class (a provider has one resource
        class, and the class's alias asks for it), else the model's own.
        """
        classes = self.classes_of(model.name)
        return classes[0].resource_class if classes else model.resource_class


def hex_id(section: str, option: str, value: ty.Any) -> str:
    """A 4-digit hex PCI id, lower-cased as nova stores it."""
    text = str(value or '').strip().lower()
    if not _HEX4.match(text):
        raise CatalogError(section, option, value,
                           'must be 4 hex digits, e.g. 10de')
    return text


def vendor_products(section: str, option: str,
                    values: ty.Iterable[str]) -> tuple[str, ...]:
    """``vvvv:pppp`` pairs, lower-cased."""
    result = []
    for value in values:
        text = value.strip().lower()
        if not _VENDOR_PRODUCT.match(text):
            raise CatalogError(
                section, option, value,
                'each entry must be vendor:product in hex, e.g. 10de:0e0a')
        result.append(text)
    return tuple(result)


def choice(section: str, option: str, value: str | None,
           choices: ty.Sequence[str]) -> str | None:
    """``value`` if it is one of ``choices`` (None stays None)."""
    if value is not None and value not in choices:
        raise CatalogError(section, option, value,
                           f'must be one of {", ".join(choices)}')
    return value


def alias_name(section: str, value: str) -> str:
    """An alias name nova can split out of ``pci_passthrough:alias``."""
    if not value or any(c in value for c in _ALIAS_FORBIDDEN):
        raise CatalogError(
            section, 'alias', value,
            'an alias name must be non-empty and contain no ":" or ","; '
            'set alias to a name without them')
    return value


def placement_name(section: str, option: str, value: str) -> str:
    """A resource class or trait name, upper-cased as placement wants."""
    text = value.strip().upper()
    if not _PLACEMENT_NAME.match(text):
        raise CatalogError(section, option, value,
                           'placement names allow only A-Z, 0-9 and _')
    return text


def resource_class(section: str, value: str) -> str:
    """A resource class as nova reports it: ``GPU_X`` is ``CUSTOM_GPU_X``."""
    return resource_classes.normalize(
        placement_name(section, 'resource_class', value))


def pci_address(section: str, option: str, value: str) -> str:
    """A PCI address or glob nova's device_spec accepts, lower-cased.

    ``[[[[domain]:]bus]:][slot][.[function]]``, each field ``*``, empty
    (any) or hex: ``0000:81:00.0``, ``0000:81:*.*``, ``81:00.``.
    """
    text = value.strip().lower()
    head, _, function = text.partition('.')
    fields = head.split(':')
    if not text or len(fields) > 3 or not all(
            _address_field(field, *spec) for field, spec in zip(
                [''] * (3 - len(fields)) + fields + [function],
                _ADDRESS_FIELDS)):
        raise CatalogError(
            section, option, value,
            'not a PCI address or glob nova accepts: write '
            '[[[[domain]:]bus]:][slot][.[function]] with hex fields or *, '
            'e.g. 0000:81:00.0 or 0000:81:*.*')
    return text


def address_fields(glob: str) -> tuple[int | None, ...]:
    """Domain, bus, slot and function of a glob ``pci_address`` accepted.

    None is any value (``*`` or an empty field), as in nova's
    ``PciAddressGlobSpec``.
    """
    head, _, function = glob.partition('.')
    fields = head.split(':')
    return tuple(None if f.strip() in ('', '*') else int(f, 16)
                 for f in [''] * (3 - len(fields)) + fields + [function])


def address_matches(glob: str, address: str) -> bool:
    """Whether the full PCI ``address`` (``0000:81:00.0``) fits ``glob``."""
    try:
        wanted = address_fields(glob)
        actual = address_fields(address)
    except ValueError:
        return False
    return all(w is None or w == a for w, a in zip(wanted, actual))


def _address_field(field: str, digits: int, maximum: int) -> bool:
    field = field.strip()
    if field in ('', '*'):
        return True
    return (len(field) <= digits and bool(_HEX.match(field))
            and int(field, 16) <= maximum)


def build(models: ty.Sequence[GpuModel],
          classes: ty.Sequence[GpuClass]) -> Catalog:
    """Check what no single section can check on its own."""
    _check_models(models)
    known = {m.name: m for m in models}
    for gpu_class in classes:
        _check_class(gpu_class, known)
    _check_unique_aliases(models, classes)
    _check_unique_resource_classes(models, classes)
    return Catalog(tuple(models), tuple(classes))


def _check_models(models: ty.Sequence[GpuModel]) -> None:
    seen = {}
    for model in models:
        section = model_section(model.name)
        if model.ids in seen:
            raise CatalogError(
                section, 'product_id', model.product_id,
                f'{model.ids} is already model "{seen[model.ids]}"; '
                'list each GPU model once')
        seen[model.ids] = model.name
        if model.ids in model.companions:
            raise CatalogError(
                section, 'companions', model.companions,
                f'{model.ids} is the GPU itself; list only the other '
                'functions of the card (e.g. its HDMI audio)')


def _check_class(gpu_class: GpuClass,
                 known: ty.Mapping[str, GpuModel]) -> None:
    section = class_section(gpu_class.name)
    if not gpu_class.models:
        raise CatalogError(section, 'models', '',
                           'list the models this class accepts')
    for name in gpu_class.models:
        if name not in known:
            raise CatalogError(
                section, 'models', name,
                'no such model; add it to [nova_gpu_ext] gpu_models '
                f'and a [{model_section(name)}] section')
    types = {known[name].device_type for name in gpu_class.models}
    if len(types) > 1:
        raise CatalogError(
            section, 'models', gpu_class.models,
            f'mixes device types {", ".join(sorted(types))}; nova refuses '
            'an alias whose specs differ in device_type')


def _check_unique_aliases(models: ty.Sequence[GpuModel],
                          classes: ty.Sequence[GpuClass]) -> None:
    owners = {}
    entries = ([(model_section(m.name), m.alias) for m in models]
               + [(class_section(c.name), c.alias) for c in classes])
    for section, alias in entries:
        if alias in owners:
            raise CatalogError(
                section, 'alias', alias,
                f'already the alias of [{owners[alias]}]; nova would merge '
                'them into one alias, give each a distinct name')
        owners[alias] = section


def _check_unique_resource_classes(models: ty.Sequence[GpuModel],
                                   classes: ty.Sequence[GpuClass]) -> None:
    """One resource class per model and class, as nova normalizes names.

    Two entries with one class (``a-1`` and ``a_1`` both default to
    ``CUSTOM_GPU_A_1``, so do two names of as many non-ASCII letters) are
    one pool to placement: each alias would match the GPUs of both, and
    capacity could not tell them apart. Refused in legacy mode too, where
    the class is unused, so that switching to placement needs no change.
    """
    owners = {}
    entries = ([(model_section(m.name), m.resource_class) for m in models]
               + [(class_section(c.name), c.resource_class)
                  for c in classes])
    for section, name in entries:
        if not name:
            continue
        key = resource_classes.normalize(name)
        if key in owners:
            raise CatalogError(
                section, 'resource_class', name,
                f'also the resource class of [{owners[key]}] (names nova '
                'normalizes alike), so placement would pool both and each '
                'alias would match the GPUs of the other: set a distinct '
                f'resource_class in [{section}] or [{owners[key]}]')
        owners[key] = section
