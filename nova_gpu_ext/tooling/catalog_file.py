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

"""Read a GPU catalog from oslo.config files into a ``catalog.Catalog``.

The options are declared in :mod:`nova_gpu_ext.conf.catalog`; here they
are registered on a private ``ConfigOpts``, the per-model and per-class
ones once per name listed, and every oslo.config error becomes a
``CatalogError`` that names the section, option and value.
"""

import typing as ty

from oslo_config import cfg

from nova_gpu_ext.conf import catalog_opts
from nova_gpu_ext.tooling import catalog

GROUP_NAME = catalog_opts.GROUP.name


class CatalogFileError(catalog.CatalogError):
    """A catalog file that cannot be read at all."""

    def __init__(self, path: str, reason: str):
        ValueError.__init__(self, f'{path}: {reason}')
        self.section = self.option = None
        self.value = path


def load_catalog(config_files: list[str]) -> catalog.Catalog:
    """Read and validate the catalog in ``config_files``.

    :raises CatalogError: naming section, option and value of the first
        problem; ``CatalogFileError`` when a file cannot be read.
    """
    conf = cfg.ConfigOpts()
    catalog_opts.register_opts(conf)
    try:
        conf(args=[], default_config_files=list(config_files),
             default_config_dirs=[], use_env=False)
    except cfg.ConfigFilesNotFoundError as exc:
        raise CatalogFileError(', '.join(exc.config_files),
                               'not found or not readable') from exc
    except cfg.ConfigFileParseError as exc:
        raise CatalogFileError(exc.config_file, exc.msg) from exc
    raw = _raw_sections(config_files)
    reader = _Reader(conf, raw)
    models = [_model(reader, name) for name in
              reader.get(GROUP_NAME, 'gpu_models')]
    classes = [_class(reader, name) for name in
               reader.get(GROUP_NAME, 'gpu_classes')]
    return catalog.build(models, classes)


def _raw_sections(config_files):
    """The values as written, for error messages (last file wins)."""
    sections = {}
    for path in config_files:
        cfg.ConfigParser(path, sections).parse()
    return sections


class _Reader:
    """Typed option access that turns oslo errors into CatalogErrors."""

    def __init__(self, conf: cfg.ConfigOpts, raw: ty.Mapping):
        self._conf = conf
        self._raw = raw

    def register(self, section: str, opts: list[cfg.Opt]) -> None:
        if section not in self._raw:
            raise catalog.CatalogError(
                GROUP_NAME, 'gpu_models' if section.startswith('gpu:')
                else 'gpu_classes', section.split(':', 1)[1],
                f'no [{section}] section in the catalog; add it')
        self._conf.register_opts(opts, group=section)

    def get(self, section: str, option: str) -> ty.Any:
        try:
            return self._conf[section][option]
        except ValueError as exc:
            reason = str(exc).rsplit('is not valid: ', 1)[-1]
            raise catalog.CatalogError(
                section, option, self.raw(section, option),
                reason) from exc

    def raw(self, section: str, option: str) -> str:
        values = self._raw.get(section, {}).get(option) or ['']
        return values[-1]


def _model(reader: _Reader, name: str) -> catalog.GpuModel:
    section = catalog.model_section(name)
    reader.register(section,
                    catalog_opts.MODEL_OPTS + catalog_opts.FLAVOR_OPTS)

    def get(option):
        return reader.get(section, option)
    return catalog.GpuModel(
        name=name,
        vendor_id=catalog.hex_id(section, 'vendor_id', get('vendor_id')),
        product_id=catalog.hex_id(section, 'product_id', get('product_id')),
        device_type=get('device_type'),
        companions=catalog.vendor_products(section, 'companions',
                                           get('companions')),
        addresses=tuple(a.strip() for a in get('addresses')),
        numa_policy=get('numa_policy'),
        alias=catalog.alias_name(section, get('alias') or name),
        resource_class=catalog.placement_name(
            section, 'resource_class',
            get('resource_class') or catalog.default_resource_class(name)),
        traits=tuple(catalog.placement_name(section, 'traits', t)
                     for t in get('traits')),
        managed=get('managed'),
        live_migratable=get('live_migratable'),
        description=get('description'),
        flavor=_flavor(get))


def _class(reader: _Reader, name: str) -> catalog.GpuClass:
    section = catalog.class_section(name)
    reader.register(section,
                    catalog_opts.CLASS_OPTS + catalog_opts.FLAVOR_OPTS)

    def get(option):
        return reader.get(section, option)
    return catalog.GpuClass(
        name=name,
        models=tuple(m.strip() for m in get('models')),
        alias=catalog.alias_name(section, get('alias') or name),
        resource_class=catalog.placement_name(
            section, 'resource_class',
            get('resource_class') or catalog.default_resource_class(name)),
        numa_policy=get('numa_policy'),
        description=get('description'),
        flavor=_flavor(get))


def _flavor(get) -> catalog.FlavorSettings:
    return catalog.FlavorSettings(
        counts=tuple(sorted(set(get('flavor_counts')))),
        vcpus_per_gpu=get('flavor_vcpus_per_gpu'),
        ram_mb_per_gpu=get('flavor_ram_mb_per_gpu'),
        ephemeral_gb_per_gpu=get('flavor_ephemeral_gb_per_gpu'),
        disk_gb=get('flavor_disk_gb'),
        hide_hypervisor_id=get('flavor_hide_hypervisor_id'),
        gpu_numa=get('flavor_gpu_numa'))
