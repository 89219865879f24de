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

"""Find PCI passthrough mistakes in nova.conf values, each with its fix.

:func:`check` works on ``Entry`` values as written in the files, so it
reports the option names and text the operator actually has. The mistakes
it looks for are the silent ones (nova starts, and the flavor later fails
with "No valid host" and no reason) and the values nova refuses; where
nova is importable, every device_spec and alias is also parsed by nova's
own parser. :func:`read_entries` reads the files.
"""

import collections
import dataclasses
import json
import typing as ty

from nova_gpu_ext.admin import host_gpus
from nova_gpu_ext.admin import nova_parsers
from nova_gpu_ext.admin import releases
from nova_gpu_ext.admin import render
from nova_gpu_ext.common import inifile
from nova_gpu_ext.common import resource_classes
from nova_gpu_ext import exception

# Product ids of GPUs that are SR-IOV capable, so nova reports them as
# type-PF: an alias without ``device_type: type-PF`` drops these devices
# and matches nothing. NVIDIA data-center cards of Turing and later.
SRIOV_CAPABLE = {
    '10de:1eb8': 'T4',
    '10de:20b0': 'A100 SXM4 40GB',
    '10de:20b2': 'A100 SXM4 80GB',
    '10de:20b5': 'A100 PCIe 80GB',
    '10de:20f1': 'A100 PCIe 40GB',
    '10de:20b7': 'A30',
    '10de:2235': 'A40',
    '10de:2236': 'A10',
    '10de:25b6': 'A16',
    '10de:26b5': 'L40',
    '10de:26b9': 'L40S',
    '10de:27b8': 'L4',
    '10de:2321': 'H100 NVL',
    '10de:2330': 'H100 SXM5',
    '10de:2331': 'H100 PCIe',
}

_FILTER_OPTIONS = (('filter_scheduler', 'enabled_filters'),
                   ('DEFAULT', 'scheduler_default_filters'))


class LintInputError(exception.BadInput):
    """A nova.conf file that cannot be read or parsed."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One ``option = value`` line of a nova.conf file."""

    path: str
    section: str
    option: str
    value: str


def read_entries(path: str) -> list[Entry]:
    """Every value of ``path`` as written, multi-valued options included.

    :raises LintInputError: one line naming the file and what is wrong
        with it (unreadable, a directory, not UTF-8 text, not INI).
    """
    try:
        ini = inifile.read(path, 'nova.conf')
    except inifile.IniFileError as exc:
        raise LintInputError(str(exc)) from exc
    return [Entry(path, v.section, v.option, v.value) for v in ini.values]


@dataclasses.dataclass(frozen=True)
class Finding:
    """A mistake, where it is, and how to fix it."""

    code: str
    entry: Entry
    problem: str
    fix: str
    # The file of another service the finding is about, for mistakes
    # that are only mistakes across files (``lint_services``).
    other: str = ''

    def __str__(self):
        e = self.entry
        also = f' (and {self.other})' if self.other else ''
        return (f'{e.path}{also}: [{e.section}] {e.option} = {e.value}\n'
                f'  {self.code}: {self.problem}\n  fix: {self.fix}')


@dataclasses.dataclass(frozen=True)
class _Alias:
    entry: Entry
    spec: dict


def check(entries: ty.Sequence[Entry],
          release: releases.Release) -> list[Finding]:
    """Every finding in ``entries`` (all files of one node, or several)."""
    findings = _option_names(entries, release)
    aliases, device_specs, bad = _parse(entries, _placement_mode(entries))
    findings += bad
    for name, group in _by_name(aliases).items():
        findings += _duplicates(name, group, entries)
    for alias in aliases:
        findings += _alias_spec(alias)
    if device_specs:
        findings += [_unmatched(a) for a in aliases
                     if not any(matches(a.spec, s) for s in device_specs)]
    findings += _filters(entries)
    return findings


def _option_names(entries, release) -> list[Finding]:
    """Names of the PCI options other than the ones of ``release``."""
    findings = []
    for entry in entries:
        for names in (releases.DEVICE_SPEC_NAMES, releases.ALIAS_NAMES):
            key = (entry.section, entry.option)
            new = release.name_of(names)
            if key not in _names(names) or key == new:
                continue
            if release.knows(names, *key):
                findings.append(Finding(
                    'deprecated-name', entry,
                    f'deprecated option name in nova {release.name}',
                    f'rename it to [{new[0]}] {new[1]}'))
            else:
                findings.append(Finding(
                    'unknown-name', entry,
                    f'nova {release.name} does not know this name yet and '
                    'ignores the value', f'rename it to [{new[0]}] {new[1]}'))
    return findings


