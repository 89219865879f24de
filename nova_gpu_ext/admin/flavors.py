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

"""GPU flavors from the catalog, and what to change to get them.

Pure: ``nova_gpu_ext.admin.cloud.flavors`` reads the existing flavors through
openstacksdk and applies the plan made here. A flavor is ours when it
carries ``nova_gpu_ext:managed=true``; nova-api validates only the
extra-spec namespaces it has validators for, so this namespace is
accepted. Flavors without it are never changed, whatever their name.
"""

import dataclasses
import enum
import typing as ty

from nova_gpu_ext.admin import address_space
from nova_gpu_ext.common import catalog
from nova_gpu_ext.gpu import models

MANAGED_SPEC = 'nova_gpu_ext:managed'
ALIAS_SPEC = 'pci_passthrough:alias'
HIDE_HYPERVISOR_SPEC = 'hw:hide_hypervisor_id'
# The keys sync writes; on its own flavors it removes these when the
# catalog no longer asks for them and leaves any other key an operator
# added alone.
OWNED_SPECS = frozenset({MANAGED_SPEC, ALIAS_SPEC, HIDE_HYPERVISOR_SPEC,
                         models.SAME_MODEL_SPEC, models.NUMA_SPEC,
                         models.MAXPHYSADDR_MODE_SPEC,
                         models.MAXPHYSADDR_BITS_SPEC})


def flavor_name(name: str, count: int) -> str:
    """``gpu.<model or class>.x<count>``."""
    return f'gpu.{name}.x{count}'


@dataclasses.dataclass(frozen=True)
class Flavor:
    """A flavor as nova has it (``id`` set) or as the catalog wants it."""

    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    description: str = ''
    extra_specs: ty.Mapping[str, str] = dataclasses.field(
        default_factory=dict)
    id: str | None = None

    @property
    def managed(self) -> bool:
        return self.extra_specs.get(MANAGED_SPEC) == 'true'

    @property
    def sizing(self) -> tuple[int, int, int, int]:
        """What nova cannot change on an existing flavor."""
        return (self.vcpus, self.ram, self.disk, self.ephemeral)

    def describe(self) -> str:
        return (f'{self.vcpus} vCPU, {self.ram} MiB RAM, {self.disk} GiB '
                f'disk, {self.ephemeral} GiB ephemeral')


def desired(gpu_catalog: catalog.Catalog) -> list[Flavor]:
    """Every flavor the catalog asks for, models first, in catalog order.

    :raises CatalogError: when a model and a class would make flavors of
        the same name.
    """
    flavors = {}
    entries = ([(catalog.model_section(m.name), m.name, m.alias,
                 m.description, m.flavor, False, m.bar_bytes)
                for m in gpu_catalog.models]
               + [(catalog.class_section(c.name), c.name, c.alias,
                   c.description, c.flavor, True,
                   _class_bar_bytes(gpu_catalog, c))
                  for c in gpu_catalog.classes])
    for (section, name, alias, description, settings, is_class,
         bar_bytes) in entries:
        for count in settings.counts:
            flavor = _flavor(name, alias, description, settings, count,
                             is_class, bar_bytes)
            if flavor.name in flavors:
                raise catalog.CatalogError(
                    section, 'flavor_counts', count,
                    f'flavor {flavor.name} is already made for the model '
                    f'of that name; rename the class or drop the count')
            flavors[flavor.name] = flavor
    return list(flavors.values())


def _class_bar_bytes(gpu_catalog, gpu_class) -> int | None:
    """Its largest member's: a class flavor may get any of them."""
    sizes = [gpu_catalog.model(n).bar_bytes for n in gpu_class.models]
    return None if None in sizes else max(sizes)


def _flavor(name, alias, description, settings, count, is_class,
            bar_bytes):
    specs = {MANAGED_SPEC: 'true', ALIAS_SPEC: f'{alias}:{count}'}
    if bar_bytes:
        # A large VM: room for its RAM and every GPU's BARs.
        specs.update(address_space.properties(
            settings.ram_mb_per_gpu * count, bar_bytes * count))
    if is_class and count > 1:
        # The models of a class differ; a class flavor states that its
        # GPUs must still be identical, whatever the scheduler default.
        specs[models.SAME_MODEL_SPEC] = 'true'
    if settings.gpu_numa is not None:
        specs[models.NUMA_SPEC] = settings.gpu_numa
    if settings.gpu_switch is not None:
        specs[models.SWITCH_SPEC] = settings.gpu_switch
    if settings.hide_hypervisor_id:
        specs[HIDE_HYPERVISOR_SPEC] = 'true'
    text = description or name
    return Flavor(
        name=flavor_name(name, count),
        vcpus=settings.vcpus_per_gpu * count,
        ram=settings.ram_mb_per_gpu * count,
        disk=settings.disk_gb,
        ephemeral=settings.ephemeral_gb_per_gpu * count,
        description=f'{count} x {text} (nova-gpu-ext)',
        extra_specs=specs)


