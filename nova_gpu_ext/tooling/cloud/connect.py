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

"""openstacksdk connections, and API errors as one line for the operator.

Authentication is openstacksdk's own: ``--os-cloud`` (or ``OS_CLOUD``)
names a cloud of ``clouds.yaml``; without it the ``OS_*`` environment
variables of an openrc file are used.
"""

import contextlib
import os

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


class CloudError(Exception):
    """An API or connection failure, already phrased for the operator."""


def add_arguments(parser) -> None:
    group = parser.add_argument_group(
        'cloud', 'authentication as for the openstack client: clouds.yaml '
                 'or the OS_* environment variables')
    group.add_argument(
        '--os-cloud', default=os.environ.get('OS_CLOUD'), metavar='NAME',
        help='cloud name in clouds.yaml (default: $OS_CLOUD; without it '
             'the OS_* variables)')
    group.add_argument(
        '--os-region-name', default=os.environ.get('OS_REGION_NAME'),
        metavar='REGION', help='region (default: $OS_REGION_NAME)')


def connect(args):
    """An openstack.connection.Connection; CloudError if none can be made."""
    try:
        import openstack
    except ImportError as exc:
        raise CloudError(
            'openstacksdk is not installed; install the cloud extra: '
            "pip install 'nova_gpu_ext[cloud]'") from exc
    with errors():
        return openstack.connect(cloud=args.os_cloud,
                                 region_name=args.os_region_name)


@contextlib.contextmanager
def errors():
    """Re-raise openstacksdk and keystoneauth failures as CloudError."""
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as sdk_exc
    try:
        yield
    except sdk_exc.HttpException as exc:
        raise CloudError(http_message(
            exc.status_code, exc.method, exc.url, exc.details)) from exc
    except ks_exc.HttpError as exc:
        raise CloudError(http_message(
            exc.http_status, exc.method, exc.url, exc.details)) from exc
    except (ks_exc.ConnectionError, ks_exc.DiscoveryFailure) as exc:
        raise CloudError(f'cannot reach the cloud: {_line(exc)}; check '
                         'auth_url and the service endpoints') from exc
    except ks_exc.AuthPluginException as exc:
        raise CloudError(f'{_line(exc)}; name a cloud of clouds.yaml with '
                         '--os-cloud or source an openrc file') from exc
    except (sdk_exc.SDKException, ks_exc.ClientException) as exc:
        raise CloudError(_line(exc)) from exc


def http_message(status: int | None, method: str | None, url: str | None,
                 details: str | None) -> str:
    """``HTTP 403 on POST <url>: <details>; <hint>`` on one line."""
    text = f'HTTP {status}'
    if url:
        text += f' on {method or "request to"} {url}'
    if details:
        text += f': {_line(details)}'
    hint = _HINTS.get(status)
    return f'{text}; {hint}' if hint else text


def _line(value) -> str:
    return ' '.join(str(value).split())