def _names(names) -> set[tuple[str, str]]:
    return {(section, option) for section, option, _ in names}


def _parse(entries, placement):
    """Aliases and device specs as dicts; what nova refuses as findings."""
    aliases, device_specs, findings = [], [], []
    spec_names = _names(releases.DEVICE_SPEC_NAMES)
    alias_names = _names(releases.ALIAS_NAMES)
    for entry in entries:
        key = (entry.section, entry.option)
        if key not in spec_names | alias_names:
            continue
        try:
            value = json.loads(entry.value)
        except ValueError as exc:
            findings.append(Finding(
                'bad-json', entry, f'not JSON ({exc}); nova refuses to start',
                'write one JSON object per line, with double quotes'))
            continue
        if key in alias_names:
            problem = _alias_problem(entry, value, placement)
            if problem is None:
                aliases.append(_Alias(entry, value))
        else:
            problem = _device_spec_problem(entry, value)
            if problem is None:
                device_specs += value if isinstance(value, list) else [value]
        findings += [problem] if problem else []
    return aliases, device_specs, findings


def _alias_problem(entry, value, placement) -> Finding | None:
    if not isinstance(value, dict):
        return Finding(
            'bad-json', entry, 'an alias is one JSON object; nova refuses '
            'to start', 'write one alias object per line')
    name = value.get('name')
    if not isinstance(name, str) or not name.strip():
        return Finding(
            'alias-without-name', entry, 'an alias needs a "name" (a '
            'non-empty string) for flavors to use; nova refuses it',
            'add "name": "NAME" to the alias')
    if not nova_parsers.available():
        return None
    return _nova_refuses(
        entry, nova_parsers.alias_error([entry.value], placement))


def _device_spec_problem(entry, value) -> Finding | None:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        return Finding(
            'bad-device-spec', entry, 'a device_spec is one JSON object or '
            'a list of objects; nova refuses to start',
            'write {"vendor_id": "...", "product_id": "..."} (one object '
            'per line)')
    if not nova_parsers.available():
        return None
    return _nova_refuses(entry, nova_parsers.device_spec_error(entry.value))


def _nova_refuses(entry, reason: str | None) -> Finding | None:
    if reason is None:
        return None
    return Finding('nova-refuses', entry, f'nova\'s own parser refuses it: '
                   f'{reason}', 'fix the value as the message says')


def _by_name(aliases) -> dict[str, list[_Alias]]:
    groups = collections.defaultdict(list)
    for alias in aliases:
        groups[str(alias.spec.get('name'))].append(alias)
    return groups


def _duplicates(name, group, entries) -> list[Finding]:
    if len(group) < 2:
        return []
    findings = []
    entry = group[1].entry
    if any('device_type' not in a.spec for a in group):
        findings.append(Finding(
            'alias-without-device-type', entry,
            f'alias "{name}" is defined {len(group)} times and not every '
            'definition has device_type; nova refuses it',
            'add the same "device_type" to every definition'))
    policies = {a.spec.get('numa_policy', 'legacy') for a in group}
    if len(policies) > 1:
        findings.append(Finding(
            'alias-numa-policy-mismatch', entry,
            f'alias "{name}" has numa_policy {", ".join(sorted(policies))}; '
            'nova refuses it',
            'give every definition of the alias the same numa_policy'))
    if flag(entries):
        findings.append(Finding(
            'multi-spec-alias-in-placement', entry,
            f'alias "{name}" has {len(group)} specs but [filter_scheduler] '
            'pci_in_placement is on; nova refuses it',
            'use one spec with a "resource_class" and give that '
            'resource_class to every matching device_spec'))
    return findings


def _alias_spec(alias) -> list[Finding]:
    findings = []
    spec = alias.spec
    if 'capability_type' in spec:
        findings.append(Finding(
            'alias-capability-type', alias.entry,
            'an alias with "capability_type" never matches a device',
            'remove "capability_type" from the alias'))
    ids = f'{spec.get("vendor_id", "")}:{spec.get("product_id", "")}'.lower()
    if ids in SRIOV_CAPABLE and spec.get('device_type',
                                         'type-PCI') == 'type-PCI':
        findings.append(Finding(
            'alias-type-pci-for-sriov-gpu', alias.entry,
            f'{ids} ({SRIOV_CAPABLE[ids]}) is SR-IOV capable, nova reports '
            'it as type-PF, and this alias matches only type-PCI',
            'set "device_type": "type-PF" in the alias'))
    return findings


