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

"""Render the GPU catalog into nova.conf lines and host boot files.

The output is data (``Line``, ``Block``) plus text formatting. Each role
gets only what its services read: aliases are needed by nova-api,
nova-compute and (in placement mode) the scheduler; device_spec only by
nova-compute. Where nova is importable, every rendered device_spec and
alias is parsed by nova's own parsers before it is returned, so genconf
never prints a line nova refuses.
"""

import dataclasses
import json
import typing as ty

from nova_gpu_ext.admin import host_gpus
from nova_gpu_ext.admin import nova_parsers
from nova_gpu_ext.admin import releases
from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import vfio
from nova_gpu_ext import exception

ROLES = ('compute', 'controller', 'scheduler', 'all-in-one', 'host')
IOMMU_VENDORS = ('intel', 'amd')

# nova's default enabled_filters (34.0.0); the scheduler role adds the PCI
# filter after them, because the operator replaces the whole list.
# GpuPassthroughFilter judges every PCI request as PciPassthroughFilter
# does, plus the GPU policy: it replaces nova's filter, not joins it.
NOVA_DEFAULT_FILTERS = (
    'ComputeFilter', 'ComputeCapabilitiesFilter', 'ImagePropertiesFilter',
    'ServerGroupAntiAffinityFilter', 'ServerGroupAffinityFilter',
)
GPU_FILTERS = ('GpuPassthroughFilter',)
AVAILABLE_FILTERS = ('nova.scheduler.filters.all_filters',
                     'nova_gpu_ext.scheduler.filters.all_filters')
WEIGHT_CLASSES = ('nova.scheduler.weights.all_weighers',
                  'nova_gpu_ext.scheduler.weights.all_weighers')

# Drivers of the other functions of a GPU card (HDMI audio, USB-C xHCI and
# UCSI). They must not bind before vfio-pci, but they also drive the host's
# own devices, so they only wait for vfio-pci instead of being blacklisted.
COMPANION_DRIVERS = ('snd_hda_intel', 'xhci_pci', 'i2c_nvidia_gpu')


class NovaRefusesError(exception.BadInput):
    """A rendered line nova's own parser refuses."""


@dataclasses.dataclass(frozen=True)
class Line:
    """One ``option = value`` of nova.conf, with a comment above it."""

    section: str
    option: str
    value: str
    comment: str = ''


@dataclasses.dataclass(frozen=True)
class Block:
    """Lines for one host file (or the kernel command line)."""

    title: str
    lines: tuple[str, ...]


def nova_conf(gpu_catalog: catalog.Catalog, role: str,
              release: releases.Release, placement: bool,
              host: ty.Sequence[host_gpus.HostGpu] | None = None,
              check: bool = True) -> list[Line]:
    """The nova.conf lines ``role`` needs.

    ``host``, the GPUs of the compute host the lines are for, adds the
    ``pcie_switch`` tag: each GPU behind a PCIe switch gets a device_spec
    entry of its own address with the tag, ahead of its model's entries
    (nova takes the first entry that matches a device), which stay as
    they are for the GPUs behind no switch and for GPUs added later.
    ``check``: parse the lines with nova's own parsers where nova is
    installed.

    :raises ReleaseError: if the release lacks a feature the lines use.
    :raises CatalogError: if the catalog cannot work in this mode.
    :raises NovaRefusesError: if nova's parser refuses a rendered line
        (``check``).
    """
    renderer = _Renderer(gpu_catalog, release, placement, host or ())
    lines = {'compute': renderer.compute,
             'controller': renderer.controller,
             'scheduler': renderer.scheduler,
             'all-in-one': renderer.all_in_one}[role]()
    releases.require(release, renderer.features)
    if check and nova_parsers.available():
        check_with_nova(lines, release, placement)
    return lines


