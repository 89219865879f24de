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

"""GPU requests as nova makes them from flavors and ``[pci] alias``.

A flavor's ``pci_passthrough:alias = "a:2, b:1"`` becomes one
``InstancePCIRequest`` per item; its spec list is the alias's JSON
objects without ``name`` and ``numa_policy``, with ``device_type`` renamed
``dev_type`` (``nova.pci.request``). Here they become the core's
``claims.DeviceRequest`` values, with request ids fixed by position so
that the same question gives the same answer.
"""

import dataclasses
import json
import typing as ty

from oslo_config import cfg
from oslo_utils import strutils

from nova_gpu_ext.admin import flavors
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.admin import releases
from nova_gpu_ext.admin import render
from nova_gpu_ext.common import inifile
from nova_gpu_ext.common import values
from nova_gpu_ext.conf import scheduler as scheduler_opts
from nova_gpu_ext import exception
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models

ALIAS_SPEC = flavors.ALIAS_SPEC


def scheduler_options(nova_confs: ty.Sequence[str] = ()):
    """The ``[nova_gpu_ext]`` options as nova-scheduler reads them.

    From these nova.conf files (later ones win), else the option
    defaults; a private ConfigOpts, never the global one.
    """
    for path in nova_confs:
        inifile.read(path, 'nova.conf')
    conf = cfg.ConfigOpts()
    scheduler_opts.register_opts(conf)
    try:
        conf(args=[], default_config_files=list(nova_confs),
             default_config_dirs=[], use_env=False)
        group = conf.nova_gpu_ext
        scheduler_opts.default_policy(group)
    except (cfg.Error, ValueError) as exc:
        raise BadRequest(
            f'{", ".join(nova_confs)}: [nova_gpu_ext] cannot be used: '
            f'{exception.one_line(exc)}') from exc
    return group


def default_policy(nova_confs: ty.Sequence[str] = ()) -> models.GpuPolicy:
    """The policy of a flavor without ``gpu:`` specs.

    ``[nova_gpu_ext] same_model_default`` and ``numa_default`` as the
    scheduler has them (:func:`scheduler_options`).
    """
    return scheduler_opts.default_policy(scheduler_options(nova_confs))


class BadRequest(exception.BadInput):
    """A ``--request`` or flavor that cannot be turned into GPU requests."""


@dataclasses.dataclass(frozen=True)
class Alias:
    """One ``[pci] alias`` name: the request specs of its definitions."""

    name: str
    specs: tuple[ty.Mapping[str, ty.Any], ...]


def alias_specs(definitions: ty.Iterable[ty.Mapping[str, ty.Any]]
                ) -> dict[str, Alias]:
    """Aliases from ``[pci] alias`` JSON objects, as nova translates them."""
    specs: dict[str, list] = {}
    for definition in definitions:
        spec = dict(definition)
        name = str(spec.pop('name', '')).strip()
        spec.pop('numa_policy', None)
        device_type = spec.pop('device_type', None)
        if device_type:
            spec['dev_type'] = device_type
        if spec.get('live_migratable') is not None:
            spec['live_migratable'] = str(strutils.bool_from_string(
                spec['live_migratable'])).lower()
        specs.setdefault(name, []).append(spec)
    return {name: Alias(name, tuple(s)) for name, s in specs.items()}


def catalog_aliases(gpu_catalog, placement: bool) -> dict[str, Alias]:
    """The aliases genconf renders for the catalog in this PCI mode.

    Not parsed by nova's parsers: genconf and lint-conf do that, and the
    import of nova alone takes a fleet question more than a second.
    """
    lines = render.nova_conf(gpu_catalog, 'controller',
                             releases.parse(releases.NEWEST), placement,
                             check=False)
    _, option = releases.parse(releases.NEWEST).alias_option
    return alias_specs(json.loads(line.value) for line in lines
                       if line.option == option)


def provider_tags(gpu_catalog) -> dict:
    """Per model, the resource class and traits of its device providers.

    What the catalog's placement-mode device specs give them: the class's
    resource class for a model in a class, else the model's own.
    """
    tags = {}
    for model in gpu_catalog.models:
        found = {'resource_class': gpu_catalog.resource_class_of(model)}
        if model.traits:
            found['traits'] = ','.join(model.traits)
        tags[models.ModelKey(model.vendor_id, model.product_id)] = found
    return tags


@dataclasses.dataclass(frozen=True)
class GpuRequest:
    """A server's GPU request: its alias items and the flavor's policy."""

    label: str
    items: tuple[tuple[str, int], ...]
    policy: models.GpuPolicy
    # The specs of each item when known without the aliases: a running
    # server's requests carry the specs nova made when it was created.
    # Each spec is frozen as sorted (key, value) pairs, so that requests
    # stay hashable.
    specs: tuple[tuple[tuple[tuple[str, ty.Any], ...], ...], ...] | None = (
        None)

    @property
    def gpus(self) -> int:
        return sum(count for _, count in self.items)

    def unknown_aliases(self, aliases: ty.Mapping[str, Alias]) -> list:
        if self.specs is not None:
            return []
        return [name for name, _ in self.items if name not in aliases]

    def device_requests(self, aliases: ty.Mapping[str, Alias]
                        ) -> list[claims.DeviceRequest]:
        """One request per item; KeyError for an alias not in ``aliases``."""
        specs = ([tuple(dict(s) for s in item) for item in self.specs]
                 if self.specs is not None
                 else [aliases[name].specs for name, _ in self.items])
        return [claims.DeviceRequest(
            count=count, specs=tuple(item_specs),
            request_id=f'{self.label}-{index}', alias_name=name)
            for index, ((name, count), item_specs) in enumerate(
                zip(self.items, specs))]


