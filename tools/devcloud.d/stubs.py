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

"""Stand-ins for Glance and Neutron, served by gunicorn (``stubs:app``).

The devcloud tests scheduling, not images or networks: servers boot with
``networks='none'`` from one image that nova's fake libvirt never reads.
nova-api still shows the image and nova-compute still asks Neutron for
the ports of a server it deletes, so these answer just those calls:
``/image/v2/images/<id>`` and ``/network/v2.0/...`` (always empty).
"""

import json

IMAGE_ID = '155d900f-4e14-4e4c-a73d-069cbf4541e6'
IMAGE = {
    'id': IMAGE_ID, 'name': 'devcloud-image', 'status': 'active',
    'visibility': 'public', 'protected': False, 'size': 25165824,
    'min_ram': 0, 'min_disk': 0, 'disk_format': 'raw',
    'container_format': 'bare', 'owner': 'admin', 'tags': [],
    'created_at': '2025-01-01T00:00:00Z',
    'updated_at': '2025-01-01T00:00:00Z',
    'file': f'/v2/images/{IMAGE_ID}/file', 'schema': '/v2/schemas/image',
}


def _network(path: str):
    """Neutron's answer: an empty list of whatever was asked for."""
    resource = path.rstrip('/').split('/')[-1].split('.')[0]
    if resource in ('', 'v2.0'):
        return {'resources': []}
    return {resource: []}


# The schema python-glanceclient validates images with: any value.
SCHEMA = {'name': 'image', 'properties': {key: {} for key in IMAGE},
          'additionalProperties': {'type': 'string'}, 'links': []}


def _image(path: str):
    if path.endswith('/schemas/image'):
        return SCHEMA
    if path.rstrip('/').endswith('/images'):
        return {'images': [IMAGE]}
    if IMAGE_ID in path:
        return IMAGE
    return None


def _versions(environ, service, version):
    """The version document keystoneauth's discovery asks for."""
    url = f'http://{environ["HTTP_HOST"]}/{service}/{version}/'
    return {'versions': [{'id': version, 'status': 'CURRENT',
                          'links': [{'rel': 'self', 'href': url}]}]}


def app(environ, start_response):
    path = environ.get('PATH_INFO', '/')
    if path.rstrip('/') == '/network':
        body = _versions(environ, 'network', 'v2.0')
    elif path.rstrip('/') == '/image':
        body = _versions(environ, 'image', 'v2')
    elif path.startswith('/network'):
        body = _network(path)
    elif path.startswith('/image'):
        body = _image(path)
    else:
        body = None
    status = '200 OK' if body is not None else '404 Not Found'
    data = json.dumps(body if body is not None else {}).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]
