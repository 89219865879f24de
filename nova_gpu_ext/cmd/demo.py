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

"""``nova-gpu-ext demo``: one server stream under two schedulers.

A thin command over :mod:`nova_gpu_ext.harness.showcase`, which boots
the stream in small in-process nova clouds (or on nova's scheduler
objects only, ``--engine objects``) and prints the report.
"""

import os

from nova_gpu_ext.cmd import base
from nova_gpu_ext import exception
from nova_gpu_ext.harness import runner


def keep(folder: str, engine: str):
    """Have each cloud leave its cell database and catalog in FOLDER."""
    if engine != 'cloud':
        raise exception.BadInput('--keep needs --engine cloud (the objects '
                                 'engine has no database)')
    folder = os.path.abspath(folder)
    if os.path.exists(folder) and os.listdir(folder):
        raise exception.BadInput(f'--keep {folder}: not empty; give a new '
                                 f'or empty directory')
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise exception.BadInput(f'--keep {folder}: cannot create: '
                                 f'{exc.strerror}') from exc
    os.environ[runner.KEEP_ENV] = folder


class Demo(base.Command):
    """Boot GPU servers in small in-process nova clouds, twice.

    Once with nova's in-tree scheduling and once with nova_gpu_ext; print
    the fleet, where each server landed and why refused ones found no
    host, what the users get, and a picture of the GPU slots.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_arguments(parser)
        return parser

    def take_action(self, parsed_args):
        from nova_gpu_ext.harness import showcase
        if parsed_args.keep:
            keep(parsed_args.keep, parsed_args.engine)
        return showcase.run(
            showcase.Options(engine=parsed_args.engine,
                             placement=parsed_args.placement,
                             policy=parsed_args.policy,
                             html=parsed_args.html),
            self.app.stdout, self.app.stderr)


def add_arguments(parser):
    parser.add_argument(
        '--engine', choices=('cloud', 'objects'), default='cloud',
        help='cloud: real nova services in-process (needs the "demo" '
             'extra: nova test fixtures and openstack-placement); objects: '
             'nova scheduler objects only (default: %(default)s)')
    parser.add_argument(
        '--placement', action='store_true',
        help='PCI in placement ([pci] report_in_placement and '
             '[filter_scheduler] pci_in_placement); cloud engine only')
    parser.add_argument(
        '--policy', choices=('pack', 'spread'), default='pack',
        help='[nova_gpu_ext] weigher_policy for the nova_gpu_ext run '
             '(default: %(default)s)')
    parser.add_argument(
        '--keep', metavar='DIR',
        help='leave each run\'s cell database (DIR/<run>/cell1.sqlite) and '
             'the demo\'s GPU catalog (DIR/gpu-catalog.conf) for capacity, '
             'explain, what-if and exporter --connection sqlite:///...')
    parser.add_argument(
        '--html', metavar='FILE',
        help='also write the report as a self-contained HTML page to FILE')
