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

"""The GPU catalog options, read by the operator commands only.

Cinder-style dynamic sections: ``[nova_gpu_ext] gpu_models`` names the
models, each with its own ``[gpu:NAME]`` section (and ``gpu_classes`` /
``[gpu_class:NAME]`` likewise). The commands register these options on a
PRIVATE ``ConfigOpts`` (``nova_gpu_ext.common.catalog_file``), the
per-section ones once per name found; nova-scheduler never registers
them. ``list_opts`` lists them under a ``[gpu:NAME]`` /
``[gpu_class:NAME]`` template so the sample and the docs show them.
"""

from oslo_config import cfg

from nova_gpu_ext.conf import scheduler
from nova_gpu_ext.gpu import models

GROUP = scheduler.GROUP

# Flavor sizes per GPU when the catalog sets none.
VCPUS_PER_GPU = 8
RAM_MB_PER_GPU = 16384
EPHEMERAL_GB_PER_GPU = 0
DISK_GB = 40

MODEL_GROUP = cfg.OptGroup(
    'gpu:name',
    title='One GPU model of the catalog',
    help="""
One section per name in ``[nova_gpu_ext] gpu_models``, called
``[gpu:NAME]`` (e.g. ``[gpu:a100]``). ``nova-gpu-ext genconf`` renders it
into ``[pci] device_spec`` and ``[pci] alias`` lines.
""")

CLASS_GROUP = cfg.OptGroup(
    'gpu_class:name',
    title='A class of interchangeable GPU models',
    help="""
One section per name in ``[nova_gpu_ext] gpu_classes``, called
``[gpu_class:NAME]``. A class is one alias that accepts any of its models;
GpuPassthroughFilter still gives each request GPUs of one model.
""")

CATALOG_OPTS = [
    cfg.ListOpt(
        'gpu_models',
        default=[],
        help="""
The GPU models of the cloud, one ``[gpu:NAME]`` section each.

Read by ``nova-gpu-ext genconf`` and the other catalog tools, from their
own file (e.g. ``/etc/nova/nova-gpu-ext.conf``) or from nova.conf.

Possible values:

* A list of names; a name may not contain ``:`` or ``,`` unless the
  model sets ``alias``.

Related options:

* ``[gpu:NAME]`` sections, ``[nova_gpu_ext] gpu_classes``.
"""),
    cfg.ListOpt(
        'gpu_classes',
        default=[],
        help="""
Classes of interchangeable models, one ``[gpu_class:NAME]`` section each.

Possible values:

* A list of names; each section's ``models`` must name models of
  ``gpu_models`` of one ``device_type``.

Related options:

* ``[nova_gpu_ext] gpu_models``.
"""),
]

_NUMA_CHOICES = [
    ('required', 'the GPU must be on a NUMA node of the instance'),
    ('legacy', 'like required, unless the GPU reports no NUMA node'),
    ('preferred', 'a local GPU if there is one, any otherwise'),
    ('socket', 'a GPU on the socket of one of the instance NUMA nodes'),
]

