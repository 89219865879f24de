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

"""The GPU fleet: one snapshot from the cell databases or Placement.

A :class:`snapshot.Snapshot` holds, per compute host, its GPUs per model,
NUMA node and state, and the PCI pools in the order nova's scheduler
walks them. ``celldb`` and ``placement`` take one; ``capacity``,
``explain`` and ``whatif`` answer questions about it with the same core
code GpuPassthroughFilter and GpuWeigher run (:mod:`nova_gpu_ext.gpu`).
"""
