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

"""The ``oslo.config.opts`` entry point ``nova_gpu_ext``.

It imports only oslo.config, the pure GPU core and this package's option
modules, so the sample generator works without nova installed.
"""

from nova_gpu_ext.common import catalog_opts
from nova_gpu_ext.conf import scheduler

_MODULES = (scheduler, catalog_opts)


def list_opts():
    """Return ``[(group, [opts])]`` with the original option objects."""
    grouped = {}
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            grouped.setdefault(group, []).extend(opts)
    return list(grouped.items())
