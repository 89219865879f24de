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

"""The ``--config-file CATALOG`` argument shared by the sub-commands."""

from nova_gpu_ext.cmd import main
from nova_gpu_ext.tooling import catalog
from nova_gpu_ext.tooling import catalog_file


def load(config_files, *, required: bool = False) -> catalog.Catalog | None:
    """The GPU catalog of the given files; None if none were given.

    Bad input becomes a UsageError naming the section, option and value
    (exit code 2). ``required`` commands also refuse a catalog without
    models, which would make them print nothing.
    """
    if not config_files:
        return None
    try:
        gpu_catalog = catalog_file.load_catalog(config_files)
    except catalog.CatalogError as exc:
        raise main.UsageError(f'bad catalog: {exc}') from exc
    if required and not gpu_catalog.models:
        raise main.UsageError(
            'the catalog lists no GPU models; set [nova_gpu_ext] gpu_models '
            'and a [gpu:NAME] section per model')
    return gpu_catalog
