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

"""``tools/devcloud`` subcommands (run by the wrapper in the venv)."""

import argparse
import sys

import check
import cloud
import load
import services


def main(argv=None):
    parser = argparse.ArgumentParser(prog='tools/devcloud')
    sub = parser.add_subparsers(dest='command', required=True)
    up = sub.add_parser('up', help='start the cloud')
    up.add_argument('--placement', action='store_true',
                    help='PCI in placement ([pci] report_in_placement, '
                    '[filter_scheduler] pci_in_placement)')
    sub.add_parser('down', help='stop what up started')
    sched = sub.add_parser('scheduler', help='reconfigure and restart '
                           'nova-scheduler')
    sched.add_argument('engine', choices=('ours', 'in-tree'))
    sub.add_parser('check', help='the fleet commands against the cloud, '
                   'then delete every server; last line JSON')
    compare = sub.add_parser('compare', help='ours against in-tree: two '
                             'load JSON files')
    compare.add_argument('ours')
    compare.add_argument('in_tree')
    load.add_arguments(sub.add_parser('load', help='boot and delete '
                                      'servers; last line JSON'))
    args = parser.parse_args(argv)
    try:
        if args.command == 'up':
            services.up(args.placement)
            print(f'devcloud: up; nova-api {cloud.NOVA_URL} (test token '
                  f'admin:admin), logs in {cloud.path("logs")}',
                  file=sys.stderr)
        elif args.command == 'down':
            services.down()
        elif args.command == 'scheduler':
            services.switch_scheduler(args.engine)
        elif args.command == 'load':
            return load.run(args)
        elif args.command == 'check':
            return check.run()
        elif args.command == 'compare':
            return load.compare(args.ours, args.in_tree)
    except cloud.StartFailed as exc:
        print(f'devcloud: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
