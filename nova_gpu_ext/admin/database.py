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

"""Read-only, time-bounded access to nova's databases (SQLAlchemy Core).

The fleet commands read production databases while nova uses them, so
every connection here:

* is read-only: ``SET SESSION TRANSACTION READ ONLY`` on MySQL/MariaDB,
  ``PRAGMA query_only`` on SQLite, so no statement can change a row;
* takes no locks: plain ``SELECT``s in one short transaction, which InnoDB
  serves from a consistent snapshot without locking rows;
* is bounded: a connect timeout, a per-query time limit
  (``max_statement_time`` on MariaDB, ``max_execution_time`` on MySQL)
  and socket read/write timeouts, so an unreachable or stuck server ends
  in an error instead of a hang;
* is never pooled: one connection, closed at the end.
"""

import contextlib
import os
import re

import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

from nova_gpu_ext import exception

DEFAULT_TIMEOUT = 30

# A query parameter whose name holds one of these words, and its value.
_SECRET_QUERY = re.compile(
    r'([?&][^=&#]*(?:pass|pwd|secret|token|credential)[^=&#]*=)[^&#]*',
    re.IGNORECASE)


class DatabaseError(exception.Unreachable):
    """A database could not be reached, read, or not in time."""


class BadDatabaseUrl(exception.BadInput):
    """A database URL that cannot be used as given."""


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


# Driver connect arguments carrying the timeouts, per SQLAlchemy driver.
TIMEOUT_ARGS = {
    'pymysql': ('connect_timeout', 'read_timeout', 'write_timeout'),
    'mysqldb': ('connect_timeout', 'read_timeout', 'write_timeout'),
    'psycopg2': ('connect_timeout',),
    'pysqlite': ('timeout',),
}


def timeout_args(parsed: sa.engine.URL, timeout: float) -> dict:
    """The driver's connect arguments for ``timeout``.

    Arguments the URL sets itself are left to it.
    """
    driver = parsed.get_dialect().driver
    whole = {'connect_timeout'}
    return {name: max(1, int(timeout)) if name in whole else timeout
            for name in TIMEOUT_ARGS.get(driver, ())
            if name not in parsed.query}


def _engine(url: str, timeout: float) -> sa.engine.Engine:
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
            f'no SQLite database file {path} (from {mask(url)}); give '
            'the path of an existing nova cell database')
    try:
        return sa.create_engine(parsed, poolclass=sa_pool.NullPool,
                                connect_args=timeout_args(parsed, timeout))
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise BadDatabaseUrl(
            f'cannot use the database URL {mask(url)}: {_line(exc)}; check '
            'the URL and that its driver (e.g. PyMySQL) is installed'
        ) from exc


def _read_only(conn: sa.engine.Connection, timeout: float) -> None:
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


@contextlib.contextmanager
def read_only(url: str, timeout: float = DEFAULT_TIMEOUT):
    """A read-only connection in one transaction; errors as one line.

    :raises BadDatabaseUrl: the URL cannot be used as given.
    :raises DatabaseError: the server cannot be reached or read in time,
        naming the (masked) URL.
    """
    engine = _engine(url, timeout)
    try:
        with engine.connect() as conn:
            # Session settings first, in their own (empty) transaction:
            # they then hold for the transaction the reads run in.
            _read_only(conn, timeout)
            conn.commit()
            with conn.begin():
                yield conn
    except sa.exc.SQLAlchemyError as exc:
        reason = _line(getattr(exc, 'orig', None) or exc)
        raise DatabaseError(
            f'cannot read the database {mask(url)}: {reason}') from exc
    finally:
        engine.dispose()


def _line(value) -> str:
    return ' '.join(str(value).split())
