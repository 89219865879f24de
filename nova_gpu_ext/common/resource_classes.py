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

"""Placement resource class names of PCI devices, as nova makes them.

nova (``nova.compute.pci_placement_translator``) gives a device the
``resource_class`` of its device_spec, normalized, or
``CUSTOM_PCI_<VENDOR>_<PRODUCT>`` without one; an alias's resource class
is normalized the same way. The catalog, genconf, lint-conf and capacity
all compare names in that normalized form, so two spellings nova treats as
one class are one class here too.
"""

import re

CUSTOM_PREFIX = 'CUSTOM_'

_PCI_DEFAULT = re.compile(r'^CUSTOM_PCI_([0-9A-F]{4})_([0-9A-F]{4})$')


def normalize(name: str) -> str:
    """The class nova uses for ``name`` in a device_spec or an alias.

    Upper-cased; a name without the ``CUSTOM_`` prefix gets it, after
    every run of characters other than A-Z and 0-9 became one ``_``
    (``os_resource_classes.normalize_name``). nova leaves placement's
    standard classes (``VGPU``, ``PGPU``...) unprefixed; none of them
    stands for a passthrough GPU, so they are not special here.
    """
    upper = str(name).upper()
    if upper.startswith(CUSTOM_PREFIX):
        return upper
    return CUSTOM_PREFIX + re.sub('[^0-9A-Z]+', '_', upper)


def gpu_default(name: str) -> str:
    """``CUSTOM_GPU_<NAME>``: the catalog's class for model or class NAME.

    Characters placement does not allow become ``_``, one for one, so
    distinct names can give the same class (``a-1`` and ``a_1``): the
    catalog refuses such pairs.
    """
    return CUSTOM_PREFIX + 'GPU_' + re.sub(r'[^A-Z0-9]', '_', name.upper())


def pci_default(vendor_id: str, product_id: str) -> str:
    """nova's class for a device whose device_spec sets none."""
    return f'{CUSTOM_PREFIX}PCI_{vendor_id}_{product_id}'.upper()


def pci_ids(resource_class: str) -> tuple[str, str] | None:
    """``(vendor_id, product_id)`` of a :func:`pci_default` class, or None."""
    match = _PCI_DEFAULT.match(resource_class)
    return (match.group(1).lower(), match.group(2).lower()) if match else None