def check_with_nova(lines: ty.Sequence[Line], release: releases.Release,
                    placement: bool) -> None:
    """Parse the device_spec lines, then the aliases, as nova does.

    nova 34's parsers read the values of every release: the option names
    differ, the JSON they hold does not, and ``releases.require`` already
    refused what an older release lacks. Each alias is parsed alone, to
    name the line, then all together, as nova checks them across lines.
    """
    aliases = [line for line in lines
               if (line.section, line.option) == release.alias_option]
    for line in lines:
        if (line.section, line.option) == release.device_spec_option:
            _refused(f'[{line.section}] {line.option} = {line.value}',
                     nova_parsers.device_spec_error(line.value))
    for line in aliases:
        _refused(f'[{line.section}] {line.option} = {line.value}',
                 nova_parsers.alias_error([line.value], placement))
    if aliases:
        section, option = release.alias_option
        _refused(f'[{section}] {option} lines together',
                 nova_parsers.alias_error([a.value for a in aliases],
                                          placement))


def _refused(what: str, reason: str | None) -> None:
    if reason:
        raise NovaRefusesError(
            f'nova refuses the rendered {what} ({reason}); fix the catalog '
            'values it comes from')


class _Renderer:
    """Builds the lines and records which release features they use."""

    def __init__(self, gpu_catalog, release, placement, host):
        self.catalog = gpu_catalog
        self.release = release
        self.placement = placement
        self.host = host
        self.features = {'placement'} if placement else set()
        if placement:
            _check_placement_classes(gpu_catalog)

    def compute(self) -> list[Line]:
        """device_spec, the aliases and, in placement mode, both flags.

        nova-compute validates its aliases at start as in placement mode
        only with ``[filter_scheduler] pci_in_placement``: without it a
        class alias (a resource class, no PCI ids) stops the service.
        """
        lines = [line for model in self.catalog.models
                 for line in self._device_specs(model)]
        return (lines + self._aliases() + self._report_in_placement()
                + self._pci_in_placement())

    def all_in_one(self) -> list[Line]:
        """One node running nova-compute and every controller service.

        The scheduler's lines already hold the aliases and
        pci_in_placement that nova-api and nova-conductor read; each is
        written once, as nova refuses an alias defined twice in placement
        mode.
        """
        lines = [line for model in self.catalog.models
                 for line in self._device_specs(model)]
        return lines + self.scheduler() + self._report_in_placement()

    def _report_in_placement(self) -> list[Line]:
        if not self.placement:
            return []
        return [Line('pci', 'report_in_placement', 'True',
                     'one resource provider per GPU; cannot be turned off '
                     'again')]

    def controller(self) -> list[Line]:
        return self._aliases() + self._pci_in_placement()

    def scheduler(self) -> list[Line]:
        self.features.add('gpu_scheduler')
        section = 'filter_scheduler'
        lines = [Line(section, 'available_filters', path,
                      'nova\'s filters and nova_gpu_ext\'s' if i == 0
                      else '')
                 for i, path in enumerate(AVAILABLE_FILTERS)]
        lines += [
            Line(section, 'enabled_filters',
                 ','.join(NOVA_DEFAULT_FILTERS + GPU_FILTERS),
                 'nova\'s default filters plus GpuPassthroughFilter, in '
                 'place of PciPassthroughFilter; keep any other filter you '
                 'enabled'),
            Line(section, 'weight_classes', ','.join(WEIGHT_CLASSES)),
            Line(section, 'pci_weight_multiplier', '0.0',
                 'PCIWeigher counts every free PCI device of any model; '
                 'GpuWeigher replaces it'),
        ]
        return lines + self._pci_in_placement() + self._aliases()

    def _pci_in_placement(self) -> list[Line]:
        if not self.placement:
            return []
        return [Line('filter_scheduler', 'pci_in_placement', 'True',
                     'after every compute reports its GPUs in placement')]

    def _device_specs(self, model) -> list[Line]:
        section, option = self.release.device_spec_option
        spec = {'vendor_id': model.vendor_id,
                'product_id': model.product_id}
        if self.placement:
            spec['resource_class'] = self.catalog.resource_class_of(model)
            self._use('resource_class')
            if model.traits:
                spec['traits'] = ','.join(model.traits)
                self._use('traits')
        for tag in ('managed', 'live_migratable'):
            if getattr(model, tag) is not None:
                spec[tag] = _bool(getattr(model, tag))
                self._use(tag)
        tagged = self._switch_specs(model, spec)
        comment = _describe(model) + (
            ': its other GPUs (behind no PCIe switch, or added since)'
            if tagged else '')
        addresses = model.addresses or (None,)
        return tagged + [Line(section, option, _json(
            spec if address is None else {**spec, 'address': address}),
            comment if i == 0 else '')
            for i, address in enumerate(addresses)]

    def _switch_specs(self, model, spec) -> list[Line]:
        """An entry per GPU of ``model`` behind a switch, with its tag.

        Only GPUs the model's own entries select: its ``addresses`` keep
        a GPU out of nova whether or not it sits behind a switch.
        """
        section, option = self.release.device_spec_option
        gpus = [g for g in self.host if g.ids == model.ids
                and g.pcie_switch is not None
                and _selected(model, g.address)]
        comment = (f'{_describe(model)}: GPUs behind a PCIe switch, each '
                   f'with the switch\'s upstream port as '
                   f'{host_gpus.PCIE_SWITCH_TAG}')
        return [Line(section, option, _json(
            {**spec, 'address': g.address,
             host_gpus.PCIE_SWITCH_TAG: g.pcie_switch}),
            comment if i == 0 else '') for i, g in enumerate(gpus)]

    def _aliases(self) -> list[Line]:
        section, option = self.release.alias_option
        specs = [(_describe(model), self._model_alias(model))
                 for model in self.catalog.models]
        for gpu_class in self.catalog.classes:
            comment = f'class {gpu_class.name}: any of ' + ', '.join(
                gpu_class.models)
            specs += [(comment if i == 0 else '', spec) for i, spec in
                      enumerate(self._class_alias(gpu_class))]
        return [Line(section, option, _json(spec), comment)
                for comment, spec in specs]

    def _model_alias(self, model) -> dict:
        spec = self._alias_head(model.alias, model.device_type,
                                model.numa_policy)
        spec.update(vendor_id=model.vendor_id, product_id=model.product_id)
        if self.placement:
            spec['resource_class'] = self.catalog.resource_class_of(model)
            if model.traits:
                spec['traits'] = ','.join(model.traits)
        if model.live_migratable is not None:
            spec['live_migratable'] = _bool(model.live_migratable)
            self._use('live_migratable')
        return spec

    def _class_alias(self, gpu_class) -> list[dict]:
        members = [self.catalog.model(name) for name in gpu_class.models]
        head = self._alias_head(gpu_class.alias, members[0].device_type,
                                gpu_class.numa_policy)
        if self.placement:
            return [{**head, 'resource_class': gpu_class.resource_class}]
        return [{**head, 'vendor_id': m.vendor_id,
                 'product_id': m.product_id} for m in members]

    def _alias_head(self, name, device_type, numa_policy) -> dict:
        spec = {'name': name, 'device_type': device_type}
        if numa_policy is not None:
            spec['numa_policy'] = numa_policy
            self._use('numa_policy')
            if numa_policy == 'socket':
                self._use('numa_policy_socket')
        return spec

    def _use(self, feature: str) -> None:
        self.features.add(feature)


