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

"""``nova-gpu-ext discover``: the host's GPUs as a ready catalog section."""

import json

from nova_gpu_ext.cmd import main
from nova_gpu_ext.tooling import discovery
from nova_gpu_ext.tooling import sysfs


def add_arguments(parser):
    parser.add_argument(
        '--root', default='/', metavar='DIR',
        help='host root holding sys/ (default /); a copied tree works too')
    parser.add_argument(
        '--format', choices=('ini', 'json'), default='ini',
        help='ini: catalog sections to paste into the catalog file; '
             'json: the same plus addresses, NUMA and IOMMU details')


def run(args) -> int:
    facts = read_host(args.root)
    models = discovery.found_models(facts)
    if args.format == 'json':
        print(json.dumps(discovery.as_dict(facts, models), indent=2))
    else:
        print(discovery.render_ini(facts, models), end='')
    return 0


def read_host(root: str) -> sysfs.HostFacts:
    """Host facts, or a usage error naming the unreadable root."""
    try:
        return sysfs.read_host(root)
    except sysfs.HostReadError as exc:
        raise main.UsageError(str(exc)) from exc
