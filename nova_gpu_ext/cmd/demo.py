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

The default engine boots a small nova cloud in this process (real nova
services and Placement, fake GPU hosts; see
:mod:`nova_gpu_ext.harness.cloud`) once with nova's in-tree PCI scheduling
and once with nova_gpu_ext, and prints where every server landed and which
GPUs it got. ``--engine objects`` runs the same stream through nova's
filter and weigher handlers on HostState objects only: no services, a
second instead of half a minute.
"""

import logging
import sys
import warnings

from nova_gpu_ext.cmd import base
from nova_gpu_ext import exception
from nova_gpu_ext.harness import scenario

LABELS = {False: 'nova in-tree', True: 'nova_gpu_ext'}


class Demo(base.Command):
    """Boot GPU servers in a small in-process nova cloud, twice.

    Once with nova's in-tree scheduling and once with nova_gpu_ext, and
    print where they land and which GPUs they got.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_arguments(parser)
        return parser

    def take_action(self, parsed_args):
        return run(parsed_args, self.app.stdout, self.app.stderr)


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


def run(args, stdout, stderr):
    # nova's import prints eventlet's deprecation notice: noise here.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    if args.placement and args.engine != 'cloud':
        raise exception.BadInput('--placement needs --engine cloud')
    from nova_gpu_ext import conf
    conf.CONF.set_override('weigher_policy', args.policy, 'nova_gpu_ext')
    engine = _cloud_engine(args) if args.engine == 'cloud' else _objects
    stdout.write(f'Fleet: {", ".join(name for name, _ in scenario.FLEET)}; '
                 f'{"placement" if args.placement else "legacy"} PCI mode, '
                 f'weigher policy {args.policy}\n\n')
    try:
        runs = {LABELS[ours]: engine(ours) for ours in (False, True)}
    except RuntimeError as exc:
        # The cloud engine's DemoError carries nova's traceback: the why.
        stderr.write(f'nova-gpu-ext demo: the in-process cloud failed:\n'
                     f'{exc}\n')
        return exception.EXIT_FINDINGS
    stdout.write(scenario.table(runs) + '\n')
    return exception.EXIT_OK


def _cloud_engine(args):
    try:
        from nova_gpu_ext.harness import cloud
    except ImportError as exc:
        raise exception.BadInput(
            f'the cloud engine needs nova\'s test fixtures ({exc}): install '
            f'"nova_gpu_ext[demo]", run tools/demo, or use --engine '
            f'objects') from exc
    # nova's test set-up logs INFO to stdout through the root logger; the
    # demo's stdout is the table, so nova gets stderr, warnings and up.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)
            handler.setLevel(logging.WARNING)
    return lambda ours: cloud.run_stream(ours, placement=args.placement)


def _objects(ours):
    from nova.scheduler.filters import pci_passthrough_filter
    from nova.scheduler.weights import pci

    from nova_gpu_ext.harness import sim
    from nova_gpu_ext.scheduler.filters import gpu_passthrough
    from nova_gpu_ext.scheduler.weights import gpu

    filters = [pci_passthrough_filter.PciPassthroughFilter]
    weighers = [pci.PCIWeigher]
    if ours:
        filters.append(gpu_passthrough.GpuPassthroughFilter)
        weighers = [gpu.GpuWeigher]
    scheduler = sim.Scheduler(filters, weighers)
    hosts = [sim.Host(name, [sim.Gpu(m.key, numa) for m, numa in gpus])
             for name, gpus in scenario.FLEET]
    aliases = {name: sim.Alias(name, tuple(m.key for m in members))
               for name, members in scenario.ALIASES.items()}
    outcomes = []
    for flavor, items, extra_specs in scenario.STREAM:
        requests = [(aliases[a], int(n)) for a, n in
                    (item.split(':') for item in items.split(',') if item)]
        placed = scheduler.place(hosts, sim.request_spec(requests,
                                                         extra_specs))
        outcomes.append(scenario.Outcome(
            flavor, placed.host.name if placed.host else None,
            tuple((scenario.name_of(sim.models.model_of(p)), p['numa_node'])
                  for p in placed.taken)))
    return outcomes
