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

"""VFIO facts both host checks and rendered host settings state."""

# Drivers under which a passed-through function's IOMMU group is viable.
VFIO_DRIVERS = ('vfio-pci', 'pci-stub')

VFIO_MODULES = ('vfio', 'vfio_pci', 'vfio_iommu_type1')

# Host drivers that claim a GPU at boot before vfio-pci can, per vendor id.
HOST_GPU_DRIVERS = {
    '10de': ('nouveau', 'nvidia'),
    '1002': ('amdgpu', 'radeon'),
    '8086': ('i915', 'xe'),
}


def is_vfio_driver(driver: str | None) -> bool:
    """vfio-pci, pci-stub, or a VFIO variant driver of vfio-pci.

    Variant drivers (``mlx5_vfio_pci``, ``nvgrace_gpu_vfio_pci``, ...)
    extend vfio-pci for one device family; their names end like it.
    """
    return bool(driver) and (driver in VFIO_DRIVERS or driver.replace(
        '-', '_').endswith('vfio_pci'))
