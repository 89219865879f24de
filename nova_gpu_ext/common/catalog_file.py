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

The options are declared in :mod:`nova_gpu_ext.common.catalog_opts`; here they
are registered on a private ``ConfigOpts``, the per-model and per-class
ones once per name listed, and every oslo.config error becomes a
``CatalogError`` that names the file, line, section, option and value.

The sections the catalog owns (``[nova_gpu_ext]``, ``[gpu:NAME]``,
``[gpu_class:NAME]``) are checked strictly, because oslo.config would
silently ignore what is wrong in them and genconf would then write a
nova.conf that differs from what the operator meant: an unknown option (a
typo such as ``prodcut_id``), a section written twice in one file (oslo.config
merges the two), and a model or class section whose name is not listed
are errors naming the file and line. Other sections are left alone, so a
catalog can live in nova.conf.
"""

import difflib
import typing as ty

from oslo_config import cfg

from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import catalog_opts
from nova_gpu_ext.common import inifile
from nova_gpu_ext.common import opts as conf_opts
from nova_gpu_ext.common import resource_classes

GROUP_NAME = catalog_opts.GROUP.name
KIND = 'GPU catalog'


class CatalogFileError(catalog.CatalogError):
    """A catalog file that cannot be read or holds what is not a catalog."""

    def __init__(self, path: str, reason: str):
        catalog.CatalogError.__init__(self, GROUP_NAME, '', path, reason)
        self.section = self.option = None
        self.args = (catalog.escaped(f'{path}: {reason}' if path
                                     else reason),)


def load_catalog(config_files: list[str]) -> catalog.Catalog:
    """Read and validate the catalog in ``config_files``.

    :raises CatalogError: naming file, line, section, option and value of
        the first problem; ``CatalogFileError`` when a file cannot be read
        or its catalog sections hold unknown options.
    """
    files = []
    for path in config_files:
        try:
            files.append(inifile.read(path, KIND))
        except inifile.IniFileError as exc:
            raise CatalogFileError('', str(exc)) from exc
    for ini in files:
        _check_sections(ini)
    conf = cfg.ConfigOpts()
    catalog_opts.register_opts(conf)
    try:
        conf(args=[], default_config_files=list(config_files),
             default_config_dirs=[], use_env=False)
    except cfg.Error as exc:
        raise CatalogFileError(', '.join(config_files), str(exc)) from exc
    places = _Places(files)
    reader = _Reader(conf, places)
    try:
        models = [_model(reader, name) for name in
                  reader.get(GROUP_NAME, 'gpu_models')]
        classes = [_class(reader, name) for name in
                   reader.get(GROUP_NAME, 'gpu_classes')]
        gpu_catalog = catalog.build(models, classes)
    except CatalogFileError:
        raise
    except catalog.CatalogError as exc:
        raise exc.located(places.where(exc.section, exc.option)) from exc
    _check_listed(files, gpu_catalog)
    return gpu_catalog


def _template(section: str) -> str | None:
    """The options group of a section the catalog owns, else None.

    oslo.config compares group names in lower case.
    """
    name = section.lower()
    if name == GROUP_NAME:
        return GROUP_NAME
    if name.startswith('gpu:'):
        return catalog_opts.MODEL_GROUP.name
    if name.startswith('gpu_class:'):
        return catalog_opts.CLASS_GROUP.name
    return None


def _known_options() -> dict[str, set[str]]:
    """Option names per owned group: the catalog's and the scheduler's."""
    known: dict[str, set[str]] = {}
    for group, group_opts in conf_opts.list_opts():
        known.setdefault(group.name, set()).update(
            opt.dest for opt in group_opts)
    return known


def _check_sections(ini: inifile.IniFile) -> None:
    """Unknown options and repeated sections in the owned sections."""
    first: dict[str, int] = {}
    for section, line in ini.sections:
        if _template(section) is None:
            continue
        if section in first:
            raise CatalogFileError(
                f'{ini.path} line {line}',
                f'[{section}] again (first at line {first[section]}); '
                'oslo.config would merge the two silently: keep one')
        first[section] = line
    known = _known_options()
    for value in ini.values:
        template = _template(value.section)
        if template is None or value.option in known[template]:
            continue
        close = difflib.get_close_matches(value.option, known[template], 1)
        hint = (f'did you mean {close[0]}?' if close else
                'see the catalog options in nova-gpu-ext.conf.sample')
        raise CatalogFileError(
            f'{ini.path} line {value.line}',
            f'[{value.section}] has no option "{value.option}"; {hint}')


def _check_listed(files: ty.Sequence[inifile.IniFile],
                  gpu_catalog: catalog.Catalog) -> None:
    """A model or class section whose name is not listed is ignored."""
    listed = {catalog.model_section(m.name) for m in gpu_catalog.models}
    listed |= {catalog.class_section(c.name) for c in gpu_catalog.classes}
    for ini in files:
        for section, line in ini.sections:
            if _template(section) in (None, GROUP_NAME) or section in listed:
                continue
            kind, name = section.split(':', 1)
            option = 'gpu_models' if kind == 'gpu' else 'gpu_classes'
            raise CatalogFileError(
                f'{ini.path} line {line}',
                f'[{section}] is ignored: "{name}" is not in '
                f'[{GROUP_NAME}] {option}; add it there or remove the '
                'section')


class _Places:
    """Where each section and option was written; the last file wins."""

    def __init__(self, files: ty.Sequence[inifile.IniFile]):
        self.sections: dict[str, str] = {}
        self.options: dict[tuple[str, str], tuple[str, str]] = {}
        for ini in files:
            for section, line in ini.sections:
                self.sections[section] = f'{ini.path} line {line}'
            for value in ini.values:
                self.options[value.section, value.option] = (
                    f'{ini.path} line {value.line}', value.value)
        self.paths = ', '.join(ini.path for ini in files)

    def where(self, section: str, option: str) -> str:
        if (section, option) in self.options:
            return self.options[section, option][0]
        return self.sections.get(section, self.paths)

    def raw(self, section: str, option: str) -> str:
        return self.options.get((section, option), ('', ''))[1]

    def has_section(self, section: str) -> bool:
        return section in self.sections


class _Reader:
    """Typed option access that turns oslo errors into CatalogErrors."""

    def __init__(self, conf: cfg.ConfigOpts, places: _Places):
        self._conf = conf
        self._places = places

    def register(self, section: str, opts: list[cfg.Opt]) -> None:
        if not self._places.has_section(section):
            raise catalog.CatalogError(
                GROUP_NAME, 'gpu_models' if section.startswith('gpu:')
                else 'gpu_classes', section.split(':', 1)[1],
                f'no [{section}] section in the catalog; add it')
        self._conf.register_opts(opts, group=section)

    def get(self, section: str, option: str) -> ty.Any:
        try:
            return self._conf[section][option]
        except (cfg.TemplateSubstitutionError, cfg.NoSuchOptError) as exc:
            # The option is registered: what is missing is what a $NAME
            # in its value refers to.
            raise catalog.CatalogError(
                section, option, self._places.raw(section, option),
                f'oslo.config substitutes $NAME ({exc}); write $$ for a '
                'literal $') from exc
        except (cfg.Error, ValueError) as exc:
            reason = str(exc).rsplit('is not valid: ', 1)[-1]
            raise catalog.CatalogError(
                section, option, self._places.raw(section, option),
                reason) from exc


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
        addresses=tuple(catalog.pci_address(section, 'addresses', a)
                        for a in get('addresses')),
        numa_policy=get('numa_policy'),
        alias=catalog.alias_name(section, get('alias') or name),
        resource_class=catalog.resource_class(
            section, get('resource_class')
            or resource_classes.gpu_default(name)),
        traits=tuple(catalog.placement_name(section, 'traits', t)
                     for t in get('traits')),
        managed=get('managed'),
        live_migratable=get('live_migratable'),
        description=get('description'),
        flavor=_flavor(get),
        bar_bytes=get('bar_bytes'))


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
        resource_class=catalog.resource_class(
            section, get('resource_class')
            or resource_classes.gpu_default(name)),
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
        gpu_numa=get('flavor_gpu_numa'),
        gpu_switch=get('flavor_gpu_switch'))
