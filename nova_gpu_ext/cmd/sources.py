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

"""The options of the commands that read the fleet, and their source.

capacity, explain, what-if and the exporter read the fleet the same way:
the cell-source options (:func:`base.add_cell_source`), ``--request`` /
``--numa``, and one :class:`~nova_gpu_ext.admin.fleet.source.Source`.
"""

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin.fleet import source as fleet_source
from nova_gpu_ext.cmd import base
from nova_gpu_ext.gpu import models

PLACEMENT_FALLBACK = 'Placement through the cloud (PCI in placement mode)'


def add_source(parser) -> None:
    base.add_cell_source(parser, fallback=PLACEMENT_FALLBACK,
                         placement=True)


def source_of(command, parsed_args, gpu_catalog) -> fleet_source.Source:
    """The fleet source of a command's options."""
    return fleet_source.Source(
        nova_confs=parsed_args.nova_confs,
        connections=parsed_args.connections,
        placement_connection=parsed_args.placement_connection,
        db_timeout=parsed_args.db_timeout, catalog=gpu_catalog,
        cloud=lambda: connect.opened(command.app.client_manager),
        progress=_progress(command.app.stderr), say=command.say)


def _progress(stream):
    if not getattr(stream, 'isatty', lambda: False)():
        return None

    def show(done, total):
        width = 30
        filled = width * done // max(total, 1)
        stream.write(f'\rreading placement [{"#" * filled}'
                     f'{"." * (width - filled)}] {done}/{total} '
                     'devices' + ('\n' if done == total else ''))
        stream.flush()
    return show


def add_requests(parser, *, counts: bool) -> None:
    example = 'gpu:2=10' if counts else 'gpu:2'
    parser.add_argument(
        '--request', action='append', default=[], dest='requests',
        metavar='ALIAS:COUNT' + ('=N' if counts else ''),
        help=f'a GPU request as a flavor writes pci_passthrough:alias (e.g. '
             f'{example}; several aliases separated by commas)'
             + (', and how many such servers' if counts else '')
             + '; repeatable')
    add_locality(parser, 'the --request servers')


def add_locality(parser, what: str) -> None:
    """``--numa`` and ``--switch``: gpu:numa and gpu:switch of requests."""
    for option, modes, spec in (('--numa', models.NumaMode, 'numa'),
                                ('--switch', models.SwitchMode, 'switch')):
        parser.add_argument(
            option, choices=[m.value for m in modes],
            help=f'gpu:{spec} of {what} (default: [nova_gpu_ext] '
                 f'{spec}_default of the --nova-conf files, else its '
                 f'default)')


def wanted(source, parsed_args) -> list:
    """The --request requests, else the catalog's GPU flavors."""
    return ([source.request(t, parsed_args.numa, parsed_args.switch)
             for t in parsed_args.requests] or source.flavors())
