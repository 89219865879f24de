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

"""``nova-gpu-ext capacity``: free GPUs per host and model, from placement.

Needs nova's PCI devices in placement (``[pci] report_in_placement``);
without them it names the option instead of printing empty tables.
"""

import json
import sys

from nova_gpu_ext.cmd import catalog_args
from nova_gpu_ext.tooling import capacity
from nova_gpu_ext.tooling.cloud import capacity as cloud_capacity
from nova_gpu_ext.tooling.cloud import connect

NO_INVENTORY = (
    'placement has no PCI device inventory: set [pci] report_in_placement '
    '= True in nova.conf of every nova-compute with GPUs and restart them '
    '(and [filter_scheduler] pci_in_placement = True on the schedulers)')


def add_arguments(parser):
    parser.add_argument(
        '--config-file', action='append', metavar='CATALOG',
        dest='config_files',
        help='GPU catalog: names resource classes after its models and '
             'classes and takes the server sizes from flavor_counts; '
             'without it, resource classes are shown as they are')
    parser.add_argument('--format', choices=('table', 'json'),
                        default='table', help='output format (default '
                                              'table)')
    connect.add_arguments(parser)


def run(args) -> int:
    gpu_catalog = catalog_args.load(args.config_files)
    try:
        conn = connect.connect(args)
        with connect.errors():
            providers = cloud_capacity.pci_providers(conn)
    except connect.CloudError as exc:
        print(f'nova-gpu-ext capacity: error: {exc}', file=sys.stderr)
        return 1
    if not providers:
        print(f'nova-gpu-ext capacity: {NO_INVENTORY}', file=sys.stderr)
        return 1
    report = capacity.report(providers, gpu_catalog)
    if not report.hosts:
        print('nova-gpu-ext capacity: no PCI resource class in placement '
              'is a GPU of the catalog (found '
              f'{", ".join(report.ignored)}); set resource_class in the '
              'catalog as in [pci] device_spec', file=sys.stderr)
        return 1
    if args.format == 'json':
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print(capacity.format_table(report), end='')
    return 0
