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

"""Find the PCI mistakes that are only mistakes across nova's services.

Each nova service reads its own nova.conf, and most passthrough failures
are files right on their own and wrong together: an alias on nova-compute
that nova-api lacks ("PCI alias is not defined" at boot),
``pci_in_placement`` on the scheduler without ``report_in_placement`` on a
compute (every GPU flavor "No valid host"). :func:`check` runs lint's
one-node checks on each service's files, then compares the services; a
cross-service finding is in one file and names, as ``other``, the file it
disagrees with.
"""

import dataclasses
import json
import math
import os
import re
import typing as ty

from nova_gpu_ext.admin import lint
from nova_gpu_ext.admin import releases
from nova_gpu_ext.admin import render

ROLES = ('api', 'scheduler', 'conductor', 'compute')
# Plain ``--nova-conf FILE``: the files of one node running every service.
NODE = 'node'

# nova's ``[scheduler] max_placement_results`` default (34.0.0).
MAX_PLACEMENT_RESULTS = 1000
MAX_PLACEMENT_RESULTS_OPTION = ('scheduler', 'max_placement_results')

_ALIAS_OPTIONS = {(s, o) for s, o, _ in releases.ALIAS_NAMES}
_SPEC_OPTIONS = {(s, o) for s, o, _ in releases.DEVICE_SPEC_NAMES}
_FILTER_OPTIONS = (('filter_scheduler', 'enabled_filters'),
                   ('DEFAULT', 'scheduler_default_filters'))
# A device_spec of a neutron port (SR-IOV NIC, DPU): used by ports, never
# by an alias.
_PORT_TAGS = ('physical_network', 'remote_managed')
# kolla-ansible's /etc/kolla/<service>/nova.conf: service directory ->
# role.
KOLLA_SERVICES = {'nova-api': 'api', 'nova-scheduler': 'scheduler',
                  'nova-conductor': 'conductor', 'nova-compute': 'compute'}
