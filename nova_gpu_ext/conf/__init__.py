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

"""Every oslo.config option of nova_gpu_ext.

Importing this package registers the scheduler options (``[nova_gpu_ext]``
of GpuPassthroughFilter and GpuWeigher) on the global ``CONF``, as
``nova.conf`` does for nova's. The GPU catalog options
(:mod:`nova_gpu_ext.common.catalog_opts`) are read only by the operator
commands, each on a private ``ConfigOpts``; nova-scheduler never loads
them.
"""

from oslo_config import cfg

from nova_gpu_ext.conf import scheduler

CONF = cfg.CONF

scheduler.register_opts(CONF)
