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