MODEL_OPTS = [
    cfg.StrOpt('vendor_id', help="""
PCI vendor id of the GPU. Required.

Possible values:

* 4 hex digits as ``lspci -nn`` prints them, e.g. ``10de`` (NVIDIA).

Related options:

* ``product_id``; ``nova-gpu-ext discover`` prints both for a host.
"""),
    cfg.StrOpt('product_id', help="""
PCI product id of the GPU. Required.

One model per vendor:product: two sections with the same ids are refused.

Possible values:

* 4 hex digits, e.g. ``11b4`` (Quadro K4200).
"""),
    cfg.StrOpt(
        'device_type',
        default='type-PCI',
        choices=[('type-PCI', 'a plain PCI device'),
                 ('type-PF', 'an SR-IOV capable card (A100, H100, L40S, '
                             'A40, T4...), which nova reports as a PF')],
        help="""
How nova reports the GPU.

SR-IOV capable GPUs are type-PF even when no VF is enabled, and an alias of
another type silently matches nothing ("No valid host").

Related options:

* ``[gpu_class:NAME] models``: the models of a class share one type.
"""),
    cfg.ListOpt('companions', default=[], help="""
Other functions of the same card, bound to vfio-pci on the host.

The HDMI audio (or USB) function of a GPU shares its IOMMU group, so VFIO
needs it detached from its host driver too. They are not passed through.

Possible values:

* ``vendor:product`` entries, e.g. ``10de:0e0a``; not the GPU's own ids.

Related options:

* ``nova-gpu-ext genconf --role host`` writes them into ``vfio-pci.ids``.
"""),
    cfg.ListOpt('addresses', default=[], help="""
Only the GPUs of this model at these PCI addresses.

Useful to keep one card of a model for the host. Each entry becomes its own
device_spec line.

Possible values:

* Empty (default): every GPU of this model.
* nova address globs ``[[[[domain]:]bus]:][slot][.[function]]``, e.g.
  ``0000:81:*.*``.
"""),
    cfg.StrOpt('numa_policy', choices=_NUMA_CHOICES, help="""
NUMA affinity of the GPU to the instance (the alias ``numa_policy``).

Unset: not emitted, nova's default (legacy) applies. Flavors may override
it with ``hw:pci_numa_affinity_policy``. ``socket`` needs nova Wallaby.

Related options:

* ``[nova_gpu_ext] numa_default`` and the flavor's ``gpu:numa``: locality
  of the GPUs of one request to each other, not to the instance.
"""),
    cfg.StrOpt('alias', help="""
Alias name flavors use: ``pci_passthrough:alias=NAME:COUNT``.

Possible values:

* Unset: the model name.
* A name without ``:`` or ``,`` (nova splits the flavor value on them),
  unique across models and classes.
"""),
    cfg.StrOpt('resource_class', help="""
Placement resource class of the GPUs, in placement mode.

Possible values:

* Unset: ``CUSTOM_GPU_<NAME>``.
* A name of A-Z, 0-9 and ``_``.

Related options:

* A model in a class uses ``[gpu_class:NAME] resource_class`` instead.
* ``nova-gpu-ext genconf --placement``.
"""),
    cfg.ListOpt('traits', default=[], help="""
Custom traits of the GPU resource providers, in placement mode.

The model's own alias requires them; nova adds the ``CUSTOM_`` prefix.

Possible values:

* Names of A-Z, 0-9 and ``_``, e.g. ``NVLINK``.
"""),
    cfg.BoolOpt('managed', help="""
The device_spec ``managed`` tag: whether libvirt detaches the GPU from its
host driver itself.

Possible values:

* Unset: not emitted (libvirt manages the device).
* False: the host binds it to vfio-pci itself (``genconf --role host``).
  Needs nova 2025.1.
"""),
    cfg.BoolOpt('live_migratable', help="""
``live_migratable`` on the device_spec and the alias.

Possible values:

* Unset: not emitted (no live migration of instances with this GPU).
* True / False: needs nova 2025.1.
"""),
    cfg.StrOpt('description', default='', help="""
Free text about the model, e.g. its marketing name.

Written as a comment by genconf and used by the flavor tools.
"""),
    cfg.IntOpt('bar_bytes', min=0, help="""
Total size in bytes of one GPU's 64-bit prefetchable memory BARs.

The guest firmware maps these above the guest's RAM, so a VM with many
GPUs and much RAM needs a larger guest physical address space
(``hw:maxphysaddr_bits``). ``nova-gpu-ext discover --ini`` writes it from
the GPU's sysfs ``resource`` file; 32-bit BARs (below 4 GiB) and SR-IOV VF
BARs are not counted.

Possible values:

* Unset (default): unknown; ``lint-flavors`` reports the model's flavors
  as unchecked.
* Bytes, e.g. ``137472507904`` (128 GiB + 32 MiB: an H100 PCIe's BAR1
  and BAR3).

Related options:

* ``nova-gpu-ext lint-flavors``; ``flavor sync`` sets
  ``hw:maxphysaddr_mode`` and ``hw:maxphysaddr_bits`` on the flavors that
  need them.
"""),
]

CLASS_OPTS = [
    cfg.ListOpt('models', default=[], help="""
Models this class accepts. Required.

Possible values:

* Names from ``[nova_gpu_ext] gpu_models`` of one ``device_type``; in
  placement mode a model can be in one class only.
"""),
    cfg.StrOpt('alias', help="""
Alias name of the class: ``pci_passthrough:alias=NAME:COUNT``.

In legacy mode the alias has one spec per model; in placement mode one
spec with the class resource class.

Possible values:

* Unset: the class name.
* A name without ``:`` or ``,``, unique across models and classes.
"""),
    cfg.StrOpt('resource_class', help="""
Resource class shared by the class's models, in placement mode.

Possible values:

* Unset: ``CUSTOM_GPU_<NAME>``.
* A name of A-Z, 0-9 and ``_``.
"""),
    cfg.StrOpt('numa_policy', choices=_NUMA_CHOICES, help="""
The alias ``numa_policy`` of the class.

Unset: not emitted, nova's default (legacy) applies.
"""),
    cfg.StrOpt('description', default='', help="""
Free text about the class, used by the flavor tools.
"""),
]


