"""Load our scheduler classes from their stevedore namespaces."""

from stevedore import extension


class PluginLoadError(RuntimeError):
    """A declared nova_gpu_ext entry point could not be imported."""


def load_classes(namespace: str) -> list:
    def failed(manager, entry_point, error):
        raise PluginLoadError(
            f'nova_gpu_ext could not load {entry_point.name!r} '
            f'({entry_point.value}) from namespace {namespace!r}: {error}'
        ) from error

    manager = extension.ExtensionManager(
        namespace, invoke_on_load=False, on_load_failure_callback=failed)
    return [ext.plugin for ext in manager]
