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
checked or rendered; the cell databases are ``--nova-conf``,
``--connection`` and ``--db-timeout`` (:func:`add_cell_source`), with
``--placement-connection`` for the commands that read the fleet, the same
names, destinations and defaults for every command that reads them.

cliff's ``Lister.run`` always returns 0; ours returns ``exit_status``,
which ``take_action`` sets to 1 when it has findings (a normal result,
printed as records like any other). Record columns are snake_case in
every command (``-f json`` keys are an interface): each Lister declares
every column it can print in ``COLUMNS``; control characters in the
records (a host name holding ESC or BEL, read from a database) are
printed escaped, so the terminal shows them instead of obeying them.

The ``type=`` functions of options (:func:`seconds`, :func:`count`)
check a value before use: a bad one is one line naming the option, exit
status 2.
"""

import re

from cliff import command
from cliff import lister

from nova_gpu_ext.admin import database
from nova_gpu_ext.admin import releases
from nova_gpu_ext.common import catalog
from nova_gpu_ext.common import catalog_file
from nova_gpu_ext.common import values
from nova_gpu_ext import exception

# The one column style of every command's records.
COLUMN_NAME = re.compile(r'[a-z][a-z0-9]*(_[a-z0-9]+)*')

DEFAULT_NOVA_CONF = '/etc/nova/nova.conf'

# C0 and C1 control characters and DEL. JSON and YAML escape them
# themselves; the table, value, csv and shell formats print them as they
# are, and a terminal obeys them (ESC starts a sequence, BEL rings).
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f]')
_SELF_ESCAPING_FORMATS = ('json', 'yaml')


class Command(command.Command):
    """A command that writes text (a file to paste, not records)."""

    def write(self, text: str) -> None:
        self.app.stdout.write(text)

    def say(self, text: str) -> None:
        """A line for the operator beside the output, on stderr.

        Escaped like the records: it may name a host read from a database.
        """
        self.app.stderr.write(f'{printable(text)}\n')


class Lister(lister.Lister):
    """A command that prints records (``-f``, ``-c`` from cliff)."""

    exit_status = exception.EXIT_OK
    # Every column the command can print, snake_case.
    COLUMNS: tuple[str, ...] = ()
    # openstackclient authenticates before a command runs unless this is
    # false. A fleet command may read only the cell databases
    # (--connection, --nova-conf) and then needs no cloud credentials; the
    # plugin's client authenticates when a command first asks for it
    # (nova_gpu_ext.cmd.plugin.make_client).
    auth_required = False

    def run(self, parsed_args):
        super().run(parsed_args)
        return self.exit_status

    def produce_output(self, parsed_args, column_names, data):
        undeclared = [c for c in column_names if c not in self.COLUMNS]
        if undeclared:
            raise AssertionError(
                f'{type(self).__name__} prints undeclared columns '
                f'{undeclared}: add them to COLUMNS')
        if parsed_args.formatter not in _SELF_ESCAPING_FORMATS:
            data = ([printable(value) for value in row] for row in data)
        return super().produce_output(parsed_args, column_names, data)

    def say(self, text: str) -> None:
        """A line for the operator beside the records, on stderr.

        Records go to stdout alone, so ``-f json`` stays parseable. It is
        escaped like the records: it may name a host read from a database.
        """
        self.app.stderr.write(f'{printable(text)}\n')


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


def add_cell_source(parser, *, fallback: str,
                    placement: bool = False) -> None:
    """``--nova-conf``, ``--connection``, ``--db-timeout``: the cell DBs.

    ``fallback`` says where the command reads without either;
    ``placement`` adds ``--placement-connection``, the placement database
    that tells the fleet commands which GPUs placement holds back.
    """
    source = parser.add_argument_group(
        'cell databases', f'the nova cell databases (--nova-conf or '
        f'--connection); without either: {fallback}')
    source.add_argument(
        '--nova-conf', action='append', default=[], metavar='FILE',
        dest='nova_confs',
        help='nova.conf naming the databases: the cells mapped in '
             '[api_database] connection, else [database] connection; its '
             '[nova_gpu_ext] options are the scheduler\'s; repeat for '
             'several files (later files win)')
    source.add_argument(
        '--connection', action='append', default=[], metavar='URL',
        dest='connections',
        help='a cell database as an SQLAlchemy URL, e.g. '
             'mysql+pymysql://nova:PASSWORD@db/nova; repeatable')
    if placement:
        source.add_argument(
            '--placement-connection', metavar='URL',
            dest='placement_connection',
            help='the placement database as an SQLAlchemy URL, read-only '
                 'beside the cell databases: their GPUs that placement '
                 'reserves count as cordoned or awaiting cleaning, not '
                 'free (PCI in placement mode; ignored with a warning in '
                 'legacy mode)')
    source.add_argument(
        '--db-timeout', type=seconds('--db-timeout'),
        default=database.DEFAULT_TIMEOUT,
        metavar='SECONDS', dest='db_timeout',
        help='how long connecting to a database or one query may take '
             f'(default {database.DEFAULT_TIMEOUT:g})')


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
        raise releases.ReleaseError(f'--nova-release: {exc}') from exc


def printable(value):
    """A string with its control characters as ``\\xNN``; others as given."""
    if not isinstance(value, str):
        return value
    return _CONTROL.sub(lambda m: f'\\x{ord(m.group()):02x}', value)


def seconds(option: str):
    """The ``type=`` of ``option``: a finite number of seconds above 0."""
    return _checked(option, values.seconds)


def count(option: str, *, minimum: int = 1):
    """The ``type=`` of ``option``: a whole number, ASCII digits only.

    At most :data:`~nova_gpu_ext.common.values.MAX_COUNT`.
    """
    return _checked(option, lambda text: values.count(text, minimum=minimum))


def _checked(option, parse):
    """``parse`` raising BadInput naming ``option``, for argparse ``type=``.

    argparse would turn a ValueError into its usage text; BadInput goes
    through cliff as one line with exit status 2.
    """
    def parsed(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise exception.BadInput(f'{option}: {exc}') from exc
    return parsed
