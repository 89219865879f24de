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

"""The one database layer of the tooling: nova's and placement's tables,
declared once, and the only two ways to open a session (SQLAlchemy Core).

The fleet commands, the exporter and pci-audit's reports read
production databases while nova uses them, through :func:`read_only`:

* read-only: ``SET SESSION TRANSACTION READ ONLY`` on MySQL/MariaDB,
  ``PRAGMA query_only`` on SQLite, so no statement can change a row; URL
  options that run statements of their own (``init_command``) are
  refused, so nothing runs before the session is read-only;
* no locks: plain ``SELECT``s in one short transaction, which InnoDB
  serves from a consistent snapshot without locking rows;
* bounded by ``timeout`` (``--db-timeout``): a connect timeout, socket
  read/write timeouts, a per-statement time limit (``max_statement_time``
  on MariaDB, ``max_execution_time`` on MySQL), and one deadline for the
  whole session: a server that answers a byte at a time, each within
  the read timeout, has its connection shut when the time is up;
* never pooled: one connection, closed at the end;
* of nova: a query that fails on a database that answers is followed by
  a look at the tables (and columns) the command reads, so another
  application's database is bad input naming what is missing.

Only pci-audit's write path (``--apply``, ``--restore``) opens a
:func:`writable` transaction. Passwords are masked in every message
(:func:`mask`).
"""

import contextlib
import os
import re
import socket
import threading

import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

from nova_gpu_ext import exception

DEFAULT_TIMEOUT = 30.0

# A query parameter whose name holds one of these words, and its value.
_SECRET_QUERY = re.compile(
    r'([?&][^=&#]*(?:pass|pwd|secret|token|credential)[^=&#]*=)[^&#]*',
    re.IGNORECASE)


class DatabaseError(exception.Unreachable):
    """A database could not be reached, read, or not in time."""


class BadDatabaseUrl(exception.BadInput):
    """A database URL that cannot be used as given."""


class NotNovaDatabase(exception.BadInput):
    """A database that answers but lacks what nova's schema has."""


def mask(url: str) -> str:
    """The URL with its secrets replaced by ``***``, for messages.

    The password of ``user:PASSWORD@`` and the value of every query
    parameter whose name says it is a secret (``?password=``,
    ``passwd``, ``ssl_key_password``, ``token``...): drivers take their
    connect arguments from the query too.
    """
    try:
        text = sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return '<unparsable database URL>'
    return _SECRET_QUERY.sub(r'\1***', text)


class CommitNotConfirmed(exception.ChangedThenFailed):
    """A writing transaction whose commit the server did not confirm."""


PCI_DEVICES = sa.table(
    'pci_devices',
    sa.column('id', sa.Integer), sa.column('uuid', sa.String),
    sa.column('compute_node_id', sa.Integer),
    sa.column('address', sa.String), sa.column('vendor_id', sa.String),
    sa.column('product_id', sa.String), sa.column('dev_type', sa.String),
    sa.column('dev_id', sa.String), sa.column('label', sa.String),
    sa.column('status', sa.String), sa.column('request_id', sa.String),
    sa.column('extra_info', sa.Text),
    sa.column('instance_uuid', sa.String),
    sa.column('numa_node', sa.Integer), sa.column('parent_addr', sa.String),
    sa.column('created_at', sa.DateTime),
    sa.column('updated_at', sa.DateTime),
    sa.column('deleted_at', sa.DateTime), sa.column('deleted', sa.Integer))
COMPUTE_NODES = sa.table(
    'compute_nodes', sa.column('id', sa.Integer),
    sa.column('uuid', sa.String), sa.column('host', sa.String),
    sa.column('hypervisor_hostname', sa.String),
    sa.column('pci_stats', sa.Text), sa.column('deleted', sa.Integer))
INSTANCES = sa.table(
    'instances', sa.column('uuid', sa.String),
    sa.column('display_name', sa.String), sa.column('host', sa.String),
    sa.column('node', sa.String), sa.column('deleted', sa.Integer),
    sa.column('task_state', sa.String))
INSTANCE_EXTRA = sa.table(
    'instance_extra', sa.column('instance_uuid', sa.String),
    sa.column('pci_requests', sa.Text), sa.column('flavor', sa.Text),
    sa.column('deleted', sa.Integer))
MIGRATIONS = sa.table(
    'migrations', sa.column('instance_uuid', sa.String),
    sa.column('status', sa.String), sa.column('deleted', sa.Integer))
CELL_MAPPINGS = sa.table(
    'cell_mappings', sa.column('uuid', sa.String),
    sa.column('name', sa.String),
    sa.column('database_connection', sa.Text))
# Placement's (``placement.db.sqlalchemy.models``): a device provider's
# inventory, its allocations and its traits.
RESOURCE_PROVIDERS = sa.table(
    'resource_providers', sa.column('id', sa.Integer),
    sa.column('uuid', sa.String), sa.column('name', sa.String))
