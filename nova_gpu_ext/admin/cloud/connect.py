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

"""openstacksdk connections, and cloud failures as one line for the operator.

``openstack gpu`` commands get their connection from openstackclient
(:mod:`nova_gpu_ext.cmd.plugin`); ``nova-gpu-ext`` makes its own here, from
``clouds.yaml`` (``--os-cloud``) or the ``OS_*`` variables of an openrc
file, as openstacksdk reads them. Either way the timeout is a deadline for
the command's whole conversation with the cloud, token request included
(:mod:`.deadline`), and :func:`errors` turns what openstacksdk and
keystoneauth raise into a :mod:`nova_gpu_ext.exception` class with a
one-line message naming the URL.
"""

import contextlib
import os
import re

from nova_gpu_ext.admin.cloud import deadline
from nova_gpu_ext import exception

# Seconds a command may spend talking to the cloud, all its requests
# together (token, discovery, API calls), when neither --timeout nor
# api_timeout in clouds.yaml says otherwise. Keystone, Placement and the
# compute API answer each of these calls in well under a second; thirty
# leaves room for a loaded control plane yet ends a hung or dripping
# connection in time for an operator waiting at the prompt.
DEFAULT_TIMEOUT = 30

_CHANGE_TIMEOUT = ('nova-gpu-ext --timeout SECONDS or api_timeout in '
                   'clouds.yaml sets how long to wait')

# HTTP status -> what the operator should check.
_HINTS = {
    401: 'the credentials were refused; check the cloud in clouds.yaml '
         '(--os-cloud) or the OS_* variables',
    403: 'not allowed; flavor management and placement need the admin '
         'role',
    404: 'not found; check the endpoints of the service catalog',
    409: 'conflict; something else changed it at the same time, run the '
         'command again',
}

# keystoneauth's discovery failure names the URL only in its text.
_DISCOVERY_URL = re.compile(r' at (\S+?),')


def connect(cloud: str | None, region_name: str | None,
            timeout: float | None):
    """An ``openstack.connection.Connection`` for ``nova-gpu-ext``.

    ``timeout`` (seconds) wins over ``api_timeout`` of clouds.yaml;
    without either, :data:`DEFAULT_TIMEOUT`.

    :raises BadInput: openstacksdk missing, or a cloud that cannot be
        used, naming the clouds.yaml file and key.
    """
    try:
        from openstack import config as sdk_config
        from openstack import connection
    except ImportError as exc:
        raise exception.BadInput(
            'openstacksdk is not installed; install the cloud extra: '
            "pip install 'nova_gpu_ext[cloud]'") from exc
    overrides = {} if timeout is None else {'api_timeout': timeout}
    with errors():
        config = _load_config(sdk_config)
        _check_cloud(config, cloud)
        try:
            region = config.get_one(cloud=cloud, region_name=region_name,
                                    **overrides)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # openstacksdk's loader assumes the structure it documents;
            # anything else in the file surfaces as one of these.
            raise exception.BadInput(
                f'{_source(config)}: cannot use cloud {cloud or "envvars"}:'
                f' {exception.one_line(exc)}; compare it with the clouds.yaml'
                ' examples of openstacksdk') from exc
        conn = connection.Connection(config=region)
    bound(conn.session)
    return conn


def opened(client_manager):
    """A command's connection, ``client_manager.gpu``, made on first use.

    Failures to make it (credentials openstackclient cannot load, a bad
    clouds.yaml) are our exceptions, as :func:`errors` makes them.
    """
    with errors():
        return client_manager.gpu


def bound(session) -> None:
    """Make the timeout of a keystoneauth session a deadline.

    The session's own timeout (``api_timeout``, ``--timeout``), else
    :data:`DEFAULT_TIMEOUT`, bounds all its requests together.
    """
    set_default_timeout(session)
    deadline.Deadline(session.timeout).bound(session)


def set_default_timeout(session) -> None:
    """Give a keystoneauth session :data:`DEFAULT_TIMEOUT` if it has none."""
    if session.timeout is None:
        session.timeout = float(DEFAULT_TIMEOUT)


def _load_config(sdk_config):
    import yaml
    try:
        return sdk_config.OpenStackConfig()
    except yaml.YAMLError as exc:
        raise exception.BadInput(
            'clouds.yaml is not valid YAML: '
            f'{exception.one_line(exc)}') from exc
    except OSError as exc:
        raise exception.BadInput(
            f'cannot read {exc.filename}: {exc.strerror}') from exc


def _check_cloud(config, name: str | None) -> None:
    """Refuse a cloud whose entry or ``auth:`` is not a mapping.

    openstacksdk would fail on it with a ValueError or AttributeError
    from deep inside its loader; the operator needs the file and key.
    """
    if not name:
        return
    clouds = config.cloud_config.get('clouds')
    entry = clouds.get(name) if isinstance(clouds, dict) else None
    if entry is None:
        return
    if not isinstance(entry, dict):
        raise exception.BadInput(
            f'{_source(config)}: clouds.{name} is a {type(entry).__name__}, '
            'not a mapping of settings (auth:, region_name:, ...)')
    auth = entry.get('auth', {})
    if not isinstance(auth, dict):
        raise exception.BadInput(
            f'{_source(config)}: clouds.{name}.auth is a '
            f'{type(auth).__name__}, not a mapping; write it as '
            '"auth:" followed by indented "auth_url: ...", "username: ..." '
            'lines')