_SOURCE = re.compile(r'^(?P<role>[a-z]+)(@(?P<host>[^=/]+))?=(?P<path>.+)$')
_FULL_ADDRESS = re.compile(
    r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$', re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Service:
    """The nova.conf files of one service (``host`` set for one host)."""

    role: str
    host: str = ''
    paths: tuple[str, ...] = ()
    entries: tuple[lint.Entry, ...] = ()

    @property
    def name(self) -> str:
        return f'{self.role}@{self.host}' if self.host else self.role

    def runs(self, role: str) -> bool:
        return self.role in (role, NODE)

    def last(self, option: tuple[str, str]) -> lint.Entry | None:
        found = [e for e in self.entries if (e.section, e.option) == option]
        return found[-1] if found else None

    def unset(self, option: tuple[str, str]) -> lint.Entry:
        """A stand-in entry for an option the files do not set."""
        return lint.Entry(self.paths[0], option[0], option[1], '')

    def flag(self, option=lint.PCI_IN_PLACEMENT) -> bool:
        return lint.flag(self.entries, option)


class ServiceInputError(lint.LintInputError):
    """A ``ROLE=FILE`` or a config tree that cannot be used."""


@dataclasses.dataclass(frozen=True)
class Source:
    """One file and the service reading it (role NODE: every service)."""

    role: str
    host: str
    path: str


def parse_source(text: str) -> Source:
    """``ROLE=FILE``, ``ROLE@HOST=FILE`` or a plain ``FILE`` (NODE)."""
    match = _SOURCE.match(text)
    if match is None:
        return Source(NODE, '', text)
    if match['role'] not in ROLES:
        raise ServiceInputError(
            f'--nova-conf {text}: unknown role "{match["role"]}"; write '
            f'{", ".join(ROLES)} or compute@HOST before "=" (or ./{text} '
            'for a file of that name)')
    return Source(match['role'], match['host'] or '', match['path'])


def tree_sources(directory: str) -> list[Source]:
    """The nova.conf files of a kolla-style config tree.

    ``DIR/<service>/nova.conf`` (one node's /etc/kolla) and
    ``DIR/<host>/<service>/nova.conf`` (the trees of several nodes, one
    directory per host), for the services of ``KOLLA_SERVICES``; other
    directories are not nova's and are skipped.
    """
    if not os.path.isdir(directory):
        raise ServiceInputError(
            f'--nova-conf-tree {directory}: not a directory; give a kolla '
            'config tree (DIR/nova-api/nova.conf, ...) or one per host '
            '(DIR/HOST/nova-compute/nova.conf, ...)')
    found = _node_sources(directory, '')
    for host in sorted(os.listdir(directory)):
        path = os.path.join(directory, host)
        if host not in KOLLA_SERVICES and os.path.isdir(path):
            found += _node_sources(path, host)
    if not found:
        raise ServiceInputError(
            f'--nova-conf-tree {directory}: no {"/, ".join(KOLLA_SERVICES)}/ '
            'directory with a nova.conf in it or in a host directory below '
            'it; give the kolla config directory (/etc/kolla) of a node')
    return found


def _node_sources(directory: str, host: str) -> list[Source]:
    return [Source(role, host, os.path.join(directory, name, 'nova.conf'))
            for name, role in KOLLA_SERVICES.items()
            if os.path.lexists(os.path.join(directory, name, 'nova.conf'))]


def read_services(sources: ty.Sequence[Source]) -> list[Service]:
    """One service per role and host, its files in the order given.

    :raises LintInputError: a file that cannot be read or parsed.
    """
    grouped = {}
    for source in sources:
        grouped.setdefault((source.role, source.host), []).append(
            source.path)
    return [Service(role, host, tuple(paths), tuple(
        e for path in paths for e in lint.read_entries(path)))
        for (role, host), paths in grouped.items()]


def check(services: ty.Sequence[Service], release: releases.Release, *,
          largest_request: int | None = None,
          gpus_per_host: int | None = None) -> list[lint.Finding]:
    """Every one-node finding of each service, then the cross-service ones.

    ``largest_request``: the most GPUs one flavor asks for (the catalog's
    largest ``flavor_counts``); None means a whole host's GPUs.
    ``gpus_per_host``: None counts the per-address device_specs of each
    compute.
    """
    findings = [f for s in services
                for f in lint.check(s.entries, release)]
    findings += _aliases_agree(services)
    findings += _placement_agrees(services)
    findings += _multi_spec_in_placement(services)
    findings += _scheduler_filters(services)
    findings += _placement_results(services, largest_request, gpus_per_host)
    findings += _unused_device_specs(services)
    return findings


def aliases(service: Service) -> dict[str, list[tuple[lint.Entry, dict]]]:
    """Alias name -> its definitions (entry, JSON object), in file order."""
    found = {}
    for entry in service.entries:
        if (entry.section, entry.option) not in _ALIAS_OPTIONS:
            continue
        spec = _json(entry.value)
        if isinstance(spec, dict) and isinstance(spec.get('name'), str):
            found.setdefault(spec['name'], []).append((entry, spec))
    return found


def device_specs(service: Service) -> list[tuple[lint.Entry, dict]]:
    """Each device_spec object with the entry it is written in."""
    found = []
    for entry in service.entries:
        if (entry.section, entry.option) in _SPEC_OPTIONS:
            value = _json(entry.value)
            items = value if isinstance(value, list) else [value]
            found += [(entry, i) for i in items if isinstance(i, dict)]
    return found


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _api(services) -> Service | None:
    return next((s for s in services if s.runs('api')), None)


def _schedulers(services) -> list[Service]:
    return [s for s in services if s.runs('scheduler')]


def _placement_scheduler(services) -> Service | None:
    return next((s for s in _schedulers(services) if s.flag()), None)


def _aliases_agree(services) -> list[lint.Finding]:
    """Every alias holder against nova-api, the service flavors reach first.

    Holders: the computes, other API copies, a conductor that sets aliases
    and, in placement mode, the scheduler (it turns aliases into placement
    request groups).
    """
    api = _api(services)
    if api is None:
        return []
    placement = _placement_scheduler(services) is not None
    holders = [s for s in services if s is not api and (
        s.runs('compute') or s.runs('api') or aliases(s)
        or (placement and s.runs('scheduler')))]
    want = aliases(api)
    findings = []
    for holder in holders:
        have = aliases(holder)
        for name in sorted(want.keys() | have.keys()):
            findings += _compare(name, api, want.get(name), holder,
                                 have.get(name))
    return findings


def _compare(name, api, wanted, holder, had) -> list[lint.Finding]:
    if had is None:
        return [lint.Finding(
            'alias-missing', wanted[0][0],
            f'alias "{name}" is defined for {api.name} but not for '
            f'{holder.name}: each service resolves a flavor\'s alias from '
            f'its own [pci] alias, and {holder.name} fails the request '
            f'("PCI alias {name} is not defined")',
            f'add the [pci] alias lines of "{name}" to {holder.paths[0]}',
            other=holder.paths[0])]
    if wanted is None:
        return [lint.Finding(
            'alias-missing', had[0][0],
            f'alias "{name}" is defined for {holder.name} but not for '
            f'{api.name}: nova-api refuses every flavor that asks for it '
            f'("PCI alias {name} is not defined")',
            f'add the [pci] alias lines of "{name}" to {api.paths[0]}',
            other=api.paths[0])]
    if _canonical(wanted) != _canonical(had):
        return [lint.Finding(
            'alias-differs', had[0][0],
            f'alias "{name}" of {holder.name} differs from the one of '
            f'{api.name}: the services disagree on which devices a flavor '
            'asks for',
            f'make the [pci] alias lines of "{name}" identical in both '
            'files (genconf renders both from one catalog)',
            other=api.paths[0])]
    return []


def _canonical(definitions) -> list[str]:
    return sorted(json.dumps(spec, sort_keys=True) for _, spec in definitions)


def _placement_agrees(services) -> list[lint.Finding]:
    """pci_in_placement on the scheduler needs every compute reporting.

    And the other way round: computes reporting to a scheduler that does
    not use it (allowed while migrating, nothing gained). nova-api and
    nova-conductor read ``pci_in_placement`` too.
    """
    findings = []
    for scheduler in _schedulers(services):
        on = scheduler.flag()
        for other in services:
            if other is scheduler:
                continue
            if other.runs('compute'):
                findings += _reporting(scheduler, other, on)
            if (other.runs('api') or other.runs('conductor')) and (
                    other.flag() != on):
                findings.append(_mode_differs(scheduler, other, on))
    return findings


def _reporting(scheduler, compute, on) -> list[lint.Finding]:
    reports = compute.flag(lint.REPORT_IN_PLACEMENT)
    if on and not reports:
        return [lint.Finding(
            'placement-not-reported',
            scheduler.last(lint.PCI_IN_PLACEMENT),
            f'{scheduler.name} asks placement for the GPUs of flavors, but '
            f'{compute.name} does not report its GPUs there ([pci] '
            'report_in_placement is off): no GPU flavor can land on it',
            f'set [pci] report_in_placement = True in {compute.paths[0]} '
            'and restart nova-compute (every compute, before '
            'pci_in_placement)', other=compute.paths[0])]
    if reports and not on:
        return [lint.Finding(
            'placement-not-used',
            compute.last(lint.REPORT_IN_PLACEMENT),
            f'{compute.name} reports its GPUs to placement but '
            f'{scheduler.name} does not use them ([filter_scheduler] '
            'pci_in_placement is off): fine while migrating, but placement '
            'does not choose the GPUs yet',
            f'once every compute reports, set [filter_scheduler] '
            f'pci_in_placement = True in {scheduler.paths[0]} and in the '
            'nova-api and nova-conductor files', other=scheduler.paths[0])]
    return []


def _mode_differs(scheduler, other, on) -> lint.Finding:
    entry = other.last(lint.PCI_IN_PLACEMENT) or other.unset(
        lint.PCI_IN_PLACEMENT)
    return lint.Finding(
        'placement-mode-differs', entry,
        f'[filter_scheduler] pci_in_placement is {on} on {scheduler.name} '
        f'but not on {other.name}: nova-api and nova-conductor build the '
        'placement request of a flavor from it',
        f'set [filter_scheduler] pci_in_placement = {on} in '
        f'{other.paths[0]}', other=scheduler.paths[0])


def _multi_spec_in_placement(services) -> list[lint.Finding]:
    """Repeated alias names where the scheduler (not the file) says placement.

    A file that sets pci_in_placement itself is found by lint's one-node
    check already.
    """
    scheduler = _placement_scheduler(services)
    if scheduler is None:
        return []
    return [lint.Finding(
        'multi-spec-alias-in-placement', group[1][0],
        f'alias "{name}" has {len(group)} specs in {service.name} while '
        f'{scheduler.name} has pci_in_placement on; nova refuses it',
        'use one spec with a "resource_class" and give that '
        'resource_class to every matching device_spec',
        other=scheduler.paths[0])
        for service in services if not service.flag()
        for name, group in aliases(service).items() if len(group) > 1]


def _scheduler_filters(services) -> list[lint.Finding]:
    """GpuPassthroughFilter on every scheduler of a cloud with aliases.

    lint's one-node check already finds a list with no PCI filter; here a
    scheduler without the option (nova's default has no PCI filter) and a
    list with PciPassthroughFilter only are findings, because the other
    files ask for GPUs.
    """
    asked = [s for s in services if aliases(s)]
    if not asked:
        return []
    findings = []
    for scheduler in _schedulers(services):
        entry = next((scheduler.last(o) for o in _FILTER_OPTIONS
                      if scheduler.last(o)), None)
        enabled = lint.enabled_filters(entry.value) if entry else set()
        if lint.GPU_FILTER in enabled or (
                entry and not set(lint.PCI_FILTERS) & enabled):
            continue
        findings.append(_gpu_filter_off(scheduler, entry, asked[0]))
    return findings


def _gpu_filter_off(scheduler, entry, asking) -> lint.Finding:
    default = ','.join(render.NOVA_DEFAULT_FILTERS + render.GPU_FILTERS)
    if entry is None:
        return lint.Finding(
            'gpu-filter-not-enabled', scheduler.unset(_FILTER_OPTIONS[0]),
            f'{scheduler.name} does not set enabled_filters, and nova\'s '
            f'default has no PCI filter, while {asking.name} defines '
            'aliases: the scheduler ignores PCI requests',
            f'set [filter_scheduler] enabled_filters = {default} in '
            f'{scheduler.paths[0]}', other=asking.paths[0])
    return lint.Finding(
        'gpu-filter-not-enabled', entry,
        f'{scheduler.name} enables PciPassthroughFilter, not '
        'GpuPassthroughFilter: the GPUs of one request may be of '
        'different models or NUMA nodes, and a refusal gives no reason',
        f'replace PciPassthroughFilter with GpuPassthroughFilter in '
        f'[{entry.section}] {entry.option}', other=asking.paths[0])


def _placement_results(services, largest_request,
                       gpus_per_host) -> list[lint.Finding]:
    """Enough placement results for one host's allocation candidates.

    nova asks for each GPU of a flavor in its own request group, so a
    host with G GPUs of one resource class has G!/(G-k)! candidates for
    a request of k; placement generates a host's candidates together
    (depth-first) and cuts the list at max_placement_results, so with a
    lower limit the scheduler sees at most one host (LP#2070257).
    """
    scheduler = _placement_scheduler(services)
    if scheduler is None:
        return []
    entry = scheduler.last(MAX_PLACEMENT_RESULTS_OPTION)
    limit = _int(entry.value if entry else None, MAX_PLACEMENT_RESULTS)
    gpus, source = _gpus_per_host(services, gpus_per_host)
    if limit is None or not gpus:
        return []
    count = min(largest_request or gpus, gpus)
    needed = math.perm(gpus, count)
    if limit >= needed:
        return []
    where = source.paths[0] if source else '--gpus-per-host'
    return [lint.Finding(
        'placement-results-too-low',
        entry or scheduler.unset(MAX_PLACEMENT_RESULTS_OPTION),
        f'{gpus} GPUs of one resource class per host ({where}) and a '
        f'flavor asking for {count} give {needed} allocation candidates '
        f'per host (one request group per GPU, in every order), more than '
        f'max_placement_results = {limit}: placement cuts the list inside '
        'one host, so the scheduler sees one host at most',
        f'set [scheduler] max_placement_results = {needed} (one host\'s '
        'candidates; multiply by the hosts to choose from) in '
        f'{scheduler.paths[0]}, and on placement [placement] '
        'allocation_candidates_generation_strategy = breadth-first',
        other='' if source is None else source.paths[0])]


def _int(text, default) -> int | None:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        return None


def _gpus_per_host(services, given) -> tuple[int, Service | None]:
    """The given count, else the most per-address GPUs of one compute."""
    if given:
        return given, None
    best, source = 0, None
    for compute in (s for s in services if s.runs('compute')):
        per_kind = {}
        for _, spec in device_specs(compute):
            if _FULL_ADDRESS.match(str(spec.get('address', ''))):
                kind = spec.get('resource_class') or (
                    spec.get('vendor_id'), spec.get('product_id'))
                per_kind[kind] = per_kind.get(kind, 0) + 1
        count = max(per_kind.values(), default=0)
        if count > best:
            best, source = count, compute
    return best, source


def _unused_device_specs(services) -> list[lint.Finding]:
    """A compute's GPUs that no alias (its own or nova-api's) asks for."""
    api = _api(services)
    findings = []
    for compute in (s for s in services if s.runs('compute')):
        known = [spec for group in aliases(compute).values()
                 for _, spec in group]
        if api is not None and api is not compute:
            known += [spec for group in aliases(api).values()
                      for _, spec in group]
        for entry, spec in device_specs(compute):
            if any(tag in spec for tag in _PORT_TAGS) or any(
                    lint.matches(alias, spec) for alias in known):
                continue
            findings.append(_unused(compute, api, entry))
    return findings


def _unused(compute, api, entry) -> lint.Finding:
    where = compute.name if api in (None, compute) else (
        f'{compute.name} or {api.name}')
    return lint.Finding(
        'device-spec-unused', entry,
        f'no alias of {where} asks for the devices of this device_spec: '
        'nova tracks (and in placement mode reports) them, but no flavor '
        'can get them',
        'add an alias for them (genconf renders one per catalog model) to '
        'every service, or remove the device_spec',
        other='' if api in (None, compute) else api.paths[0])
