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

"""Read-only GPU passthrough readiness checks of a compute host.

Each check looks at the ``HostFacts`` read from sysfs and says ok, warning
or problem, why, and the exact command or line that fixes it: preparing a
host is where most passthrough time goes, and QEMU's own error ("group N
is not viable") names neither the function nor the fix.
"""

import dataclasses
import enum
import os
import typing as ty

from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import vfio
from nova_gpu_ext.host import sysfs
from nova_gpu_ext.host import topology

# CPU vendor (/proc/cpuinfo) -> (firmware switch, kernel parameter).
IOMMU_SWITCHES = {
    'GenuineIntel': ('VT-d', 'intel_iommu=on'),
    'AuthenticAMD': ('AMD-Vi (IOMMU)', 'amd_iommu=on'),
}
UNKNOWN_CPU_SWITCHES = ('VT-d (Intel) or AMD-Vi (AMD)',
                        'intel_iommu=on (Intel) or amd_iommu=on (AMD) and')

IOMMU_OFF_SWITCHES = ('intel_iommu=off', 'amd_iommu=off', 'iommu=off')

GRUB_STEPS = ('to GRUB_CMDLINE_LINUX in /etc/default/grub, regenerate the '
              'boot config (update-grub, or grub2-mkconfig -o '
              '/boot/grub2/grub.cfg) and reboot')

INITRAMFS_STEP = ('update the initramfs (update-initramfs -u, or dracut -f) '
                  'and reboot')

READ_REMEDY = ('run check-host as root, or repair the file or link; for a '
               'copied tree, copy it again keeping its links (cp -a)')


class Status(str, enum.Enum):
    """Severity; a host with no ``problem`` is ready."""

    OK = 'ok'
    WARNING = 'warning'
    PROBLEM = 'problem'


SEVERITY = (Status.OK, Status.WARNING, Status.PROBLEM)


@dataclasses.dataclass(frozen=True)
class Check:
    """One finding: what was checked, on what, its outcome and the fix."""

    name: str
    subject: str
    status: Status
    message: str
    remedy: str = ''


def worst(checks: ty.Iterable[Check]) -> Status:
    return max((c.status for c in checks), key=SEVERITY.index,
               default=Status.OK)


def passthrough_gpus(
    facts: sysfs.HostFacts, gpu_catalog: catalog.Catalog | None = None,
) -> tuple[sysfs.PciFunction, ...]:
    """The GPUs meant for VMs.

    With a catalog, the GPUs of its models at their ``addresses``; without
    one, every GPU but the boot VGA device, which is the host console
    (often a BMC's VGA).
    """
    if gpu_catalog is not None:
        return tuple(g for g in facts.gpus
                     if _model(gpu_catalog, g) is not None
                     and _model(gpu_catalog, g).takes(g.address))
    return tuple(g for g in facts.gpus if not g.boot_vga)


def host_kept_gpus(
    facts: sysfs.HostFacts, gpu_catalog: catalog.Catalog | None,
) -> tuple[sysfs.PciFunction, ...]:
    """GPUs of a catalog model outside its ``addresses``: the host's own."""
    if gpu_catalog is None:
        return ()
    return tuple(g for g in facts.gpus
                 if _model(gpu_catalog, g) is not None
                 and not _model(gpu_catalog, g).takes(g.address))


def _model(gpu_catalog, gpu) -> catalog.GpuModel | None:
    return gpu_catalog.model_by_ids(gpu.vendor_id, gpu.product_id)


def check_host(
    facts: sysfs.HostFacts,
    gpus: ty.Sequence[sysfs.PciFunction],
    kept: ty.Sequence[sysfs.PciFunction] = (),
) -> list[Check]:
    """All host checks for the passthrough GPUs ``gpus``.

    ``kept``: GPUs of the same models kept for the host
    (:func:`host_kept_gpus`), which must stay on their host driver.
    """
    checks = [check_iommu(facts), check_gpus_found(facts, gpus)]
    checks += check_reads(facts, gpus)
    checks += [check_module(facts, m) for m in vfio.VFIO_MODULES]
    checks += check_bindings(facts, gpus, kept)
    checks += check_isolation(facts, gpus)
    checks += check_host_drivers(facts, gpus, kept)
    checks += [check_host_kept(g) for g in kept]
    checks += check_topology(facts, gpus)
    checks.append(check_phys_bits(facts))
    return checks


