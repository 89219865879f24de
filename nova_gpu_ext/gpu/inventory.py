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

"""Free GPUs of one host, per model, NUMA node and PCIe switch, from its
PCI pools."""

import collections
import dataclasses
import typing as ty

from nova_gpu_ext.gpu import claims
from nova_gpu_ext.gpu import models


@dataclasses.dataclass(frozen=True)
class Inventory:
    """Free devices of a host.

    Built from the scheduler's pool dicts.  Counts are SUMMED over pools:
    a pool is one device for type-PCI GPUs but a whole PF's worth of VFs
    for NICs, and pools whose devices are all in use stay listed with a
    count of 0.
    """

    free: ty.Mapping[models.ModelKey, int]
    free_by_numa: ty.Mapping[tuple[models.ModelKey, int | None], int]
    free_by_switch: ty.Mapping[tuple[models.ModelKey, str | None], int]

    @classmethod
    def from_pools(cls, pools: ty.Iterable[ty.Mapping[str, ty.Any]]):
        # Group by the raw ids first: hosts have many pools of few models.
        raw = collections.Counter()
        for pool in pools:
            raw[pool.get('vendor_id'), pool.get('product_id'),
                pool.get('numa_node'), claims.switch_of(pool)] += int(
                    pool.get('count') or 0)
        free = collections.Counter()
        free_by_numa = collections.Counter()
        free_by_switch = collections.Counter()
        for (vendor, product, numa, switch), count in raw.items():
            model = models.model_of({'vendor_id': vendor,
                                     'product_id': product})
            free[model] += count
            free_by_numa[model, numa] += count
            free_by_switch[model, switch] += count
        return cls(dict(free), dict(free_by_numa), dict(free_by_switch))

    def describe(self) -> str:
        """Per-model free counts for logs, e.g. ``10de:11b4=3(n0:2,n1:1)``."""
        if not self.free:
            return 'no PCI devices'
        parts = []
        for model in sorted(self.free):
            nodes = ','.join(
                f'n{numa}:{n}' for (m, numa), n in sorted(
                    self.free_by_numa.items(), key=lambda i: str(i[0][1]))
                if m == model)
            parts.append(f'{model}={self.free[model]}({nodes})')
        return ' '.join(parts)
