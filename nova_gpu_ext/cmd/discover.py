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

"""``nova-gpu-ext discover``: the host's GPUs, or a ready catalog of them."""

from nova_gpu_ext.cmd import base
from nova_gpu_ext import exception
from nova_gpu_ext.host import bars
from nova_gpu_ext.host import discovery
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs
from nova_gpu_ext.host import topology


class Discover(base.Lister):
    """List the GPUs of this host as sysfs shows them, one row per GPU.

    Model is the name a catalog would give it; --ini prints the catalog
    sections ([nova_gpu_ext] gpu_models and one [gpu:NAME] per model) to
    paste into the catalog instead.
    """

    COLUMNS = ('address', 'model', 'vendor_id', 'product_id', 'device_type',
               'numa_node', 'iommu_group', 'driver', 'companions', 'label',
               'iommu_group_members', 'card_functions', 'parent',
               'sriov_vfs', 'root_port', 'pcie_switch', 'bar_bytes')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_root(parser, 'host root holding sys/')
        parser.add_argument(
            '--ini', action='store_true',
            help='print catalog sections (INI text) instead of records')
        return parser

    def run(self, parsed_args):
        if not parsed_args.ini:
            return super().run(parsed_args)
        facts = sysfs.read_host(parsed_args.root)
        models = discovery.found_models(facts)
        self._warn(facts, models)
        self.app.stdout.write(discovery.render_ini(facts, models))
        return exception.EXIT_OK

    def take_action(self, parsed_args):
        facts = sysfs.read_host(parsed_args.root)
        models = discovery.found_models(facts)
        self._warn(facts, models)
        return self.COLUMNS, [_row(facts, model, gpu)
                              for model in models for gpu in model.gpus]

    def _warn(self, facts, models):
        """What the operator must see in every output form, on stderr.

        ``--ini`` also writes the problems into an INI comment, which
        ``discover --ini > catalog.conf`` would hide.
        """
        for problem in facts.problems:
            self.say(f'WARNING: {problem}; GPUs may be missing below')
        for gpu in facts.gpus:
            if gpu.boot_vga:
                self.say(f'boot VGA (host console), not listed: '
                         f'{gpu.address} ({gpu.label})')
        if not models:
            self.say(f'no GPU (PCI display class 0x03) found under '
                     f'{facts.root}')


def _row(facts, model, gpu):
    functions = [f for f in hostcheck.card_functions(facts, gpu) if f != gpu]
    path = topology.pcie_path(facts, gpu)
    return (gpu.address, model.name, gpu.vendor_id, gpu.product_id,
            model.device_type, gpu.numa_node, gpu.iommu_group, gpu.driver,
            ', '.join(model.companions), gpu.label,
            ', '.join(m.address for m in facts.group_members(gpu)),
            ', '.join(f'{f.address} {f.ids} ({f.driver or "no driver"})'
                      for f in functions),
            gpu.parent, gpu.sriov_totalvfs, path.root_port, path.pcie_switch,
            bars.read_bar_bytes(facts.root, gpu.address))
