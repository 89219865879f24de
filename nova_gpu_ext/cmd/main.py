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

"""``nova-gpu-ext``: one console script, one module per sub-command.

Each sub-command module has ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; modules are imported only when their command
runs, so ``--help`` works without nova or openstacksdk installed.
"""

import argparse
import importlib
import sys

# Sub-command name -> (module, one-line help).
COMMANDS = {
    'demo': ('nova_gpu_ext.cmd.demo',
             'boot GPU servers in a small in-process nova cloud, with nova '
             'in-tree scheduling and with nova_gpu_ext, and print where '
             'they land and which GPUs they got'),
    'discover': ('nova_gpu_ext.cmd.discover',
                 'read sysfs and print the GPUs found as a ready catalog '
                 'section'),
    'check-host': ('nova_gpu_ext.cmd.check_host',
                   'read-only GPU passthrough readiness checks of this '
                   'host, with remedies'),
    'genconf': ('nova_gpu_ext.cmd.genconf',
                'render the GPU catalog into nova.conf lines for a role and '
                'nova release, or into vfio host settings'),
    'lint-conf': ('nova_gpu_ext.cmd.lint_conf',
                  'find PCI passthrough mistakes in existing nova.conf '
                  'files, each with its fix'),
    'pci-audit': ('nova_gpu_ext.cmd.pci_audit',
                  'find stale pci_devices rows in the nova cell databases '
                  'and, with --apply, free them after a backup'),
    'flavors': ('nova_gpu_ext.cmd.flavors',
                'keep the GPU flavors of the catalog in nova (openstacksdk)'),
    'capacity': ('nova_gpu_ext.cmd.capacity',
                 'free GPUs per host and model, and how many N-GPU servers '
                 'still fit, from placement (openstacksdk)'),
}


class UsageError(Exception):
    """Bad input: the message names what is wrong and how to fix it."""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return importlib.import_module(args.module).run(args)
    except UsageError as exc:
        print(f'nova-gpu-ext {args.command}: error: {exc}', file=sys.stderr)
        return 2


def build_parser(argv):
    """The parser with the arguments of the chosen sub-command only."""
    parser = argparse.ArgumentParser(
        prog='nova-gpu-ext',
        description='GPU passthrough tooling for OpenStack Nova.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    subparsers.required = True
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text,
                                    description=help_text)
        sub.set_defaults(module=module)
        if argv and argv[0] == name:
            importlib.import_module(module).add_arguments(sub)
    return parser


if __name__ == '__main__':
    # Run the imported module's main so that sub-commands raising
    # nova_gpu_ext.cmd.main.UsageError are caught by the same class.
    from nova_gpu_ext.cmd import main as cli
    sys.exit(cli.main())