def check_phys_bits(facts: sysfs.HostFacts) -> Check:
    """The largest guest physical address space this host can give.

    A large multi-GPU VM needs room for its RAM and its GPUs' BARs;
    ``hw:maxphysaddr_bits`` above this is refused on this host
    (``lint-flavors --host-phys-bits`` takes the value).
    """
    if facts.phys_bits is None:
        return Check('phys-bits', 'host', Status.WARNING,
                     'the CPU\'s physical address bits are unknown (no '
                     '"address sizes" line in /proc/cpuinfo)',
                     'run check-host on the host itself, or read them with '
                     'grep -m1 "address sizes" /proc/cpuinfo')
    return Check('phys-bits', 'host', Status.OK,
                 f'{facts.phys_bits} physical address bits: guests can '
                 f'have up to {2 ** facts.phys_bits // 2 ** 30} GiB of '
                 'physical address space (RAM plus GPU BARs); give '
                 f'lint-flavors --host-phys-bits {facts.phys_bits}')


def check_iommu(facts: sysfs.HostFacts) -> Check:
    """IOMMU groups exist only when the IOMMU is on in firmware and kernel."""
    if facts.iommu_groups:
        return Check('iommu', 'host', Status.OK,
                     f'IOMMU on: {len(facts.iommu_groups)} IOMMU groups')
    return Check('iommu', 'host', Status.PROBLEM,
                 'IOMMU off: no IOMMU groups under '
                 '/sys/kernel/iommu_groups, no device can be passed '
                 'through', iommu_remedy(facts))


def iommu_remedy(facts: sysfs.HostFacts) -> str:
    """Firmware switch and kernel parameters for this host's CPU vendor."""
    firmware, parameter = IOMMU_SWITCHES.get(facts.cpu_vendor,
                                             UNKNOWN_CPU_SWITCHES)
    steps = [f'enable {firmware} in the firmware setup']
    off = [w for w in facts.cmdline if w in IOMMU_OFF_SWITCHES]
    if off:
        steps.append(f'remove {" ".join(off)} from the kernel command line')
    steps.append(f'add {parameter} iommu=pt {GRUB_STEPS}')
    return '; '.join(steps)


def check_gpus_found(
    facts: sysfs.HostFacts, gpus: ty.Sequence[sysfs.PciFunction],
) -> Check:
    """A host without passthrough GPUs is a warning, not an error.

    check-host also runs on hosts being prepared, before the cards are in.
    """
    if not gpus:
        devices = os.path.join(facts.root, 'sys/bus/pci/devices')
        return Check('gpus', 'host', Status.WARNING,
                     f'no GPU for passthrough found under {devices}',
                     'install the GPUs, or run check-host on a GPU host')
    listed = ', '.join(f'{g.address} ({g.ids})' for g in gpus)
    return Check('gpus', 'host', Status.OK,
                 f'{len(gpus)} GPU(s) for passthrough: {listed}')


def check_reads(facts: sysfs.HostFacts,
                gpus: ty.Sequence[sysfs.PciFunction]) -> list[Check]:
    """What could not be read, as a problem wherever it can hide a GPU.

    A function that could not be read at all may be a GPU, and an
    attribute of a GPU, of its card or of its IOMMU group decides the
    other checks; so does a host-wide file (kernel line, modprobe.d).
    A failed read elsewhere is only a warning.
    """
    known = {f.address for f in facts.functions}
    related = {f.address for gpu in gpus
               for f in (*card_functions(facts, gpu),
                         *facts.group_members(gpu))}
    checks = []
    for problem in facts.problems:
        serious = (problem.address is None or problem.address not in known
                   or problem.address in related)
        checks.append(Check(
            'read', problem.address or 'host',
            Status.PROBLEM if serious else Status.WARNING,
            str(problem) + ('' if problem.address in known or
                            problem.address is None else
                            '; whether this function is a GPU is unknown'),
            READ_REMEDY))
    return checks


