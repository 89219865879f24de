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

"""``nova-gpu-ext flavors sync``: the catalog's GPU flavors, made in nova.

Idempotent: a second run changes nothing and says so. Only flavors marked
``nova_gpu_ext:managed=true`` are ever changed or deleted.
"""

import sys

from nova_gpu_ext.cmd import catalog_args
from nova_gpu_ext.cmd import main
from nova_gpu_ext.tooling import catalog
from nova_gpu_ext.tooling.cloud import connect
from nova_gpu_ext.tooling.cloud import flavors as cloud_flavors
from nova_gpu_ext.tooling import flavors


def add_arguments(parser):
    actions = parser.add_subparsers(dest='action', metavar='ACTION')
    actions.required = True
    sync = actions.add_parser(
        'sync', help='create, update and (with --prune) delete the GPU '
                     'flavors the catalog asks for',
        description='Make nova\'s GPU flavors match the catalog: one '
                    'gpu.<NAME>.x<COUNT> flavor per flavor_counts entry '
                    'of each model and class.')
    sync.add_argument(
        '--config-file', action='append', required=True, metavar='CATALOG',
        dest='config_files',
        help='file with the GPU catalog; repeat for several files (later '
             'files win)')
    sync.add_argument('--dry-run', action='store_true',
                      help='print what would change, change nothing')
    sync.add_argument('--prune', action='store_true',
                      help='delete flavors made by nova-gpu-ext that the '
                           'catalog no longer names')
    connect.add_arguments(sync)


def run(args) -> int:
    wanted = _wanted(args.config_files)
    try:
        conn = connect.connect(args)
        with connect.errors():
            changes = flavors.plan(wanted, cloud_flavors.existing(conn),
                                   args.prune)
            cloud_flavors.sync(conn, changes, args.dry_run, print)
    except connect.CloudError as exc:
        print(f'nova-gpu-ext flavors sync: error: {exc}', file=sys.stderr)
        return 1
    print(_result(changes, args.dry_run))
    conflicts = any(c.action == flavors.Action.CONFLICT for c in changes)
    return 1 if conflicts else 0


def _wanted(config_files) -> list[flavors.Flavor]:
    gpu_catalog = catalog_args.load(config_files, required=True)
    try:
        wanted = flavors.desired(gpu_catalog)
    except catalog.CatalogError as exc:
        raise main.UsageError(f'bad catalog: {exc}') from exc
    if not wanted:
        print('the catalog asks for no flavors: set flavor_counts in the '
              '[gpu:NAME] and [gpu_class:NAME] sections')
    return wanted


def _result(changes, dry_run: bool) -> str:
    counts = flavors.summary(changes) or 'no flavors'
    if dry_run:
        return f'dry run, nothing changed: {counts}'
    if not flavors.changes_made(changes):
        return f'nothing to change: {counts}'
    return f'done: {counts}'