class Action(str, enum.Enum):
    CREATE = 'create'
    RECREATE = 'recreate'
    UPDATE = 'update'
    UNCHANGED = 'unchanged'
    DELETE = 'delete'
    KEEP = 'keep'
    CONFLICT = 'conflict'


@dataclasses.dataclass(frozen=True)
class Change:
    """One flavor's step; ``target`` is what the catalog wants, if any."""

    action: Action
    name: str
    target: Flavor | None = None
    existing: Flavor | None = None
    set_specs: ty.Mapping[str, str] = dataclasses.field(
        default_factory=dict)
    unset_specs: tuple[str, ...] = ()
    description: str | None = None

    def describe(self) -> str:
        """The line the operator reads; says why, and what nova cannot."""
        return _DESCRIBE[self.action](self)


def _describe_update(change: Change) -> str:
    parts = [f'set {k}={v}' for k, v in sorted(change.set_specs.items())]
    parts += [f'unset {k}' for k in change.unset_specs]
    if change.description is not None:
        parts.append(f'description "{change.description}"')
    return 'extra specs updated in place: ' + ', '.join(parts)


def _describe_recreate(change: Change) -> str:
    return (f'{change.existing.describe()} -> {change.target.describe()}; '
            'nova cannot resize a flavor, so it is deleted and created '
            'again with a new id (servers keep their size until resized)')


_DESCRIBE = {
    Action.CREATE: lambda c: c.target.describe() + ', '
    + _specs(c.target.extra_specs),
    Action.RECREATE: _describe_recreate,
    Action.UPDATE: _describe_update,
    Action.UNCHANGED: lambda c: 'matches the catalog',
    Action.DELETE: lambda c: 'made by nova-gpu-ext, no longer in the '
                             'catalog',
    Action.KEEP: lambda c: 'made by nova-gpu-ext, no longer in the '
                           'catalog; kept (--prune deletes it)',
    Action.CONFLICT: lambda c: f'exists and was not made by nova-gpu-ext '
                               f'(no {MANAGED_SPEC}=true); left alone: '
                               'rename or delete it, then sync again',
}


def _specs(specs: ty.Mapping[str, str]) -> str:
    return ' '.join(f'{k}={v}' for k, v in sorted(specs.items()))


def plan(wanted: ty.Sequence[Flavor], existing: ty.Iterable[Flavor],
         prune: bool) -> list[Change]:
    """The steps from ``existing`` to ``wanted``, catalog order first."""
    by_name = {f.name: f for f in existing}
    changes = [_change(flavor, by_name.get(flavor.name))
               for flavor in wanted]
    wanted_names = {f.name for f in wanted}
    action = Action.DELETE if prune else Action.KEEP
    changes += [Change(action, f.name, existing=f)
                for f in sorted(by_name.values(), key=lambda f: f.name)
                if f.managed and f.name not in wanted_names]
    return changes


def _change(target: Flavor, current: Flavor | None) -> Change:
    if current is None:
        return Change(Action.CREATE, target.name, target)
    if not current.managed:
        return Change(Action.CONFLICT, target.name, target, current)
    if current.sizing != target.sizing:
        return Change(Action.RECREATE, target.name, target, current)
    set_specs = {k: v for k, v in target.extra_specs.items()
                 if current.extra_specs.get(k) != v}
    unset_specs = tuple(sorted(k for k in current.extra_specs
                               if k in OWNED_SPECS
                               and k not in target.extra_specs))
    description = (target.description
                   if current.description != target.description else None)
    if set_specs or unset_specs or description is not None:
        return Change(Action.UPDATE, target.name, target, current,
                      set_specs, unset_specs, description)
    return Change(Action.UNCHANGED, target.name, target, current)


def changes_made(changes: ty.Iterable[Change]) -> bool:
    """Whether applying ``changes`` calls nova at all."""
    return any(c.action in _WRITES for c in changes)


_WRITES = frozenset({Action.CREATE, Action.RECREATE, Action.UPDATE,
                     Action.DELETE})


def summary(changes: ty.Sequence[Change]) -> str:
    """``2 create, 1 unchanged``-style counts in a fixed order."""
    counts = {action: 0 for action in Action}
    for change in changes:
        counts[change.action] += 1
    return ', '.join(f'{n} {action.value}' for action, n in counts.items()
                     if n)
