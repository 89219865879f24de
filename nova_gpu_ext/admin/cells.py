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

"""Which cell databases to read: the fleet commands, exporter, pci-audit.

From nova.conf as nova itself finds them: the cells mapped in the API
database named by ``[api_database] connection`` (read through the one
read-only, time-bounded session of :mod:`database`), else the one
database of ``[database] connection``; or straight from database URLs.
"""

import dataclasses
from urllib import parse

from oslo_config import cfg
from oslo_config import iniparser
import sqlalchemy as sa

from nova_gpu_ext.admin import database
from nova_gpu_ext.common import inifile
from nova_gpu_ext import exception

# cell0 holds only instances that were never scheduled: no compute node,
# no PCI device.
CELL0_UUID = '00000000-0000-0000-0000-000000000000'


@dataclasses.dataclass(frozen=True)
class Cell:
    """A cell database.

    ``key`` names the cell in a backup so ``--restore`` finds it again: the
    cell mapping's uuid, or the masked URL for a database given directly.
    """

    key: str
    name: str
    url: str = dataclasses.field(repr=False)


def from_urls(urls):
    return [Cell(database.mask(url), database.mask(url), url)
            for url in urls]


def from_config(config_files, timeout=database.DEFAULT_TIMEOUT):
    """The cell databases named by these nova.conf files (later ones win).

    The API database is read within ``timeout`` like any other.
    """
    api_url, url = _load(config_files)
    if api_url:
        return _mapped(api_url, url, timeout)
    if url:
        return [Cell(database.mask(url), database.mask(url), url)]
    raise exception.BadInput(
        f'{", ".join(config_files)}: neither [api_database] connection nor '
        '[database] connection is set; give the nova.conf of a nova-api or '
        'nova-conductor host, or --connection URL')


def _load(config_files):
    """A private ConfigOpts with just the two connection options.

    Each file is first read by :mod:`inifile`, so a directory, an
    unreadable, binary or non-UTF-8 file is one line naming it.
    """
    for path in config_files:
        try:
            inifile.read(path, 'nova.conf')
        except inifile.IniFileError as exc:
            raise exception.BadInput(str(exc)) from exc
    conf = cfg.ConfigOpts()
    for group in ('api_database', 'database'):
        conf.register_opt(cfg.StrOpt('connection', secret=True), group=group)
    try:
        conf(args=[], default_config_files=config_files,
             default_config_dirs=[], use_env=False)
        return conf.api_database.connection, conf.database.connection
    except cfg.ConfigFileParseError as exc:
        raise exception.BadInput(_parse_error(exc)) from exc
    except cfg.Error as exc:
        raise exception.BadInput(
            f'cannot read {", ".join(config_files)}: '
            f'{exception.one_line(exc)}') from exc


def _parse_error(exc: cfg.ConfigFileParseError) -> str:
    """File and line of a parse error, never the line itself.

    oslo.config's message quotes the line, and a nova.conf line may hold
    a password (``connection = mysql+pymysql://nova:SECRET@...``).
    """
    cause = exc.__context__
    where = (f' line {cause.lineno}: {cause.msg}'
             if isinstance(cause, iniparser.ParseError) else '')
    return (f'cannot parse {exc.config_file}{where}; nova.conf is INI: '
            '[section] lines, then option = value lines')


def _mapped(api_url, default_url, timeout):
    table = database.CELL_MAPPINGS
    query = sa.select(table.c.uuid, table.c.name,
                      table.c.database_connection).order_by(table.c.uuid)
    with database.read_only(api_url, timeout, database.API_TABLES) as conn:
        mappings = [tuple(row) for row in conn.execute(query)]
    return [Cell(uuid, name or uuid, _format(uuid, url, default_url))
            for uuid, name, url in mappings if uuid != CELL0_UUID]


def _format(cell, template, default):
    """Fill a templated cell URL from ``[database] connection``, as nova.

    Cell mappings may hold ``{scheme}://{username}:{password}@...`` so that
    the credentials live only in nova.conf.
    """
    if '{' not in template:
        return template
    if not default:
        raise exception.BadInput(
            f'cell {cell}: database_connection is a template but '
            '[database] connection is not set in nova.conf; set it as on '
            'the nova-conductor hosts')
    parts = parse.urlparse(default)
    try:
        return template.format(
            username=parts.username, password=parts.password,
            hostname=parts.hostname, port=parts.port, scheme=parts.scheme,
            query=parts.query, fragment=parts.fragment,
            path=parts.path.lstrip('/'))
    except (KeyError, IndexError, ValueError) as exc:
        raise exception.BadInput(
            f'cell {cell}: cannot fill its database_connection template '
            f'({exc!r}); only the fields {{scheme}}, {{username}}, '
            '{password}, {hostname}, {port}, {path}, {query} and '
            '{fragment} are supported') from exc
