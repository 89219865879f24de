"""Read the pure core's inputs out of Nova's scheduler objects.

Every accessor tolerates unset fields and missing stats: a filter or
weigher must decide and log, never raise.
"""

from nova_gpu_ext.gpu import models
from nova_gpu_ext.gpu import walk


def _field(obj, name, default=None):
    if obj is None:
        return default
    if hasattr(obj, 'obj_attr_is_set') and not obj.obj_attr_is_set(name):
        return default
    value = getattr(obj, name, default)
    return default if value is None else value


def device_requests(spec_obj) -> list[walk.DeviceRequest]:
    """Every PCI request of the instance, in the order the claim applies."""
    pci_requests = _field(spec_obj, 'pci_requests')
    return [
        walk.DeviceRequest(
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


def pools(host_state) -> list:
    """The scheduler's pool dicts of a host, [] without PCI stats."""
    return list(getattr(getattr(host_state, 'pci_stats', None), 'pools',
                        None) or ())


def candidate_mappings(host_state) -> list:
    return [(c or {}).get('mappings') or {}
            for c in getattr(host_state, 'allocation_candidates', None) or ()]
