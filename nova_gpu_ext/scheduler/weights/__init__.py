"""Weighers of nova_gpu_ext, loadable by nova's ``weight_classes``."""

from nova_gpu_ext.scheduler import loading

NAMESPACE = 'nova_gpu_ext.weights'


def all_weighers():
    """Return the weigher classes registered in ``nova_gpu_ext.weights``.

    Used as ``[filter_scheduler] weight_classes =
    nova.scheduler.weights.all_weighers,
    nova_gpu_ext.scheduler.weights.all_weighers``.
    """
    return loading.load_classes(NAMESPACE)
