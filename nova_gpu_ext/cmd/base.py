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

"""The command base classes and the options shared between commands.

One option name per meaning, for ``nova-gpu-ext`` and ``openstack gpu``
alike: ``--catalog FILE`` is a GPU catalog, ``--nova-conf FILE`` a
nova.conf file, ``--root DIR`` the root of a host's file system,
``--nova-release RELEASE`` the release of the nova that reads what is
checked or rendered.

cliff's ``Lister.run`` always returns 0; ours returns ``exit_status``,
which ``take_action`` sets to 1 when it has findings (a normal result,
printed as records like any other).
"""

from cliff import command
from cliff import lister

from nova_gpu_ext.admin import releases
from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import catalog_file
from nova_gpu_ext import exception

DEFAULT_NOVA_CONF = '/etc/nova/nova.conf'


class Command(command.Command):
    """A command that writes text (a file to paste, not records)."""

    def write(self, text: str) -> None:
        self.app.stdout.write(text)

    def say(self, text: str) -> None:
        """A line for the operator beside the output, on stderr."""
        self.app.stderr.write(f'{text}\n')


class Lister(lister.Lister):
    """A command that prints records (``-f``, ``-c`` from cliff)."""

    exit_status = exception.EXIT_OK
    # openstackclient authenticates before a command runs unless this is
    # false. A fleet command may read only the cell databases
    # (--connection, --nova-conf) and then needs no cloud credentials; the
    # plugin's client authenticates when a command first asks for it
    # (nova_gpu_ext.cmd.plugin.make_client).
    auth_required = False

    def run(self, parsed_args):
        super().run(parsed_args)
        return self.exit_status

    def say(self, text: str) -> None:
        """A line for the operator beside the records, on stderr.

        Records go to stdout alone, so ``-f json`` stays parseable.
        """
        self.app.stderr.write(f'{text}\n')


def add_catalog(parser, *, required: bool, help_text: str) -> None:
    parser.add_argument(
        '--catalog', action='append', required=required, metavar='FILE',
        default=[], dest='catalogs',
        help=f'{help_text}; repeat for several files (later files win)')


def load_catalog(paths, *, required: bool) -> catalog.Catalog | None:
    """The GPU catalog of ``--catalog`` files; None if none were given.

    A bad catalog is :class:`~nova_gpu_ext.exception.BadInput` naming the
    section, option and value. ``required`` commands also refuse a
    catalog without models, which would make them print nothing.
    """
    if not paths:
        return None
    try:
        gpu_catalog = catalog_file.load_catalog(paths)
    except catalog.CatalogError as exc:
        raise exception.BadInput(f'bad catalog: {exc}') from exc
    if required and not gpu_catalog.models:
        raise exception.BadInput(
            f'the catalog {", ".join(paths)} lists no GPU models; set '
            '[nova_gpu_ext] gpu_models and a [gpu:NAME] section per model')
    return gpu_catalog


def add_nova_conf(parser, *, required: bool, help_text: str) -> None:
    parser.add_argument(
        '--nova-conf', action='append', required=required, metavar='FILE',
        default=[], dest='nova_confs',
        help=f'{help_text}; repeat for several files')


def add_root(parser, help_text: str) -> None:
    parser.add_argument(
        '--root', default='/', metavar='DIR',
        help=f'{help_text} (default /); a copied tree works too')


def add_nova_release(parser, help_text: str) -> None:
    parser.add_argument(
        '--nova-release', default=releases.NEWEST, metavar='RELEASE',
        help=f'{help_text}: {releases.RELEASES[0]}..{releases.NEWEST} or a '
             f'code name (default {releases.NEWEST})')


def nova_release(name: str) -> releases.Release:
    try:
        return releases.parse(name)
    except releases.ReleaseError as exc:
        raise exception.BadInput(f'--nova-release: {exc}') from exc