def check_module(facts: sysfs.HostFacts, module: str) -> Check:
    """vfio-pci needs the vfio core and its type1 IOMMU backend."""
    if module in facts.blacklisted_modules:
        return Check('module', module, Status.PROBLEM,
                     f'{module} is blacklisted in modprobe.d or on the '
                     'kernel command line',
                     f'remove the blacklist {module} line (or '
                     f'modprobe.blacklist={module}) and {INITRAMFS_STEP}')
    if module in facts.loaded_modules:
        return Check('module', module, Status.OK, f'{module} loaded')
    if (facts.available_modules is not None
            and module not in facts.available_modules):
        return Check('module', module, Status.PROBLEM,
                     f'{module} is neither loaded nor built for the '
                     'running kernel',
                     'install a kernel built with VFIO (CONFIG_VFIO, '
                     'CONFIG_VFIO_PCI, CONFIG_VFIO_IOMMU_TYPE1)')
    return Check('module', module, Status.WARNING, f'{module} not loaded',
                 f'modprobe {module}; to load it at every boot: '
                 f'echo {module} >> /etc/modules-load.d/vfio.conf')


def check_bindings(
    facts: sysfs.HostFacts, gpus: ty.Sequence[sysfs.PciFunction],
    kept: ty.Sequence[sysfs.PciFunction] = (),
) -> list[Check]:
    """Every function of each GPU's card and IOMMU group on vfio-pci.

    libvirt detaches only the device nova assigns; a companion left on
    its host driver makes the whole group unusable. ``kept``: the GPUs
    kept for the host, whose cards vfio-pci ``ids=`` must not take.
    """
    checks = []
    seen = set()
    for gpu in gpus:
        card = card_functions(facts, gpu)
        card_ids, sharing = vfio_ids(facts, card, kept)
        for function in card:
            if function.address not in seen:
                seen.add(function.address)
                checks.append(check_binding(function, gpu, card_ids,
                                            sharing))
    return checks


def vfio_ids(
    facts: sysfs.HostFacts, card: ty.Sequence[sysfs.PciFunction],
    kept: ty.Sequence[sysfs.PciFunction] = (),
) -> tuple[str, tuple[sysfs.PciFunction, ...]]:
    """The vfio-pci ``ids=`` of a card's functions, and who else they take.

    ``card`` is :func:`card_functions` of a GPU. The second item: the GPUs
    of ``kept`` (the host's own) whose cards have some of those ids.
    """
    ids = dict.fromkeys(f.ids for f in card)
    sharing = tuple(k for k in kept if ids.keys() & {
        f.ids for f in card_functions(facts, k)})
    return ','.join(ids), sharing


def card_functions(
    facts: sysfs.HostFacts, gpu: sysfs.PciFunction,
) -> tuple[sysfs.PciFunction, ...]:
    """The GPU, its companions and the non-bridge members of its slot."""
    same_slot = [m for m in facts.group_members(gpu)
                 if m.slot == gpu.slot and not m.is_bridge]
    functions = {f.address: f for f in
                 [gpu, *same_slot, *facts.same_card(gpu)]}
    return tuple(sorted(functions.values(), key=lambda f: f.address))


def check_binding(function: sysfs.PciFunction, gpu: sysfs.PciFunction,
                  card_ids: str,
                  sharing: ty.Sequence[sysfs.PciFunction] = ()) -> Check:
    role = ('GPU' if function == gpu
            else f'companion of GPU {gpu.address}')
    what = f'{function.ids} ({role})'
    if vfio.is_vfio_driver(function.driver):
        return Check('binding', function.address, Status.OK,
                     f'{what} on {function.driver}')
    if function.driver is None:
        return Check('binding', function.address, Status.WARNING,
                     f'{what} has no driver: usable, but a host driver '
                     'can claim it at the next boot',
                     binding_remedy(function, card_ids, sharing))
    group = function.iommu_group or '?'
    return Check('binding', function.address, Status.PROBLEM,
                 f'{what} is bound to {function.driver}: QEMU refuses '
                 f'IOMMU group {group} ("group {group} is not viable") '
                 'until every function is on vfio-pci',
                 binding_remedy(function, card_ids, sharing))


