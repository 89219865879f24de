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

"""Take a fleet snapshot from Placement (PCI in placement mode).

With ``[pci] report_in_placement``, nova reports each PCI device as a
resource provider named ``<hypervisor>_<PCI address>``, a child of the
compute node's provider, with the trait ``COMPUTE_MANAGED_PCI_DEVICE`` and
one unit of its resource class. Placement has no bulk inventory or usage
listing, so each device costs two calls; they run concurrently, a few at
a time, and ``progress(done, total)`` is told after each device. One more
listing, of the providers with the one-time-use trait, tells a cordoned
device from one awaiting cleaning (:mod:`~nova_gpu_ext.admin.lifecycle`):
a device's ``reserved`` units are counted in that state, not dropped.

What Placement cannot tell: the NUMA node of a device (rows say None),
and the model of a device whose resource class is shared by several
models (a catalog class): its rows carry the class name and no PCI ids.
"""

import collections
import concurrent.futures
import time
import typing as ty

from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.admin import lifecycle
from nova_gpu_ext.common import resource_classes
from nova_gpu_ext.gpu import models

PCI_TRAIT = 'COMPUTE_MANAGED_PCI_DEVICE'
WORKERS = 8


class Kinds:
    """What a resource class says about a device: its model and type.

    nova's default class names the PCI ids; a catalog model's own class
    names its model; a catalog class's shared class names no model: such
    devices get the key ``('', <resource class>)`` and the class's name.
    """

    def __init__(self, gpu_catalog=None):
        self._by_rc = {}
        if gpu_catalog is None:
            return
        for model in gpu_catalog.models:
            key = models.ModelKey(model.vendor_id, model.product_id)
            classes = gpu_catalog.classes_of(model.name)
            rc = gpu_catalog.resource_class_of(model)
            shared = classes and len(classes[0].models) > 1
            self._by_rc[rc] = (
                models.ModelKey('', rc) if shared else key,
                classes[0].name if shared else model.name,
                model.device_type)

    def of(self, rc: str) -> tuple[models.ModelKey, str, str] | None:
        """(model key, name, device type) of a resource class, or None."""
        if rc in self._by_rc:
            return self._by_rc[rc]
        ids = resource_classes.pci_ids(rc)
        if ids:
            key = models.ModelKey(*ids)
            return key, str(key), 'type-PCI'
        return None

    def names(self) -> dict[models.ModelKey, str]:
        return {key: name for key, name, _ in self._by_rc.values()}


def _device(conn, rp) -> list[tuple[str, int, int, int]]:
    """``(resource class, total, reserved, used)`` of one device RP."""
    usages = conn.placement.fetch_resource_provider_usages(rp).usages or {}
    return [(inv.resource_class, inv.total, inv.reserved or 0,
             usages.get(inv.resource_class, 0))
            for inv in conn.placement.resource_provider_inventories(rp)]


def _host(host: str, devices, kinds: Kinds, wanted: snapshot.ModelFilter,
          one_time_use: ty.Collection[str],
          ignored: set) -> snapshot.HostGpus:
    """One host's counts and pools; classes not counted go to ``ignored``.

    Each device's units are counted per state (:meth:`Provider.split`);
    its pool offers only the free ones, as placement does.
    """
    counts = collections.Counter()
    pools = []
    for rp, inventories in devices:
        traits = frozenset([lifecycle.ONE_TIME_USE_TRAIT]
                           if rp.id in one_time_use else ())
        for rc, total, reserved, used in inventories:
            kind = kinds.of(rc)
            if kind is None or not wanted.counts(kind[0], kind[2]):
                ignored.add(rc)
                continue
            model, _, dev_type = kind
            split = snapshot.Provider(total, reserved, used, traits).split()
            for state, n in split.items():
                counts[model, None, state] += n
            pools.append({'vendor_id': model.vendor_id,
                          'product_id': model.product_id,
                          'numa_node': None, 'count': split[snapshot.FREE],
                          'dev_type': dev_type, 'rp_uuid': rp.id,
                          'resource_class': rc})
    return snapshot.HostGpus(host, '', dict(counts), tuple(pools))


def take(conn, kinds: Kinds, wanted: snapshot.ModelFilter,
         workers: int = WORKERS,
         progress: ty.Callable[[int, int], None] | None = None,
         ) -> snapshot.Snapshot:
    """Read every PCI device provider; hosts in name order."""
    taken_at = time.time()
    names = {rp.id: rp.name for rp in conn.placement.resource_providers()}
    devices = list(conn.placement.resource_providers(required=PCI_TRAIT))
    one_time_use = {rp.id for rp in conn.placement.resource_providers(
        required=lifecycle.ONE_TIME_USE_TRAIT)}
    with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
        futures = {pool.submit(_device, conn, rp): rp for rp in devices}
        found = {}
        for done, future in enumerate(
                concurrent.futures.as_completed(futures), 1):
            found[futures[future].id] = future.result()
            if progress:
                progress(done, len(futures))
    per_host = collections.defaultdict(list)
    for rp in devices:
        host = names.get(rp.root_provider_id, rp.root_provider_id)
        per_host[host].append((rp, found[rp.id]))
    ignored = set()
    hosts = [_host(host, per_host[host], kinds, wanted, one_time_use,
                   ignored) for host in sorted(per_host)]
    warnings = (f'resource classes not counted as GPUs: '
                f'{", ".join(sorted(ignored))}',) if ignored else ()
    return snapshot.Snapshot(tuple(hosts), 'placement', taken_at, warnings)
