"""Rank the ways a host can give its devices to a request."""

import collections
import typing as ty

from nova_gpu_ext.gpu import fit
from nova_gpu_ext.gpu import inventory as inventory_mod
from nova_gpu_ext.gpu import walk as walk_mod


def leftover(requests: ty.Sequence[walk_mod.DeviceRequest],
             result: walk_mod.WalkResult,
             inventory: inventory_mod.Inventory) -> int:
    """Free devices of the taken models left on the NUMA nodes touched.

    Smaller is a better fit: the request fills a node that was already
    partly used and leaves untouched nodes whole for larger requests.
    """
    taken = collections.Counter()
    for request, takes in zip(requests, result.takes):
        if request.is_gpu:
            for take in takes:
                taken[take.model, take.numa_node] += take.count
    return sum(inventory.free_by_numa.get(key, 0) - n
               for key, n in taken.items())


def placement_key(requests: ty.Sequence[walk_mod.DeviceRequest],
                  result: walk_mod.WalkResult,
                  inventory: inventory_mod.Inventory) -> tuple[int, int]:
    """Sort key of an allocation candidate, best first.

    First the candidates that keep each request on one NUMA node, then the
    ones that fill the touched nodes most.
    """
    return (fit.numa_splits(requests, result),
            leftover(requests, result, inventory))