def binding_remedy(function: sysfs.PciFunction, card_ids: str,
                   sharing: ty.Sequence[sysfs.PciFunction] = ()) -> str:
    """driverctl for this address, or the boot-time ids of the whole card.

    vfio-pci keeps only the last ``ids=`` it is given, so the line lists
    every function of the card, not just this one. ``sharing``: GPUs kept
    for the host whose cards have some of these ids; ``ids=`` would take
    them too, so only driverctl (by address) is offered.
    """
    override = (f'driverctl set-override {function.address} vfio-pci '
                '(binds now and at every boot)')
    if sharing:
        listed = ', '.join(k.address for k in sharing)
        return (f'{override}; not by ids at boot: "options vfio-pci '
                f'ids={card_ids}" would also take {listed}, kept for the '
                'host')
    remedy = (f'{override}; or by ids at boot: '
              f'"options vfio-pci ids={card_ids}" (merged into any '
              'existing ids= line)')
    if function.driver:
        driver = sysfs.module_name(function.driver)
        remedy += f' and "softdep {driver} pre: vfio-pci"'
    return (remedy + ' in /etc/modprobe.d/vfio.conf, then '
            + INITRAMFS_STEP)


def check_isolation(
    facts: sysfs.HostFacts, gpus: ty.Sequence[sysfs.PciFunction],
) -> list[Check]:
    """A group holding devices of other cards: missing ACS isolation.

    Such a GPU can only go to a VM together with the other devices, which
    the host (a NIC, a disk controller) then loses.
    """
    checks = []
    groups = {}
    for gpu in gpus:
        if gpu.iommu_group is not None:
            groups.setdefault(gpu.iommu_group, gpu)
        elif facts.iommu_groups:
            checks.append(ungrouped_check(gpu))
    for group, gpu in groups.items():
        slots = {g.slot for g in gpus if g.iommu_group == group}
        others = [m for m in facts.group_members(gpu)
                  if m.slot not in slots and not m.is_bridge]
        checks.append(isolation_check(group, gpu, others))
    return checks


def ungrouped_check(gpu: sysfs.PciFunction) -> Check:
    """A GPU in no IOMMU group while the IOMMU is on cannot be passed."""
    return Check('isolation', gpu.address, Status.PROBLEM,
                 f'GPU {gpu.address} is in no IOMMU group although the '
                 'IOMMU is on (its iommu_group link is missing, dangles '
                 'or loops): VFIO cannot pass it through',
                 'check dmesg for DMAR or AMD-Vi messages about this '
                 'device; the firmware may leave its slot outside the '
                 'IOMMU (update it, or use another slot)')


def isolation_check(group: str, gpu: sysfs.PciFunction,
                    others: ty.Sequence[sysfs.PciFunction]) -> Check:
    if not others:
        return Check('isolation', f'iommu_group {group}', Status.OK,
                     f'IOMMU group {group} holds only GPU functions and '
                     'bridges')
    listed = ', '.join(f'{o.address} ({o.label}, driver {o.driver})'
                       for o in others)
    return Check('isolation', f'iommu_group {group}', Status.PROBLEM,
                 f'IOMMU group {group} of GPU {gpu.address} also holds '
                 f'{listed}: no ACS isolation, they can only be passed '
                 'through together and the host loses them',
                 'move the GPU to a slot behind a root port with ACS (a '
                 'CPU-attached slot), or enable ACS in the firmware setup; '
                 'pcie_acs_override only hides the missing isolation')


def check_host_drivers(
    facts: sysfs.HostFacts, gpus: ty.Sequence[sysfs.PciFunction],
    kept: ty.Sequence[sysfs.PciFunction] = (),
) -> list[Check]:
    """Host GPU drivers of the vendors present: not loaded, blacklisted.

    Except the drivers of a vendor with a GPU kept for the host: those it
    needs.
    """
    needed = {g.vendor_id for g in kept}
    drivers = sorted({d for g in gpus if g.vendor_id not in needed
                      for d in vfio.HOST_GPU_DRIVERS.get(g.vendor_id, ())})
    kept_drivers = sorted({d for v in needed
                           for d in vfio.HOST_GPU_DRIVERS.get(v, ())})
    return ([check_host_driver(facts, d) for d in drivers]
            + [check_kept_driver(facts, d, kept) for d in kept_drivers])