def _check_placement_classes(gpu_catalog: catalog.Catalog) -> None:
    """In placement mode a model can be in one class only.

    A GPU resource provider has one resource class: the class's.
    """
    for model in gpu_catalog.models:
        classes = gpu_catalog.classes_of(model.name)
        if len(classes) > 1:
            raise catalog.CatalogError(
                catalog.class_section(classes[1].name), 'models',
                model.name,
                f'already in class "{classes[0].name}"; in placement mode '
                'a GPU has one resource class, so a model can be in one '
                'class only')


def host_files(gpu_catalog: catalog.Catalog, iommu: str) -> list[Block]:
    """Kernel command line, modprobe.d, udev and modules-load.d for vfio-pci.

    A model without ``addresses`` is bound by ids (``vfio-pci.ids``), and
    the host GPU drivers of its vendor are the ones ``check-host`` wants
    blacklisted, so a host set up from this output passes it. A model
    with ``addresses`` keeps its other GPUs for the host: its devices are
    bound per address (a udev rule setting ``driver_override``), never by
    ids, and its vendor's drivers are not blacklisted.
    """
    by_ids = [m for m in gpu_catalog.models if not m.addresses]
    kept_vendors = {m.vendor_id for m in gpu_catalog.models if m.addresses}
    ids = [model.ids for model in by_ids]
    ids += [c for model in by_ids for c in model.companions if c not in ids]
    vendors = sorted({model.vendor_id for model in gpu_catalog.models})
    gpu_drivers = [d for v in vendors
                   for d in vfio.HOST_GPU_DRIVERS.get(v, ())]
    companion_drivers = COMPANION_DRIVERS if any(
        model.companions for model in gpu_catalog.models) else ()
    vfio_ids = f' vfio-pci.ids={",".join(ids)}' if ids else ''
    modprobe = [f'options vfio-pci ids={",".join(ids)}'] if ids else []
    modprobe += [f'softdep {d} pre: vfio-pci'
                 for d in gpu_drivers + list(companion_drivers)]
    modprobe += [f'blacklist {d}' for v in vendors if v not in kept_vendors
                 for d in vfio.HOST_GPU_DRIVERS.get(v, ())]
    blocks = [
        Block('kernel command line: append to GRUB_CMDLINE_LINUX in '
              '/etc/default/grub, regenerate grub.cfg and reboot',
              (f'{iommu}_iommu=on iommu=pt{vfio_ids}',)),
        Block('/etc/modprobe.d/nova-gpu-ext-vfio.conf, then update the '
              'initramfs (update-initramfs -u, or dracut -f)',
              tuple(modprobe)),
        Block('/etc/modules-load.d/nova-gpu-ext-vfio.conf', vfio.VFIO_MODULES),
    ]
    rules = [rule for model in gpu_catalog.models
             for rule in udev_rules(model)]
    if rules:
        blocks.append(Block(
            f'{UDEV_RULES}: the GPUs at the models\' addresses (the others '
            'stay with the host), then update the initramfs and reboot',
            tuple(rules)))
    return blocks