INVENTORIES = sa.table(
    'inventories', sa.column('resource_provider_id', sa.Integer),
    sa.column('resource_class_id', sa.Integer),
    sa.column('total', sa.Integer), sa.column('reserved', sa.Integer))
ALLOCATIONS = sa.table(
    'allocations', sa.column('resource_provider_id', sa.Integer),
    sa.column('resource_class_id', sa.Integer),
    sa.column('used', sa.Integer))
TRAITS = sa.table(
    'traits', sa.column('id', sa.Integer), sa.column('name', sa.String))
RESOURCE_PROVIDER_TRAITS = sa.table(
    'resource_provider_traits', sa.column('trait_id', sa.Integer),
    sa.column('resource_provider_id', sa.Integer))

# What each kind of reader needs of a database.
AUDIT_TABLES = (PCI_DEVICES, COMPUTE_NODES, INSTANCES, MIGRATIONS)
FLEET_TABLES = (COMPUTE_NODES, PCI_DEVICES)
SERVER_TABLES = (INSTANCES, INSTANCE_EXTRA)
API_TABLES = (CELL_MAPPINGS,)
PLACEMENT_TABLES = (RESOURCE_PROVIDERS, INVENTORIES, ALLOCATIONS, TRAITS,
                    RESOURCE_PROVIDER_TRAITS)

# URL query options a driver runs as statements when it connects: they
# would run before the session is made read-only.
STATEMENT_OPTIONS = frozenset(('init_command', 'sql_mode', 'options'))

# Driver connect arguments carrying the timeouts, per SQLAlchemy driver.
TIMEOUT_ARGS = {
    'pymysql': ('connect_timeout', 'read_timeout', 'write_timeout'),
    'mysqldb': ('connect_timeout', 'read_timeout', 'write_timeout'),
    'psycopg2': ('connect_timeout',),
    'pysqlite': ('timeout',),
}

# DBAPI errors that mean the database did not answer (connection refused
# or lost, timeout), not that it refused what was asked.
_UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError,
                sa.exc.TimeoutError, sa.exc.DisconnectionError)


def timeout_args(parsed: sa.engine.URL, timeout: float) -> dict:
    """The driver's connect arguments for ``timeout``.

    Arguments the URL sets itself are left to it.
    """
    driver = parsed.get_dialect().driver
    whole = {'connect_timeout'}
    return {name: max(1, int(timeout)) if name in whole else timeout
            for name in TIMEOUT_ARGS.get(driver, ())
            if name not in parsed.query}


def _parse(url: str, read_only: bool) -> sa.engine.URL:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise BadDatabaseUrl(
            f'cannot parse the database URL {mask(url)}: give an SQLAlchemy '
            'URL such as mysql+pymysql://nova:PASSWORD@db/nova') from exc
    path = parsed.database
    if (parsed.get_backend_name() == 'sqlite' and path
            and path != ':memory:' and not os.path.isfile(path)):
        raise BadDatabaseUrl(
            f'cannot use the database {mask(url)}: no SQLite database file '
            f'{path}; give the path of an existing nova cell database')
    running = sorted(STATEMENT_OPTIONS & set(parsed.query))
    if read_only and running:
        raise BadDatabaseUrl(
            f'the database URL {mask(url)} sets {", ".join(running)}, which '
            'runs statements before the session is made read-only; remove '
            'it from the URL')
    return parsed


