"""``nova-gpu-ext demo``: the same server stream under two schedulers.

Runs on real nova objects and nova's own filter and weigher handlers (no
services, no database): nova's in-tree PciPassthroughFilter + PCIWeigher
against nova_gpu_ext's GpuPassthroughFilter + GpuWeigher, legacy mode.
"""

import warnings

from nova_gpu_ext.gpu import models

K4200 = models.ModelKey('10de', '11b4')
V100 = models.ModelKey('10de', '1db4')
A100 = models.ModelKey('10de', '20b0')
NAMES = {K4200: 'K4200', V100: 'V100', A100: 'A100'}


def add_arguments(parser):
    parser.add_argument(
        '--policy', choices=('pack', 'spread'), default='pack',
        help='[nova_gpu_ext] weigher_policy for the nova_gpu_ext run '
             '(default: %(default)s)')


def fleet(sim):
    """Four 4-GPU hosts and one without GPUs.

    NUMA node 0 is on the lower PCI buses and the pools are in PCI address
    order, as on a compute.
    """
    g = sim.Gpu
    return [
        sim.Host('gpu-mixed', [g(K4200, 0), g(V100, 0), g(K4200, 1),
                               g(V100, 1)]),
        sim.Host('gpu-k4200', [g(K4200, 0), g(K4200, 0), g(K4200, 1),
                               g(K4200, 1)]),
        sim.Host('gpu-v100', [g(V100, 0), g(V100, 0), g(V100, 1),
                              g(V100, 1)]),
        sim.Host('gpu-a100', [g(A100, 0, 'type-PF'), g(A100, 1, 'type-PF'),
                              g(A100, 1, 'type-PF'), g(A100, 1, 'type-PF')]),
        sim.Host('cpu-only', []),
    ]


def stream(sim):
    gpu = sim.Alias('gpu', (K4200, V100))
    k4200 = sim.Alias('k4200', (K4200,))
    v100 = sim.Alias('v100', (V100,))
    a100 = sim.Alias('a100', (A100,), 'type-PF')
    single = {'gpu:numa': 'single'}
    return [
        ('gpu.x2', [(gpu, 2)], {}),
        ('gpu.x1', [(gpu, 1)], {}),
        ('k4200.x2.numa', [(k4200, 2)], single),
        ('a100.x1', [(a100, 1)], {}),
        ('gpu.x2', [(gpu, 2)], {}),
        ('v100.x1', [(v100, 1)], {}),
        ('cpu.small', [], {}),
        ('a100.x2.numa', [(a100, 2)], single),
        ('gpu.x2', [(gpu, 2)], {}),
        ('gpu.x1', [(gpu, 1)], {}),
        ('gpu.x2', [(gpu, 2)], {}),
    ]


def run_stream(sim, scheduler):
    hosts = fleet(sim)
    rows = []
    for flavor, items, extra_specs in stream(sim):
        placed = scheduler.place(hosts, sim.request_spec(items, extra_specs))
        rows.append((flavor, placed))
    return rows


def describe(placed):
    if placed.host is None:
        return 'NO VALID HOST', '', ''
    gpus = ' + '.join(NAMES[models.model_of(p)] for p in placed.taken)
    nodes = ','.join(str(n) for n in sorted(placed.numa_nodes))
    return placed.host.name, gpus or '-', nodes or '-'


def flags(placed):
    notes = []
    if len(placed.models) > 1:
        notes.append('MIXED MODELS')
    if len(placed.numa_nodes) > 1:
        notes.append('split NUMA')
    if placed.host is None:
        notes.append('refused')
    return ', '.join(notes)


def run(args):
    # nova's import prints eventlet's deprecation notice: noise here.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    from nova.scheduler.filters import pci_passthrough_filter
    from nova.scheduler.weights import pci

    from nova_gpu_ext import conf
    from nova_gpu_ext.demo import sim
    from nova_gpu_ext.scheduler.filters import gpu_passthrough
    from nova_gpu_ext.scheduler.weights import gpu

    conf.CONF.set_override('weigher_policy', args.policy, 'nova_gpu_ext')
    in_tree = sim.Scheduler([pci_passthrough_filter.PciPassthroughFilter],
                            [pci.PCIWeigher])
    ours = sim.Scheduler([pci_passthrough_filter.PciPassthroughFilter,
                          gpu_passthrough.GpuPassthroughFilter],
                         [gpu.GpuWeigher])
    header = ('#', 'flavor', 'scheduler', 'host', 'GPUs', 'NUMA', 'note')
    lines = []
    totals = {}
    for label, scheduler in (('nova in-tree', in_tree),
                             ('nova_gpu_ext', ours)):
        counts = totals.setdefault(label, [0, 0, 0])
        for i, (flavor, placed) in enumerate(run_stream(sim, scheduler), 1):
            note = flags(placed)
            counts[0] += 'MIXED' in note
            counts[1] += 'split' in note
            counts[2] += placed.host is None
            lines.append((str(i), flavor, label, *describe(placed), note))
    lines.sort(key=lambda row: int(row[0]))
    widths = [max(len(row[c]) for row in [header] + lines)
              for c in range(len(header))]
    for row in [header] + lines:
        print('  '.join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    print()
    for label, (mixed, split, refused) in totals.items():
        print(f'{label:13} mixed-model servers: {mixed}  NUMA-split: '
              f'{split}  refused: {refused}')
    return 0
