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

"""``flavor sync``: the catalog's GPU flavors, made in nova.

A command of ``nova-gpu-ext`` and of ``openstack gpu``. Idempotent: a
second run changes nothing and says so. Only flavors marked
``nova_gpu_ext:managed=true`` are ever changed or deleted.
"""

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin.cloud import flavors as cloud_flavors
from nova_gpu_ext.admin import flavors
from nova_gpu_ext.cmd import base
from nova_gpu_ext.common import catalog
from nova_gpu_ext import exception


class FlavorSync(base.Lister):
    """Create, update and (with --prune) delete the catalog's GPU flavors.

    One gpu.<NAME>.x<COUNT> flavor per flavor_counts entry of each model
    and class of the catalog. One row per flavor says what was done (or,
    with --dry-run, what would be); exit status 1 when a flavor of that
    name exists that nova-gpu-ext did not make (conflict).
    """

    COLUMNS = ('action', 'flavor', 'detail')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(parser, required=True,
                         help_text='GPU catalog naming the flavors')
        parser.add_argument('--dry-run', action='store_true',
                            help='say what would change, change nothing')
        parser.add_argument('--prune', action='store_true',
                            help='delete flavors made by nova-gpu-ext that '
                                 'the catalog no longer names')
        return parser

    def take_action(self, parsed_args):
        wanted = self._wanted(parsed_args.catalogs)
        conn = connect.opened(self.app.client_manager)
        with connect.errors(conn):
            changes = flavors.plan(wanted, cloud_flavors.existing(conn),
                                   parsed_args.prune)
        if not parsed_args.dry_run:
            cloud_flavors.sync(conn, changes)
        self.say(_result(changes, parsed_args.dry_run))
        if any(c.action == flavors.Action.CONFLICT for c in changes):
            self.exit_status = exception.EXIT_FINDINGS
        return self.COLUMNS, [(c.action.value, c.name, c.describe())
                              for c in changes]

    def _wanted(self, paths) -> list[flavors.Flavor]:
        gpu_catalog = base.load_catalog(paths, required=True)
        try:
            wanted = flavors.desired(gpu_catalog)
        except catalog.CatalogError as exc:
            raise exception.BadInput(f'bad catalog: {exc}') from exc
        if not wanted:
            self.say('the catalog asks for no flavors: set flavor_counts in '
                     'the [gpu:NAME] and [gpu_class:NAME] sections')
        return wanted


def _result(changes, dry_run: bool) -> str:
    counts = flavors.summary(changes) or 'no flavors'
    if dry_run:
        return f'dry run, nothing changed: {counts}'
    if not flavors.changes_made(changes):
        return f'nothing to change: {counts}'
    return f'done: {counts}'