def check_kept_driver(facts: sysfs.HostFacts, driver: str,
                      kept: ty.Sequence[sysfs.PciFunction]) -> Check:
    """A driver a host-kept GPU uses (or may use) must not be blacklisted.

    Blacklisting another driver of the vendor (nouveau beside nvidia) is
    fine.
    """
    listed = ', '.join(g.address for g in kept)
    drivers = {sysfs.module_name(g.driver) for g in kept
               if g.driver and g.driver not in vfio.VFIO_DRIVERS}
    if driver in facts.blacklisted_modules:
        if drivers and driver not in drivers:
            return Check('host-driver', driver, Status.OK,
                         f'host GPU driver {driver} blacklisted; the GPUs '
                         f'kept for the host ({listed}) use '
                         f'{", ".join(sorted(drivers))}')
        return Check('host-driver', driver, Status.WARNING,
                     f'host GPU driver {driver} is blacklisted, but GPUs '
                     f'kept for the host ({listed}) may need it; the GPUs '
                     'for instances are bound by address instead',
                     f'remove the blacklist {driver} line (or '
                     f'modprobe.blacklist={driver}) unless the host GPUs '
                     f'use another driver, then {INITRAMFS_STEP}')
    return Check('host-driver', driver, Status.OK,
                 f'host GPU driver {driver} not blacklisted: the GPUs kept '
                 f'for the host ({listed}) can use it')


def check_host_kept(gpu: sysfs.PciFunction) -> Check:
    """A GPU outside its model's ``addresses`` belongs to the host."""
    if gpu.driver in vfio.VFIO_DRIVERS:
        return Check('host-kept', gpu.address, Status.PROBLEM,
                     f'GPU {gpu.address} ({gpu.ids}) is kept for the host '
                     '(outside its model\'s addresses) but bound to '
                     f'{gpu.driver}: the host has lost it, and vfio-pci.ids '
                     'binds every GPU of the model',
                     'drop the model\'s ids from vfio-pci.ids (kernel line '
                     'and modprobe.d), bind the instance GPUs by address '
                     '(genconf --role host writes the udev rule), run '
                     f'driverctl unset-override {gpu.address} if it has '
                     f'one, then {INITRAMFS_STEP}')
    return Check('host-kept', gpu.address, Status.OK,
                 f'GPU {gpu.address} ({gpu.ids}) kept for the host, on '
                 f'{gpu.driver or "no driver"}')


def check_host_driver(facts: sysfs.HostFacts, driver: str) -> Check:
    loaded = driver in facts.loaded_modules
    blacklisted = driver in facts.blacklisted_modules
    remedy = (f'echo "blacklist {driver}" >> '
              f'/etc/modprobe.d/blacklist-gpu.conf, then {INITRAMFS_STEP}')
    if loaded:
        note = ('blacklisted but still loaded (initramfs not updated or '
                'not rebooted)' if blacklisted else 'loaded')
        return Check('host-driver', driver, Status.WARNING,
                     f'host GPU driver {driver} {note}: it claims any GPU '
                     'vfio-pci has not claimed first',
                     INITRAMFS_STEP if blacklisted else remedy)
    if blacklisted:
        return Check('host-driver', driver, Status.OK,
                     f'host GPU driver {driver} blacklisted, not loaded')
    if (facts.available_modules is not None
            and driver not in facts.available_modules):
        return Check('host-driver', driver, Status.OK,
                     f'host GPU driver {driver} not installed')
    return Check('host-driver', driver, Status.WARNING,
                 f'host GPU driver {driver} not loaded but not '
                 'blacklisted: it can claim a GPU at the next boot',
                 remedy)


def check_topology(facts: sysfs.HostFacts,
                   gpus: ty.Sequence[sysfs.PciFunction]) -> list[Check]:
    """The GPUs per PCIe switch: informational, what genconf tags.

    A GPU whose path is unknown (a bridge above it unread) is a warning:
    genconf --topology can give it no ``pcie_switch`` tag.
    """
    paths = topology.pcie_paths(facts, gpus)
    checks = [unknown_path(p) for p in paths.values()
              if p.unknown is not None]
    for switch, group in topology.per_switch(
            p for p in paths.values() if p.unknown is None).items():
        checks.append(switch_check(switch, group))
    return checks


