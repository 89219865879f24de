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

"""``nova-gpu-ext lint-conf``: PCI passthrough mistakes in nova.conf files."""

from nova_gpu_ext.admin import lint
from nova_gpu_ext.cmd import base
from nova_gpu_ext.cmd import genconf
from nova_gpu_ext import exception


class LintConf(base.Lister):
    """Find PCI passthrough mistakes in nova.conf files, each with its fix.

    Give all files of one node together (nova.conf and the files of
    nova.conf.d), so aliases are checked against its device_spec. Exit
    status 1 when there are findings.
    """

    COLUMNS = ('file', 'section', 'option', 'value', 'finding', 'problem',
               'fix')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_nova_conf(parser, required=True,
                           help_text='nova.conf file of the node to check')
        base.add_nova_release(
            parser, 'nova release of that node; option names are '
                    'deprecated relative to it')
        genconf.add_topology(
            parser, 'compare the pcie_switch tags of the device_spec '
                    'entries with the PCIe switches this host (--root) '
                    'shows; for the files of this compute host')
        return parser

    def take_action(self, parsed_args):
        release = base.nova_release(parsed_args.nova_release)
        root = genconf.topology_root(parsed_args)
        entries = [e for path in parsed_args.nova_confs
                   for e in lint.read_entries(path)]
        findings = lint.check(entries, release)
        if root is not None:
            findings += lint.check_topology(
                entries, genconf.read_gpus(root, self.say))
        self.say(f'{len(findings)} finding(s) in '
                 f'{", ".join(parsed_args.nova_confs)}')
        self.exit_status = (exception.EXIT_FINDINGS if findings
                            else exception.EXIT_OK)
        return self.COLUMNS, [
            (f.entry.path, f.entry.section, f.entry.option, f.entry.value,
             f.code, f.problem, f.fix) for f in findings]
