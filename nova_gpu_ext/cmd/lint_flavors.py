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

"""``nova-gpu-ext lint-flavors``: GPU flavors and images for large VMs.

The catalog's flavors (what ``flavor sync`` makes) or, with ``--cloud``,
the cloud's flavors and images; read-only either way.
"""

import dataclasses
import shlex

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin.cloud import flavors as cloud_flavors
from nova_gpu_ext.admin.cloud import images
from nova_gpu_ext.admin import flavors
from nova_gpu_ext.admin import large_vms
from nova_gpu_ext.cmd import base
from nova_gpu_ext.common import catalog
from nova_gpu_ext import exception


class LintFlavors(base.Lister):
    """Check GPU flavors (and images) against what large VMs need.

    For each GPU flavor: its RAM plus its GPUs' 64-bit BARs (bar_bytes of
    the catalog) against the guest physical address space its
    hw:maxphysaddr_* give (or QEMU's default), and bits no higher than
    the hosts'; with --cloud, also q35 and UEFI on the images. Each
    finding has the openstack command line that fixes it; exit status 1
    when there are findings.
    """

    COLUMNS = ('flavor', 'image', 'finding', 'problem', 'fix')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(parser, required=True,
                         help_text='GPU catalog with the bar_bytes of its '
                                   'models (and the flavors to check)')
        parser.add_argument(
            '--cloud', action='store_true',
            help='check the cloud\'s flavors and images (--os-cloud) '
                 'instead of the catalog\'s flavors')
        parser.add_argument(
            '--image', action='append', default=[], metavar='IMAGE',
            dest='images',
            help='with --cloud, an image GPU flavors boot (name or id); '
                 'repeat for several (default: every image)')
        parser.add_argument(
            '--host-phys-bits', type=int, metavar='BITS',
            help='physical address bits of the GPU hosts\' CPUs, the '
                 'smallest of them (check-host prints it)')
        parser.add_argument(
            '--cpu-mode', choices=large_vms.CPU_MODES, default='host-model',
            help='[libvirt] cpu_mode of the GPU hosts: host-passthrough '
                 'guests get the host\'s address bits, the others 40 '
                 '(default host-model, nova\'s default)')
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=True)
        hosts = large_vms.Hosts(parsed_args.cpu_mode,
                                _bits(parsed_args.host_phys_bits))
        found = []
        for flavor in self._flavors(parsed_args, gpu_catalog):
            found += large_vms.check_flavor(flavor, gpu_catalog, hosts)
        if parsed_args.cloud:
            found += self._images(parsed_args.images)
        elif parsed_args.images:
            raise exception.BadInput('--image needs --cloud: the catalog '
                                     'names no images')
        self.say(f'{len(found)} finding(s)')
        self.exit_status = (exception.EXIT_FINDINGS if found
                            else exception.EXIT_OK)
        return self.COLUMNS, [(f.flavor, f.image, f.code, f.problem, f.fix)
                              for f in found]

    def _flavors(self, args, gpu_catalog) -> list[flavors.Flavor]:
        if args.cloud:
            conn = connect.opened(self.app.client_manager)
            with connect.errors(conn):
                found = cloud_flavors.existing(conn)
        else:
            try:
                found = flavors.desired(gpu_catalog)
            except catalog.CatalogError as exc:
                raise exception.BadInput(f'bad catalog: {exc}') from exc
        return [_quoted(f) for f in found]

    def _images(self, names) -> list[large_vms.Finding]:
        conn = connect.opened(self.app.client_manager)
        with connect.errors(conn):
            found = images.properties(conn, names)
        return [f for name, props in found
                for f in large_vms.check_image(shlex.quote(name), props)]


def _quoted(flavor: flavors.Flavor) -> flavors.Flavor:
    """The flavor named as a shell word: the fix lines paste as they are."""
    return dataclasses.replace(flavor, name=shlex.quote(flavor.name))


def _bits(bits: int | None) -> int | None:
    if bits is not None and not 1 <= bits <= 64:
        raise exception.BadInput(
            f'--host-phys-bits {bits}: give the CPU\'s physical address '
            'bits, 1 to 64 ("address sizes" in /proc/cpuinfo)')
    return bits