def switch_check(switch: str | None,
                 paths: ty.Sequence[topology.PciePath]) -> Check:
    if switch is None:
        listed = ', '.join(f'{p.address} (root port {p.root_port or "-"})'
                           for p in paths)
        return Check('topology', 'no pcie_switch', Status.OK,
                     f'{len(paths)} GPU(s) behind no PCIe switch, each its '
                     f'own domain: {listed}')
    listed = ', '.join(p.address for p in paths)
    return Check('topology', f'pcie_switch {switch}', Status.OK,
                 f'{len(paths)} GPU(s) behind PCIe switch {switch} (root '
                 f'port {paths[0].root_port}): {listed}')


def unknown_path(path: topology.PciePath) -> Check:
    return Check('topology', path.address, Status.WARNING,
                 f'PCIe path of GPU {path.address} unknown: {path.unknown} '
                 'above it could not be read or is not a PCI bridge, so it '
                 'gets no pcie_switch tag', READ_REMEDY)


def check_catalog(facts: sysfs.HostFacts,
                  gpu_catalog: catalog.Catalog) -> list[Check]:
    """The catalog's models, device types and companions against the host.

    A model absent here is only a warning: one catalog serves a whole
    cloud. A wrong device_type is a problem: nova's alias then matches
    none of the GPUs.
    """
    checks = [check_model(facts, m) for m in gpu_catalog.models]
    checks += [uncatalogued(g) for g in passthrough_gpus(facts)
               if gpu_catalog.model_by_ids(g.vendor_id, g.product_id)
               is None]
    return checks


def check_model(facts: sysfs.HostFacts, model: catalog.GpuModel) -> Check:
    section = f'[{catalog.model_section(model.name)}]'
    gpus = [g for g in facts.gpus if g.ids == model.ids]
    if not gpus:
        return Check('catalog', section, Status.WARNING,
                     f'{section} ({model.ids}): none on this host',
                     'nothing to do if this host is not meant to have '
                     'this model; otherwise check the card is seated and '
                     'powered (lspci -nn -d ' + model.ids + ')')
    types = sorted({g.device_type for g in gpus})
    if types != [model.device_type]:
        return Check('catalog', section, Status.PROBLEM,
                     f'{section} declares device_type = '
                     f'{model.device_type} but the host reports '
                     f'{", ".join(types)}: the nova alias matches none of '
                     'these GPUs',
                     f'set device_type = {types[0]} in {section}')
    return companion_check(facts, model, section, gpus)


def companion_check(facts: sysfs.HostFacts, model: catalog.GpuModel,
                    section: str,
                    gpus: ty.Sequence[sysfs.PciFunction]) -> Check:
    """Companions as declared, so generated vfio-pci ids bind them all."""
    found = {f.ids for g in gpus for f in card_functions(facts, g)
             if f.ids != model.ids}
    declared = set(model.companions)
    count = f'{section} ({model.ids}): {len(gpus)} on this host'
    if found - declared:
        missing = ', '.join(sorted(found - declared))
        return Check('catalog', section, Status.WARNING,
                     f'{count}; card functions {missing} are not in '
                     'companions, so the generated vfio-pci ids miss them',
                     f'set companions = {", ".join(sorted(found | declared))}'
                     f' in {section}')
    if declared - found:
        extra = ', '.join(sorted(declared - found))
        return Check('catalog', section, Status.WARNING,
                     f'{count}; companions {extra} are not on these cards',
                     f'set companions = {", ".join(sorted(found))} in '
                     f'{section} if this host is typical of the model')
    return Check('catalog', section, Status.OK,
                 f'{count}, {model.device_type}, companions as declared')


def uncatalogued(gpu: sysfs.PciFunction) -> Check:
    return Check('catalog', gpu.address, Status.WARNING,
                 f'GPU {gpu.address} ({gpu.label}) is in no catalog model: '
                 'nova will not offer it',
                 'add a [gpu:NAME] section for it (nova-gpu-ext discover '
                 'prints one) and its name to [nova_gpu_ext] gpu_models')