def _source(config) -> str:
    return config.config_filename or 'clouds.yaml'


@contextlib.contextmanager
def errors(conn=None):
    """Re-raise openstacksdk and keystoneauth failures as our exceptions.

    HTTP 4xx answers are :class:`~nova_gpu_ext.exception.BadInput` (the
    credentials, role or endpoint need fixing); no answer, time-outs and
    5xx are :class:`~nova_gpu_ext.exception.Unreachable`. Anything else
    passes unchanged. ``conn`` is the openstacksdk connection the calls
    use: a failure that version discovery made of its deadline passing is
    said as the deadline.
    """
    try:
        yield
    except exception.NovaGpuExtError:
        raise
    except Exception as exc:
        translated = _translate(exc, conn)
        if translated is None:
            raise
        raise translated from exc


def _translate(exc: Exception, conn) -> exception.NovaGpuExtError | None:
    try:
        from keystoneauth1 import exceptions as ks_exc
        from openstack import exceptions as sdk_exc
    except ImportError:
        # Without openstacksdk nothing of it can have raised.
        return None
    late = next((link for link in _chain(exc)
                 if isinstance(link, deadline.DeadlinePassed)), None)
    if late is None and conn is not None and isinstance(
            exc, (ks_exc.DiscoveryFailure, ks_exc.ConnectionError)):
        bound_to = deadline.of(conn.session)
        late = bound_to.last_passed if bound_to else None
    if late is not None:
        return exception.Unreachable(
            f'no complete answer from {_url(late)} within {late.seconds:g} '
            's, the deadline of all requests together; check that the '
            f'service runs ({_CHANGE_TIMEOUT})')
    if isinstance(exc, sdk_exc.HttpException):
        return _http_error(exc.status_code, exc.method, exc.url,
                           exc.details)
    if isinstance(exc, ks_exc.HttpError):
        return _http_error(exc.http_status, exc.method, exc.url,
                           exc.details)
    if isinstance(exc, ks_exc.ConnectTimeout):
        return exception.Unreachable(
            f'no answer from {_url(exc)} in time; check that the service '
            f'runs ({_CHANGE_TIMEOUT})')
    if isinstance(exc, ks_exc.SSLError):
        return exception.Unreachable(
            f'TLS failure with {_url(exc)}: {_reason(exc)}; check cacert '
            'and verify of the cloud in clouds.yaml')
    if isinstance(exc, ks_exc.ConnectionError):
        return exception.Unreachable(
            f'cannot reach {_url(exc)}: {_reason(exc)}; check auth_url and '
            'the service endpoints, and that the service runs')
    if isinstance(exc, ks_exc.DiscoveryFailure):
        match = _DISCOVERY_URL.search(str(exc))
        where = match.group(1) if match else 'the service'
        return exception.Unreachable(
            f'cannot reach {where}: no API version document (the service '
            'refuses connections, does not answer in time or is another '
            f'service); check the endpoint ({_CHANGE_TIMEOUT})')
    if isinstance(exc, ks_exc.CatalogException):
        return exception.BadInput(
            f'{exception.one_line(exc)}; check region_name and interface of '
            'the cloud and its service catalog')
    if isinstance(exc, ks_exc.AuthPluginException):
        return exception.BadInput(
            f'{exception.one_line(exc)}; name a cloud of clouds.yaml with '
            '--os-cloud or source an openrc file')
    if isinstance(exc, sdk_exc.ConfigException):
        return exception.BadInput(exception.one_line(exc))
    if isinstance(exc, (sdk_exc.SDKException, ks_exc.ClientException)):
        return exception.Unreachable(exception.one_line(exc))
    return None


def _http_error(status: int | None, method: str | None, url: str | None,
                details: str | None) -> exception.NovaGpuExtError:
    """``HTTP 403 on POST <url>: <details>; <hint>`` as the right class."""
    text = f'HTTP {status}'
    if url:
        text += f' on {method or "request to"} {url}'
    if details:
        text += f': {exception.one_line(details)}'
    hint = _HINTS.get(status)
    text = f'{text}; {hint}' if hint else text
    if status is not None and 400 <= status < 500:
        return exception.BadInput(text)
    return exception.Unreachable(text)


def _chain(exc: BaseException):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _url(exc: BaseException) -> str:
    """The URL of the request that failed, from requests' exception."""
    for link in _chain(exc):
        request = getattr(link, 'request', None)
        if getattr(request, 'url', None):
            return request.url
    return 'the cloud'


def _reason(exc: BaseException) -> str:
    """The operating system's words (``Connection refused``), if any.

    urllib3 wraps them in two more exceptions whose text repeats host,
    port and pool details over several hundred characters.
    """
    links = list(_chain(exc))
    for link in reversed(links):
        if isinstance(link, OSError) and link.errno and link.errno > 0:
            # Green sockets (eventlet) name the errno instead of saying it.
            return os.strerror(link.errno)
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
    return exception.one_line(links[-1])
