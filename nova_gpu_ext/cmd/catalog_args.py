"""The ``--config-file CATALOG`` argument shared by the sub-commands."""

from nova_gpu_ext.cmd import main
from nova_gpu_ext.conf import catalog as catalog_conf
from nova_gpu_ext.gpu import catalog


def load(config_files, *, required: bool = False) -> catalog.Catalog | None:
    """The GPU catalog of the given files; None if none were given.

    Bad input becomes a UsageError naming the section, option and value
    (exit code 2). ``required`` commands also refuse a catalog without
    models, which would make them print nothing.
    """
    if not config_files:
        return None
    try:
        gpu_catalog = catalog_conf.load_catalog(config_files)
    except catalog.CatalogError as exc:
        raise main.UsageError(f'bad catalog: {exc}') from exc
    if required and not gpu_catalog.models:
        raise main.UsageError(
            'the catalog lists no GPU models; set [nova_gpu_ext] gpu_models '
            'and a [gpu:NAME] section per model')
    return gpu_catalog
