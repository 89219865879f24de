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

"""Read the pure core's inputs out of Nova's scheduler objects.

Every accessor tolerates unset fields and missing stats: a filter or
weigher must decide and log, never raise.
"""

import typing as ty

from nova_gpu_ext import conf
from nova_gpu_ext.conf import scheduler as scheduler_opts
from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models


def _field(obj, name, default=None):
    if obj is None:
        return default
    if hasattr(obj, 'obj_attr_is_set') and not obj.obj_attr_is_set(name):
        return default
    value = getattr(obj, name, default)
    return default if value is None else value


def device_requests(spec_obj) -> list[claims.DeviceRequest]:
    """Every PCI request of the instance, in the order the claim applies."""
    pci_requests = _field(spec_obj, 'pci_requests')
    return [
        claims.DeviceRequest(
            count=_field(r, 'count', 0),
            specs=tuple(_field(r, 'spec', ())),
            request_id=_field(r, 'request_id'),
            alias_name=_field(r, 'alias_name'),
            from_port=_field(r, 'alias_name') is None)
        for r in _field(pci_requests, 'requests', ())]


def gpu_policy(spec_obj, default: models.GpuPolicy) -> models.GpuPolicy:
    extra_specs = _field(_field(spec_obj, 'flavor'), 'extra_specs', {})
    return models.policy_from_extra_specs(extra_specs, default)


def is_move(spec_obj) -> bool:
    """Whether the request moves an existing instance to a new host.

    The conductor pins resizes and cold migrations to the instance's cell
    (``requested_destination.cell``) and evacuations ignore the failed host
    (``ignore_hosts``); boots set neither.
    """
    destination = _field(spec_obj, 'requested_destination')
    return bool(_field(destination, 'cell') or
                _field(spec_obj, 'ignore_hosts'))


class RequestView:
    """What the filter and the weigher read from one RequestSpec.

    Built once per scheduling call (``filter_all``, ``weigh_objects``) and
    dropped with it: Nova changes a RequestSpec in place between calls (a
    multi-create sets ``instance_uuid`` on the same object for each
    instance), so nothing read from it outlives the call.
    """

    def __init__(self, spec_obj, default: models.GpuPolicy):
        self.requests = device_requests(spec_obj)
        self.has_gpu = any(r.is_gpu for r in self.requests)
        self.policy = gpu_policy(spec_obj, default)
        self.move = is_move(spec_obj)
        self.instance_uuid = _field(spec_obj, 'instance_uuid')

    @classmethod
    def of(cls, spec_obj) -> 'RequestView':
        """The view of ``spec_obj`` under the current options."""
        return cls(spec_obj, default_policy())

    def describe(self) -> str:
        return (f"{', '.join(r.label() for r in self.requests)} "
                f"({self.policy})")


def default_policy() -> models.GpuPolicy:
    """The flavor policy of ``[nova_gpu_ext]`` for flavors that set none."""
    return scheduler_opts.default_policy(conf.CONF.nova_gpu_ext)


def pools(host_state) -> ty.Sequence[dict]:
    """The scheduler's pool dicts of a host (read, never changed)."""
    return getattr(getattr(host_state, 'pci_stats', None), 'pools',
                   None) or ()


def candidate_mappings(host_state) -> list:
    return [(c or {}).get('mappings') or {}
            for c in getattr(host_state, 'allocation_candidates', None) or ()]