# Shared by [gpu:NAME] and [gpu_class:NAME]: each gets its own flavors.
FLAVOR_OPTS = [
    cfg.ListOpt(
        'flavor_counts', item_type=cfg.types.Integer(min=1), default=[],
        help="""
GPU counts of the flavors ``nova-gpu-ext flavor sync`` keeps for this
model or class.

One flavor ``gpu.<NAME>.x<COUNT>`` per count, with
``pci_passthrough:alias=<alias>:<COUNT>``. Flavors are what users see, so
none are made unless listed here.

Possible values:

* Empty (default): no flavors.
* Positive integers, e.g. ``1, 2, 4, 8``.

Related options:

* ``flavor_vcpus_per_gpu``, ``flavor_ram_mb_per_gpu``, ``flavor_disk_gb``,
  ``flavor_ephemeral_gb_per_gpu``: the size of each flavor.
"""),
    cfg.IntOpt('flavor_vcpus_per_gpu', min=1,
               default=VCPUS_PER_GPU, help="""
vCPUs of a flavor per GPU: ``gpu.NAME.x4`` gets four times this.

Possible values:

* A positive integer.

Related options:

* ``flavor_counts``.
"""),
    cfg.IntOpt('flavor_ram_mb_per_gpu', min=1,
               default=RAM_MB_PER_GPU, help="""
RAM in MiB of a flavor per GPU: ``gpu.NAME.x4`` gets four times this.

Possible values:

* A positive integer.

Related options:

* ``flavor_counts``.
"""),
    cfg.IntOpt('flavor_disk_gb', min=0, default=DISK_GB, help="""
Root disk in GiB of every flavor of this model or class.

The same for every count: the root disk holds the operating system.

Possible values:

* 0: the size of the image (volume-backed servers use 0).
* A positive integer.
"""),
    cfg.IntOpt('flavor_ephemeral_gb_per_gpu', min=0,
               default=EPHEMERAL_GB_PER_GPU, help="""
Ephemeral disk in GiB of a flavor per GPU, on the compute host's local
disk.

Windows VDI guests stutter on slow shared storage; a local ephemeral disk
on SSD/NVMe is the known remedy, and data sets of GPU jobs grow with the
GPU count.

Possible values:

* 0 (default): no ephemeral disk.
* A positive integer.

Related options:

* nova ``[DEFAULT] default_ephemeral_format`` on the computes.
"""),
    cfg.BoolOpt('flavor_hide_hypervisor_id',
                default=False, help="""
Set ``hw:hide_hypervisor_id=true`` on the flavors.

Consumer NVIDIA (GeForce) drivers before R465 refuse to start (error 43)
when they see a hypervisor; data-center GPUs do not need it.

Possible values:

* False (default): the spec is not set.
* True: the hypervisor signature is hidden from the guest.
"""),
    cfg.StrOpt(
        'flavor_gpu_numa',
        choices=[(models.NumaMode.ANY.value, 'no NUMA preference'),
                 (models.NumaMode.PREFER.value,
                  'one NUMA node unless no host can keep it on one'),
                 (models.NumaMode.SINGLE.value, 'one NUMA node or no host')],
        help="""
Set ``gpu:numa`` on the flavors: NUMA locality of the GPUs of one server.

Possible values:

* Unset (default): not set, ``[nova_gpu_ext] numa_default`` applies.
* ``any``, ``prefer``, ``single`` (all GPUs of a server on one host NUMA
  node).
"""),
    cfg.StrOpt(
        'flavor_gpu_switch',
        choices=[(models.SwitchMode.ANY.value, 'no PCIe switch preference'),
                 (models.SwitchMode.PREFER.value,
                  'below one PCIe switch unless no host can keep it so'),
                 (models.SwitchMode.SINGLE.value,
                  'below one PCIe switch or no host')],
        help="""
Set ``gpu:switch`` on the flavors: the GPUs of one server below one PCIe
switch, so that their peer-to-peer traffic stays in the switch.

Possible values:

* Unset (default): not set, ``[nova_gpu_ext] switch_default`` applies.
* ``any``, ``prefer``, ``single`` (all GPUs of a server below one switch,
  as the ``pcie_switch`` tags of ``[pci] device_spec`` say).

Related options:

* ``flavor_gpu_numa``: a switch sits below one NUMA node, so ``single``
  here keeps the GPUs on one node too.
"""),
]


def register_opts(conf):
    """Register the ``[nova_gpu_ext]`` catalog options on ``conf``."""
    conf.register_group(GROUP)
    conf.register_opts(CATALOG_OPTS, group=GROUP)


def list_opts():
    return {GROUP: CATALOG_OPTS, MODEL_GROUP: MODEL_OPTS + FLAVOR_OPTS,
            CLASS_GROUP: CLASS_OPTS + FLAVOR_OPTS}
