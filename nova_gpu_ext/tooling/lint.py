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

Pure: works on ``Entry`` values as written in the files, so it reports
the option names and text the operator actually has. The mistakes it
looks for are the silent ones: nova starts, and the flavor later fails
with "No valid host" and no reason.
"""

import collections
import dataclasses
import json
import typing as ty

from nova_gpu_ext.tooling import releases

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


@dataclasses.dataclass(frozen=True)
class Entry:
    """One ``option = value`` line of a nova.conf file."""

    path: str
    section: str
    option: str
    value: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """A mistake, where it is, and how to fix it."""

    code: str
    entry: Entry
    problem: str
    fix: str

    def __str__(self):
        e = self.entry
        return (f'{e.path}: [{e.section}] {e.option} = {e.value}\n'
                f'  {self.code}: {self.problem}\n  fix: {self.fix}')


@dataclasses.dataclass(frozen=True)
class _Alias:
    entry: Entry
    spec: dict


def check(entries: ty.Sequence[Entry],
          release: releases.Release) -> list[Finding]:
    """Every finding in ``entries`` (all files of one node, or several)."""
    findings = _deprecated_names(entries, release)
    aliases, device_specs, bad = _parse(entries, release)
    findings += bad
    for name, group in _by_name(aliases).items():
        findings += _duplicates(name, group, entries)
    for alias in aliases:
        findings += _alias_spec(alias)
    if device_specs:
        findings += [_unmatched(a) for a in aliases
                     if not any(_matches(a.spec, s) for s in device_specs)]
    findings += _filters(entries)
    return findings


def _deprecated_names(entries, release) -> list[Finding]:
    renames = {
        ('DEFAULT', 'pci_passthrough_whitelist'): release.device_spec_option,
        ('pci', 'passthrough_whitelist'): release.device_spec_option,
        ('DEFAULT', 'pci_alias'): release.alias_option,
    }
    findings = []
    for entry in entries:
        new = renames.get((entry.section, entry.option))
        if new and new != (entry.section, entry.option):
            findings.append(Finding(
                'deprecated-name', entry,
                f'deprecated option name in nova {release.name}',
                f'rename it to [{new[0]}] {new[1]}'))
    return findings


def _parse(entries, release):
    """Aliases and device specs as dicts; unparsable values as findings."""
    aliases, device_specs, findings = [], [], []
    spec_names = {('DEFAULT', 'pci_passthrough_whitelist'),
                  ('pci', 'passthrough_whitelist'), ('pci', 'device_spec')}
    alias_names = {('DEFAULT', 'pci_alias'), ('pci', 'alias')}
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
        if key in alias_names and not isinstance(value, dict):
            findings.append(Finding(
                'bad-json', entry, 'an alias is one JSON object; nova '
                'refuses to start', 'write one alias object per line'))
        elif key in alias_names:
            aliases.append(_Alias(entry, value))
        else:
            device_specs += value if isinstance(value, list) else [value]
    return aliases, device_specs, findings


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
    if _placement(entries):
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


def _matches(alias: dict, device_spec: dict) -> bool:
    """Whether some device allowed by ``device_spec`` fits ``alias``."""
    if not isinstance(device_spec, dict):
        return False
    if 'vendor_id' not in alias and 'resource_class' in alias:
        return (_rc(alias['resource_class'])
                == _rc(device_spec.get('resource_class', '')))
    return all(_id_matches(alias.get(key), device_spec.get(key))
               for key in ('vendor_id', 'product_id'))


def _id_matches(alias_id, spec_id) -> bool:
    if alias_id is None or spec_id in (None, '*'):
        return True
    try:
        return int(str(alias_id), 16) == int(str(spec_id), 16)
    except ValueError:
        return False


def _rc(name: str) -> str:
    name = str(name).upper()
    return name if name.startswith('CUSTOM_') else 'CUSTOM_' + name


def _placement(entries) -> bool:
    values = [e.value for e in entries
              if (e.section, e.option) == ('filter_scheduler',
                                           'pci_in_placement')]
    return bool(values) and values[-1].strip().lower() in (
        'true', 'yes', '1', 'on')


def _filters(entries) -> list[Finding]:
    return [Finding(
        'pci-filter-not-enabled', entry,
        'PciPassthroughFilter is not enabled, so the scheduler ignores '
        'GPU requests and the compute fails the build',
        f'add PciPassthroughFilter (and GpuPassthroughFilter) to '
        f'[{entry.section}] {entry.option}')
        for entry in entries
        if (entry.section, entry.option) in _FILTER_OPTIONS
        and 'PciPassthroughFilter' not in
        [f.strip() for f in entry.value.split(',')]]