def parse_items(text: str, where: str) -> tuple[tuple[str, int], ...]:
    """``"a:2, b:1"`` -> ``(('a', 2), ('b', 1))``, as nova splits it.

    A count is ASCII digits from 1 to
    :data:`~nova_gpu_ext.common.values.MAX_COUNT`.
    """
    items = []
    for item in str(text).split(','):
        name, sep, count = item.strip().partition(':')
        try:
            if not sep:
                raise ValueError('no ":COUNT"')
            if not name.strip():
                raise ValueError('no ALIAS before ":"')
            items.append((name.strip(), values.count(count)))
        except ValueError as exc:
            raise BadRequest(
                f'{where}: {values.shown(item.strip())} is not ALIAS:COUNT '
                f'({exc}; e.g. gpu:2; several items separated by commas)'
            ) from exc
    return tuple(items)


def from_text(text: str, policy: models.GpuPolicy,
              where: str = '--request') -> GpuRequest:
    """A request written ``ALIAS:COUNT[,ALIAS:COUNT...]``."""
    items = parse_items(text, where)
    label = ','.join(f'{name}:{count}' for name, count in items)
    return GpuRequest(label, items, policy)


def from_flavor(name: str, extra_specs: ty.Mapping[str, str],
                default: models.GpuPolicy) -> GpuRequest | None:
    """The GPU request of a flavor; None for a flavor without GPUs."""
    value = extra_specs.get(ALIAS_SPEC)
    if not value:
        return None
    return GpuRequest(name, parse_items(value, f'flavor {name}'),
                      models.policy_from_extra_specs(extra_specs, default))


def catalog_flavors(gpu_catalog,
                    default: models.GpuPolicy) -> list[GpuRequest]:
    """The requests of the flavors ``flavors sync`` makes from the catalog."""
    return [from_flavor(f.name, f.extra_specs, default)
            for f in flavors.desired(gpu_catalog)]


def _data(primitive, what: str):
    """The fields of a serialized nova object (or the dict itself)."""
    if primitive is None:
        return {}
    if not isinstance(primitive, dict):
        raise snapshot.BadRow(
            f'{what} is a {type(primitive).__name__}, not an object')
    data = primitive.get('nova_object.data', primitive)
    if not isinstance(data, dict):
        raise snapshot.BadRow(f'the data of {what} is not an object')
    return data


def _count(value) -> int:
    if (not isinstance(value, int) or isinstance(value, bool)
            or not 0 <= value <= snapshot.MAX_COUNT):
        raise snapshot.BadRow(f'a request count of {str(value)[:20]!r}')
    return value


def _specs(value) -> tuple:
    if not isinstance(value, list) or not all(
            isinstance(spec, dict) and all(
                isinstance(v, snapshot.SCALARS) for v in spec.values())
            for spec in value):
        raise snapshot.BadRow('a request spec that is not a list of objects')
    return tuple(tuple(sorted(spec.items())) for spec in value)


def from_instance(label: str, pci_requests, flavor,
                  default: models.GpuPolicy) -> GpuRequest | None:
    """A running server's GPU request from its ``instance_extra`` columns.

    ``pci_requests`` is the serialized ``InstancePCIRequests`` (older nova:
    a list of request dicts), ``flavor`` the ``{"cur": Flavor}`` document;
    only the flavor (alias) requests count. ``default`` is the policy of
    a flavor without ``gpu:`` specs, as the scheduler judges it. Rows that
    do not parse raise ``snapshot.BadRow``.
    """
    found = (_data(pci_requests, 'pci_requests').get('requests', ())
             if isinstance(pci_requests, dict) else (pci_requests or ()))
    if not isinstance(found, list):
        raise snapshot.BadRow('pci_requests holds no list of requests')
    items, specs = [], []
    for request in found:
        data = _data(request, 'a PCI request')
        name = data.get('alias_name')
        if name and not isinstance(name, str):
            raise snapshot.BadRow('an alias_name that is not text')
        count = _count(data.get('count') or 0)
        if name and count:
            items.append((name, count))
            specs.append(_specs(data.get('spec') or []))
    if not items:
        return None
    extra_specs = _data(_data(flavor, 'flavor').get('cur'),
                        'the flavor').get('extra_specs') or {}
    if not isinstance(extra_specs, dict):
        raise snapshot.BadRow('flavor extra_specs that are not an object')
    asked = ','.join(f'{name}:{count}' for name, count in items)
    return GpuRequest(f'{label}: {asked}', tuple(items),
                      models.policy_from_extra_specs(extra_specs, default),
                      tuple(specs))
