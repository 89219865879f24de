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
