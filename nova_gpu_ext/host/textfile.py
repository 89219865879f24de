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

"""GPU health as node_exporter textfile metrics.

Operators already collect host metrics with node_exporter; its textfile
collector serves every ``*.prom`` file of one directory. ``check-host
--textfile DIR`` writes :data:`FILE_NAME` there, through a temporary
file renamed over it (prometheus_client's ``write_to_textfile``), so a
scrape never reads half a file. One series per GPU and companion
function, labelled ``address``, ``model``, ``role`` (gpu, companion) and
``gpu`` (the address of the function's GPU). A fact sysfs does not offer
has no series rather than a made-up value.
"""

import os
import typing as ty

from prometheus_client import core
from prometheus_client import exposition

from nova_gpu_ext import exception
from nova_gpu_ext.host import health
from nova_gpu_ext.host import hostcheck

FILE_NAME = 'nova-gpu-ext.prom'
PREFIX = 'nova_gpu_ext_host_gpu'
LABELS = ('address', 'model', 'role', 'gpu')

# ``nova_gpu_ext_host_gpu_health`` values, in the order of severity.
STATUS_VALUES = {status: index
                 for index, status in enumerate(hostcheck.SEVERITY)}


class HealthCollector:
    """A prometheus_client collector of one health reading."""

    def __init__(self, healths: ty.Sequence[health.Health]):
        self._healths = tuple(healths)

    def collect(self):
        families = {
            'health': core.GaugeMetricFamily(
                f'{PREFIX}_health', 'Worst health finding: 0 ok, '
                '1 warning, 2 problem', labels=LABELS),
            'config': core.GaugeMetricFamily(
                f'{PREFIX}_config_readable', '1 if config space reads a '
                'vendor id, 0 if it reads ffff (off the bus) or fails',
                labels=LABELS),
            'vfio': core.GaugeMetricFamily(
                f'{PREFIX}_vfio_bound', '1 if bound to vfio-pci or a VFIO '
                'variant driver', labels=LABELS),
            'aer': core.CounterMetricFamily(
                f'{PREFIX}_aer_errors', 'AER errors since boot',
                labels=LABELS + ('error',)),
            'width': core.GaugeMetricFamily(
                f'{PREFIX}_link_width', 'PCIe lanes of the link now',
                labels=LABELS),
            'max_width': core.GaugeMetricFamily(
                f'{PREFIX}_link_max_width', 'PCIe lanes the device has',
                labels=LABELS),
            'reset': core.GaugeMetricFamily(
                f'{PREFIX}_reset_methods', 'Reset methods the kernel can '
                'use between tenants (0: none)', labels=LABELS),
            'group': core.GaugeMetricFamily(
                f'{PREFIX}_iommu_group_viable', '1 if every member of its '
                'IOMMU group is on VFIO or a bridge', labels=LABELS),
        }
        for one in self._healths:
            _add(families, one)
        return iter(families.values())


def _add(families: dict, one: health.Health) -> None:
    labels = [one.function.address, one.model, one.role, one.gpu.address]
    families['health'].add_metric(labels,
                                  STATUS_VALUES[health.status(one)])
    if one.vendor is not None or one.config_problem:
        families['config'].add_metric(labels, int(
            one.vendor is not None and one.vendor != health.DEAD_VENDOR))
    families['vfio'].add_metric(labels, int(one.vfio_bound))
    for error, count in sorted(one.aer.items()):
        families['aer'].add_metric(labels + [error], count)
    if one.link_width is not None and one.max_link_width:
        families['width'].add_metric(labels, one.link_width)
        families['max_width'].add_metric(labels, one.max_link_width)
    if one.reset_methods is not None:
        families['reset'].add_metric(labels, len(one.reset_methods))
    if one.function.iommu_group is not None:
        families['group'].add_metric(labels, int(not one.group_outsiders))


def write(directory: str, healths: ty.Sequence[health.Health]) -> str:
    """Write the metrics file into ``directory``; its path.

    :raises OutputFailed: the directory cannot take the file.
    """
    path = os.path.join(directory, FILE_NAME)
    registry = core.CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(healths))
    try:
        exposition.write_to_textfile(path, registry)
    except OSError as exc:
        raise exception.OutputFailed(
            f'--textfile {directory}: cannot write {FILE_NAME} there: '
            f'{exc.strerror or exc}; give the directory of node_exporter\'s '
            '--collector.textfile.directory, writable by this user') from exc
    return path
