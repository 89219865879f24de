"""Filters of nova_gpu_ext, loadable by nova's ``available_filters``."""

from stevedore import extension

NAMESPACE = 'nova_gpu_ext.filters'


def all_filters():
    """Return the filter classes registered in ``nova_gpu_ext.filters``.

    Used as ``[filter_scheduler] available_filters =
    nova_gpu_ext.scheduler.filters.all_filters``.
    """
    manager = extension.ExtensionManager(
        NAMESPACE, invoke_on_load=False, on_load_failure_callback=_failed)
    return [ext.plugin for ext in manager]


def _failed(manager, entry_point, error):
    raise RuntimeError(
        f'nova_gpu_ext could not load filter {entry_point.name!r} '
        f'({entry_point.value}) from namespace {NAMESPACE!r}: {error}'
    ) from error
