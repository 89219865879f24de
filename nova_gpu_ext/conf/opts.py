"""The ``oslo.config.opts`` entry point ``nova_gpu_ext``.

It imports only oslo.config and this package's option modules, so the
sample generator works without nova installed.
"""

from nova_gpu_ext.conf import catalog
from nova_gpu_ext.conf import scheduler

_MODULES = (scheduler, catalog)


def list_opts():
    """Return ``[(group, [opts])]`` with the original option objects."""
    grouped = {}
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            grouped.setdefault(group, []).extend(opts)
    return list(grouped.items())