# Before 80-drivers.rules, which loads the drivers of a new device.
UDEV_RULES = '/etc/udev/rules.d/70-nova-gpu-ext-vfio.rules'


def udev_rules(model: catalog.GpuModel) -> list[str]:
    """One rule per address and function kind: ``driver_override``.

    The kernel then binds the function to vfio-pci only, whichever driver
    loads first; the function field is any, so the card's companions in
    the same slot are bound with the GPU (their IOMMU group needs it).
    """
    return [f'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="{_udev_glob(glob)}", '
            f'ATTR{{vendor}}=="0x{ids[:4]}", ATTR{{device}}=="0x{ids[5:]}", '
            'ATTR{driver_override}="vfio-pci"'
            for glob in model.addresses
            for ids in (model.ids, *model.companions)]


def _udev_glob(glob: str) -> str:
    domain, bus, slot, _ = catalog.address_fields(glob)
    return ':'.join('*' if value is None else f'{value:0{width}x}'
                    for value, width in ((domain, 4), (bus, 2),
                                         (slot, 2))) + '.*'


def format_nova_conf(lines: ty.Sequence[Line], header: str) -> str:
    """INI text: one block per section, in first-use order.

    Comments are kept on their line (a multi-line description shows its
    line breaks as ``\\n``), so no catalog text can add an option or a
    section to the nova.conf it is pasted into.
    """
    sections = list(dict.fromkeys(line.section for line in lines))
    out = [f'# {catalog.escaped(header)}']
    for section in sections:
        out += ['', f'[{section}]']
        for line in lines:
            if line.section != section:
                continue
            if line.comment:
                out.append(f'# {catalog.escaped(line.comment)}')
            out.append(f'{line.option} = {line.value}')
    return '\n'.join(out) + '\n'


def format_host_files(blocks: ty.Sequence[Block], header: str) -> str:
    out = [f'# {catalog.escaped(header)}']
    for block in blocks:
        out += ['', f'# {block.title}', *block.lines]
    return '\n'.join(out) + '\n'


def _selected(model: catalog.GpuModel, address: str) -> bool:
    return not model.addresses or any(
        host_gpus.address_matches(glob, address) for glob in model.addresses)


def _describe(model: catalog.GpuModel) -> str:
    text = f'{model.name} ({model.ids})'
    return f'{text}: {model.description}' if model.description else text


def _bool(value: bool) -> str:
    return 'true' if value else 'false'


def _json(spec: dict) -> str:
    return json.dumps(spec)
