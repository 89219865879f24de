"""Filters of nova_gpu_ext, loadable by nova's ``available_filters``."""

from nova_gpu_ext.scheduler import loading

NAMESPACE = 'nova_gpu_ext.filters'


def all_filters():
    """Return the filter classes registered in ``nova_gpu_ext.filters``.

    Used as ``[filter_scheduler] available_filters =
    nova_gpu_ext.scheduler.filters.all_filters``.
    """
    return loading.load_classes(NAMESPACE)