def _unmatched(alias) -> Finding:
    return Finding(
        'alias-matches-no-device-spec', alias.entry,
        f'alias "{alias.spec.get("name")}" matches no device_spec of these '
        'files, so no device can ever be given for it',
        'add a device_spec with the alias\'s vendor_id and product_id (or '
        'resource_class), or fix the ids in the alias')


def matches(alias: dict, device_spec: dict) -> bool:
    """Whether some device allowed by ``device_spec`` fits ``alias``."""
    if 'vendor_id' not in alias and 'resource_class' in alias:
        return (resource_classes.normalize(alias['resource_class'])
                == resource_classes.normalize(
                    device_spec.get('resource_class', '')))
    return all(_id_matches(alias.get(key), device_spec.get(key))
               for key in ('vendor_id', 'product_id'))


def _id_matches(alias_id, spec_id) -> bool:
    if alias_id is None or spec_id in (None, '*'):
        return True
    try:
        return int(str(alias_id), 16) == int(str(spec_id), 16)
    except ValueError:
        return False


PCI_IN_PLACEMENT = ('filter_scheduler', 'pci_in_placement')
REPORT_IN_PLACEMENT = ('pci', 'report_in_placement')


def flag(entries, option=PCI_IN_PLACEMENT) -> bool:
    """Whether the last value of boolean ``option`` is true."""
    values = [e.value for e in entries if (e.section, e.option) == option]
    return bool(values) and values[-1].strip().lower() in (
        'true', 'yes', '1', 'on')


def _placement_mode(entries) -> bool:
    """Whether the files are of a node in PCI-in-placement mode.

    A controller says so with ``[filter_scheduler] pci_in_placement``, a
    compute with ``[pci] report_in_placement``; nova's alias parser then
    accepts an alias with a resource class and no ids.
    """
    return flag(entries) or flag(entries, REPORT_IN_PLACEMENT)


# Either one judges PCI requests; GpuPassthroughFilter replaces nova's.
PCI_FILTERS = ('GpuPassthroughFilter', 'PciPassthroughFilter')


def _filters(entries) -> list[Finding]:
    findings = []
    for entry in entries:
        if (entry.section, entry.option) not in _FILTER_OPTIONS:
            continue
        enabled = enabled_filters(entry.value)
        if not set(PCI_FILTERS) & enabled:
            findings.append(Finding(
                'pci-filter-not-enabled', entry,
                'no PCI filter is enabled (GpuPassthroughFilter or '
                'PciPassthroughFilter), so the scheduler ignores PCI '
                'requests and the compute fails the build',
                f'add GpuPassthroughFilter (it replaces '
                f'PciPassthroughFilter) to [{entry.section}] '
                f'{entry.option}'))
        elif set(PCI_FILTERS) <= enabled:
            findings.append(_both_filters(entry))
        if GPU_FILTER in enabled and not _gpu_filter_available(entries):
            findings.append(_not_available(entry))
    return findings


def enabled_filters(value: str) -> set[str]:
    """The filter names of an ``enabled_filters`` value."""
    return {f.strip() for f in value.split(',') if f.strip()}


GPU_FILTER = PCI_FILTERS[0]
# ``available_filters`` values that make GpuPassthroughFilter loadable:
# our loader of all filters, or the class itself. nova's default
# (nova.scheduler.filters.all_filters) knows only nova's filters.
GPU_FILTER_PATHS = (
    render.AVAILABLE_FILTERS[1],
    'nova_gpu_ext.scheduler.filters.gpu_passthrough.GpuPassthroughFilter')


def _gpu_filter_available(entries) -> bool:
    return any(e.value.strip() in GPU_FILTER_PATHS for e in entries
               if (e.section, e.option)
               == ('filter_scheduler', 'available_filters'))


def _both_filters(entry) -> Finding:
    return Finding(
        'pci-filters-both-enabled', entry,
        'GpuPassthroughFilter and PciPassthroughFilter are both enabled: '
        'GpuPassthroughFilter already judges every PCI request as '
        'PciPassthroughFilter does, so each request is walked twice',
        f'remove PciPassthroughFilter from [{entry.section}] '
        f'{entry.option}')


