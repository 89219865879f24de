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

"""``nova-gpu-ext genconf``: the GPU catalog rendered for one role.

Writes only once everything rendered, so a bad catalog or a release that
lacks a feature leaves nothing half-written in a file the operator
redirected to. With ``--topology`` it reads the compute host it renders
for (through :mod:`nova_gpu_ext.host`) and hands its GPUs to the renderer
as plain data.
"""

from nova_gpu_ext.admin import host_gpus
from nova_gpu_ext.admin import render
from nova_gpu_ext.cmd import base
from nova_gpu_ext import exception
from nova_gpu_ext.host import sysfs
from nova_gpu_ext.host import topology


class Genconf(base.Command):
    """Render the GPU catalog into nova.conf lines or host settings.

    The lines of one role (compute, controller, scheduler, or all-in-one
    for a node running all of them) with the option
    names of its nova release, or the kernel and module settings of a
    compute host (host role). Text to paste or redirect into a file.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(
            parser, required=True,
            help_text='GPU catalog ([nova_gpu_ext] gpu_models and '
                      '[gpu:NAME] sections)')
        parser.add_argument(
            '--role', required=True, choices=render.ROLES,
            help='compute: nova-compute; controller: nova-api and '
                 'nova-conductor; scheduler: nova-scheduler; all-in-one: '
                 'one node running all of them; host: kernel and module '
                 'settings of a compute host')
        base.add_nova_release(
            parser, 'nova release of that node; option names and '
                    'features follow it')
        parser.add_argument(
            '--placement', action='store_true',
            help='PCI in placement: resource classes per GPU model, '
                 'report_in_placement and pci_in_placement (2023.1 and '
                 'later)')
        parser.add_argument(
            '--iommu', choices=render.IOMMU_VENDORS, default='intel',
            help='CPU vendor of the host, for the kernel IOMMU switch '
                 '(host role; default intel)')
        add_topology(parser, 'compute role: read this host (--root) and '
                             'give each GPU behind a PCIe switch a '
                             'device_spec entry of its own with the '
                             'pcie_switch tag')
        return parser

    def take_action(self, parsed_args):
        root = topology_root(parsed_args)
        host = None
        if root is not None:
            if parsed_args.role != 'compute':
                raise exception.BadInput(
                    f'--topology: only the compute role has device_spec '
                    f'entries, not the {parsed_args.role} role; use --role '
                    'compute or drop --topology')
            host = read_gpus(root, self.say)
        self.write(generate(parsed_args, host))


def add_topology(parser, help_text: str) -> None:
    """``--topology`` and the ``--root`` it reads (refused without it).

    Explicit, because the same commands also run on an admin workstation,
    whose own /sys says nothing about the compute hosts.
    """
    parser.add_argument('--topology', action='store_true', help=help_text)
    base.add_root(parser, 'host root holding sys/, read with --topology')
    parser.set_defaults(root=None)


def topology_root(args) -> str | None:
    """The root to read the host under; None without ``--topology``."""
    if not args.topology:
        if args.root is not None:
            raise exception.BadInput(
                f'--root {args.root}: the host is read only with '
                '--topology; add --topology or drop --root')
        return None
    return args.root or '/'


def read_gpus(root: str, say) -> list[host_gpus.HostGpu]:
    """The host's GPUs with their switches; warnings through ``say``."""
    facts = sysfs.read_host(root)
    for problem in facts.problems:
        say(f'WARNING: {problem}; the PCIe switch of a GPU may be unknown')
    gpus = []
    for gpu in facts.gpus:
        path = topology.pcie_path(facts, gpu)
        if path.unknown is not None:
            say(f'WARNING: PCIe path of GPU {gpu.address} unknown '
                f'({path.unknown} above it could not be read or is not a '
                'PCI bridge): its PCIe switch is unknown')
        gpus.append(host_gpus.HostGpu(
            gpu.address, gpu.vendor_id, gpu.product_id, path.pcie_switch,
            path_known=path.unknown is None))
    return gpus


def generate(args, host=None) -> str:
    """The whole output text; BadInput on any bad input.

    ``host``: the GPUs of the host, read with ``--topology``.
    """
    gpu_catalog = base.load_catalog(args.catalogs, required=True)
    release = base.nova_release(args.nova_release)
    if args.role == 'host':
        return render.format_host_files(
            render.host_files(gpu_catalog, args.iommu),
            _header(args, 'a compute host (vfio-pci)'))
    lines = render.nova_conf(gpu_catalog, args.role, release,
                             args.placement, host)
    mode = 'placement' if args.placement else 'legacy'
    where = '' if host is None else (
        f', {host_gpus.PCIE_SWITCH_TAG} tags of the GPUs under '
        f'{args.root or "/"}')
    return render.format_nova_conf(
        lines, _header(args, f'nova.conf of the {args.role} role, nova '
                             f'{release.name}, {mode} PCI mode{where}'))


def _header(args, what: str) -> str:
    return (f'{what}; generated by nova-gpu-ext genconf from '
            f'{", ".join(args.catalogs)}')