class Deadline:
    """One session's time: when it is up, its connections are shut down.

    A driver's read timeout bounds each read, not the answer: a server
    sending a byte a second holds a reader for ever. PyMySQL connections
    are tracked (the driver of nova's MySQL URLs); SQLite is local.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._connections: list = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> 'Deadline':
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()

    def connect(self, dialect, conn_rec, cargs, cparams):
        """SQLAlchemy's ``do_connect``: a connection this deadline tracks."""
        if dialect.driver != 'pymysql':
            return None
        conn = dialect.dbapi.connect(*cargs, defer_connect=True, **cparams)
        self._connections.append(conn)
        if self.expired:
            raise dialect.dbapi.OperationalError(
                2013, 'the session deadline passed before connecting')
        conn.connect()
        return conn

    def _expire(self) -> None:
        self.expired = True
        for conn in self._connections:
            sock = getattr(conn, '_sock', None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _engine(url: str, timeout: float, read_only: bool,
            deadline: Deadline | None = None) -> sa.engine.Engine:
    parsed = _parse(url, read_only)
    try:
        engine = sa.create_engine(parsed, poolclass=sa_pool.NullPool,
                                  connect_args=timeout_args(parsed, timeout))
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise BadDatabaseUrl(
            f'cannot use the database URL {mask(url)}: '
            f'{exception.one_line(exc)}; check the URL and that its driver '
            'is installed (e.g. PyMySQL for mysql+pymysql)') from exc
    if deadline is not None:
        sa.event.listen(engine, 'do_connect', deadline.connect)
    return engine


def _set_read_only(conn: sa.engine.Connection, timeout: float) -> None:
    dialect = conn.dialect.name
    if dialect == 'sqlite':
        conn.exec_driver_sql('PRAGMA query_only = ON')
    elif dialect == 'mysql':
        conn.exec_driver_sql('SET SESSION TRANSACTION READ ONLY')
        version = str(conn.exec_driver_sql('SELECT VERSION()').scalar())
        if 'mariadb' in version.lower():
            conn.exec_driver_sql(
                f'SET SESSION max_statement_time = {float(timeout)}')
        else:
            conn.exec_driver_sql(
                f'SET SESSION max_execution_time = {int(timeout * 1000)}')


def require(conn: sa.engine.Connection, url: str,
            tables: tuple[sa.TableClause, ...]) -> None:
    """Refuse a database without these tables (or columns) of nova's."""
    inspector = sa.inspect(conn)
    missing = [t.name for t in tables if not inspector.has_table(t.name)]
    if missing:
        raise NotNovaDatabase(
            f'the database {mask(url)} has no {", ".join(missing)} table: '
            'it is not a nova cell, nova API or placement database of a '
            'known schema, as the option asks; check the URL')
    for table in tables:
        have = {c['name'] for c in inspector.get_columns(table.name)}
        lacking = [c.name for c in table.columns if c.name not in have]
        if lacking:
            raise NotNovaDatabase(
                f'the database {mask(url)}: table {table.name} has no column '
                f'{", ".join(lacking)}: not a nova or placement schema this '
                'tool knows; check the URL and the release')


def _unreachable(url: str, reason: str, timeout: float) -> DatabaseError:
    return DatabaseError(
        f'cannot use the database {mask(url)}: {reason}; check that it '
        f'runs and answers within {timeout:g} s, and the URL')


def _error(engine, url: str, exc: sa.exc.SQLAlchemyError, timeout: float,
           tables: tuple[sa.TableClause, ...],
           deadline: Deadline | None = None) -> Exception:
    """The one-line error of a failed session.

    A database that answered but refused the query is looked at: the
    tables or columns it lacks are named.
    """
    if deadline is not None and deadline.expired:
        return DatabaseError(
            f'no complete answer from the database {mask(url)}: check that '
            f'it runs and answers within {timeout:g} s (--db-timeout is a '
            'deadline for the whole session), and the URL')
    reason = exception.one_line(getattr(exc, 'orig', None) or exc)
    missing = (isinstance(exc, sa.exc.DBAPIError)
               and not exc.connection_invalidated and tables)
    if isinstance(exc, _UNREACHABLE) and not _no_table(exc):
        return _unreachable(url, reason, timeout)
    if missing:
        try:
            with engine.connect() as conn:
                require(conn, url, tables)
        except NotNovaDatabase as found:
            return found
        except sa.exc.SQLAlchemyError:
            pass
    return NotNovaDatabase(
        f'the database {mask(url)} refused the query: {reason}; is it a '
        'nova cell database of a known schema?')


def _no_table(exc: sa.exc.SQLAlchemyError) -> bool:
    """SQLite reports a missing table or column as an OperationalError."""
    text = str(getattr(exc, 'orig', exc)).lower()
    return 'no such table' in text or 'no such column' in text


@contextlib.contextmanager
def read_only(url: str, timeout: float = DEFAULT_TIMEOUT,
              tables: tuple[sa.TableClause, ...] = ()):
    """A read-only connection in one transaction; errors as one line.

    :raises BadDatabaseUrl: the URL cannot be used as given.
    :raises NotNovaDatabase: the database lacks ``tables`` of nova's.
    :raises DatabaseError: the server cannot be reached or read in time,
        naming the (masked) URL.
    """
    deadline = Deadline(timeout)
    engine = _engine(url, timeout, read_only=True, deadline=deadline)
    try:
        with deadline, engine.connect() as conn:
            # Session settings first, in their own (empty) transaction:
            # they then hold for the transaction the reads run in.
            _set_read_only(conn, timeout)
            conn.commit()
            with conn.begin():
                yield conn
    except sa.exc.SQLAlchemyError as exc:
        raise _error(engine, url, exc, timeout, tables, deadline) from exc
    finally:
        engine.dispose()


@contextlib.contextmanager
def writable(url: str, timeout: float = DEFAULT_TIMEOUT,
             tables: tuple[sa.TableClause, ...] = ()):
    """The one writing transaction: pci-audit's ``--apply``/``--restore``.

    A body that raises leaves the transaction open: closing the
    connection rolls it back.

    :raises CommitNotConfirmed: the commit failed: the database may or
        may not have applied it.
    """
    engine = _engine(url, timeout, read_only=False)
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            yield conn
            try:
                trans.commit()
            except sa.exc.SQLAlchemyError as exc:
                raise CommitNotConfirmed(
                    f'the database {mask(url)} did not confirm the commit '
                    f'({exception.one_line(getattr(exc, "orig", None) or exc)}'
                    '): its rows may or may not have been changed') from exc
    except sa.exc.SQLAlchemyError as exc:
        raise _error(engine, url, exc, timeout, tables) from exc
    finally:
        engine.dispose()