def _not_available(entry) -> Finding:
    return Finding(
        'gpu-filter-not-available', entry,
        'GpuPassthroughFilter is enabled but no [filter_scheduler] '
        'available_filters line loads it, so nova-scheduler refuses to '
        'start ("Scheduler Host Filter GpuPassthroughFilter could not be '
        'found")',
        'add "available_filters = '
        'nova_gpu_ext.scheduler.filters.all_filters" to '
        '[filter_scheduler], beside nova.scheduler.filters.all_filters')


def check_topology(entries: ty.Sequence[Entry],
                   gpus: ty.Sequence[host_gpus.HostGpu]) -> list[Finding]:
    """The ``pcie_switch`` tags of the device_spec entries against the host.

    ``gpus`` are the GPUs of the host the files are for, as its sysfs
    shows them. Each tag must name the switch its GPU sits behind, and
    each GPU behind a switch must be selected (nova takes the first entry
    that matches) by an entry with its tag. Values that are not JSON are
    left to :func:`check`.
    """
    specs = list(_device_spec_dicts(entries))
    by_address = {g.address: g for g in gpus}
    findings = [f for entry, spec in specs
                if host_gpus.PCIE_SWITCH_TAG in spec
                for f in [_tag_finding(entry, spec, by_address)] if f]
    untagged: dict[Entry, list[host_gpus.HostGpu]] = {}
    for gpu in gpus:
        entry = _untagged_selector(specs, gpu)
        if entry is not None:
            untagged.setdefault(entry, []).append(gpu)
    findings += [_missing_tags(e, group) for e, group in untagged.items()]
    return findings


def _device_spec_dicts(entries) -> ty.Iterator[tuple[Entry, dict]]:
    names = _names(releases.DEVICE_SPEC_NAMES)
    for entry in entries:
        if (entry.section, entry.option) not in names:
            continue
        try:
            value = json.loads(entry.value)
        except ValueError:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                yield entry, item


def _tag_finding(entry, spec, by_address) -> Finding | None:
    tag = spec[host_gpus.PCIE_SWITCH_TAG]
    address = spec.get('address')
    if not (isinstance(address, str)
            and host_gpus.EXACT_ADDRESS.match(address.strip())):
        return Finding(
            'pcie-switch-without-address', entry,
            f'pcie_switch "{tag}" on an entry without one exact address: '
            'it names one switch for every GPU the entry matches',
            'give each GPU an entry of its own address, as genconf --role '
            'compute --topology writes them')
    gpu = by_address.get(address.strip().lower())
    if gpu is None:
        return Finding(
            'pcie-switch-no-such-gpu', entry,
            f'no GPU at {address} on this host',
            'run lint-conf --topology on the host these files are for; '
            'after a hardware change, render the entries again with '
            'genconf --role compute --topology')
    if not gpu.path_known:
        return Finding(
            'pcie-switch-unverified', entry,
            f'a PCI bridge above GPU {gpu.address} cannot be read here, so '
            'the switch it sits behind is unknown',
            'run lint-conf as root; check-host names the unreadable bridge')
    if tag != gpu.pcie_switch:
        actual = (f'behind PCIe switch {gpu.pcie_switch}' if gpu.pcie_switch
                  else 'behind no PCIe switch')
        fix = (f'set "pcie_switch": "{gpu.pcie_switch}"' if gpu.pcie_switch
               else 'remove the pcie_switch tag')
        return Finding(
            'pcie-switch-mismatch', entry,
            f'pcie_switch "{tag}", but sysfs shows GPU {gpu.address} '
            f'{actual}', f'{fix}, or render the entries again with genconf '
            '--role compute --topology')
    return None


def _untagged_selector(specs, gpu) -> Entry | None:
    """The entry selecting ``gpu`` (behind a switch) if it has no tag."""
    if gpu.pcie_switch is None:
        return None
    for entry, spec in specs:
        selects = host_gpus.spec_selects(spec, gpu)
        if selects is None:
            return None
        if selects:
            return (None if host_gpus.PCIE_SWITCH_TAG in spec else entry)
    return None


def _missing_tags(entry, gpus) -> Finding:
    switches: dict[str, list[str]] = {}
    for gpu in gpus:
        switches.setdefault(gpu.pcie_switch, []).append(gpu.address)
    listed = '; '.join(f'switch {switch}: {", ".join(addresses)}'
                       for switch, addresses in switches.items())
    return Finding(
        'pcie-switch-missing', entry,
        f'this entry, with no pcie_switch tag, selects GPUs behind PCIe '
        f'switches ({listed}): gpu:switch cannot keep a request under one '
        'switch on this host',
        'put the entries of genconf --role compute --topology (run on this '
        'host) in place of the device_spec lines, then restart '
        'nova-compute')
