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

"""Glance images and their properties, through openstacksdk."""

import typing as ty

from nova_gpu_ext import exception


def properties(conn, names: ty.Sequence[str]
               ) -> list[tuple[str, dict[str, ty.Any]]]:
    """``(name or id, properties)`` of the named images, else of all.

    openstacksdk puts the ``hw_*`` properties glance knows on attributes
    and the others under ``properties``; both are merged, as nova reads
    them.
    """
    images = ([_find(conn, n) for n in names] if names
              else list(conn.image.images()))
    return [(image.name or image.id, _merged(image)) for image in images]


def _find(conn, name: str):
    # openstacksdk is the [cloud] extra: every command loads without it.
    from openstack import exceptions as sdk_exc

    try:
        return conn.image.find_image(name, ignore_missing=False)
    except sdk_exc.DuplicateResource as exc:
        raise exception.BadInput(
            f'--image {name}: more than one image has this name; give its '
            'id') from exc


def _merged(image) -> dict[str, ty.Any]:
    found = dict(image.properties or {})
    for key in ('hw_machine_type', 'hw_firmware_type'):
        value = getattr(image, key, None) or found.get(key)
        if value:
            found[key] = value
    return found
