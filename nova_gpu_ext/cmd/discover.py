"""``nova-gpu-ext discover``: the host's GPUs as a ready catalog section."""

import json

from nova_gpu_ext.cmd import main
from nova_gpu_ext.gpu import discovery
from nova_gpu_ext.gpu import sysfs


def add_arguments(parser):
    parser.add_argument(
        '--root', default='/', metavar='DIR',
        help='host root holding sys/ (default /); a copied tree works too')
    parser.add_argument(
        '--format', choices=('ini', 'json'), default='ini',
        help='ini: catalog sections to paste into the catalog file; '
             'json: the same plus addresses, NUMA and IOMMU details')


def run(args) -> int:
    facts = read_host(args.root)
    models = discovery.found_models(facts)
    if args.format == 'json':
        print(json.dumps(discovery.as_dict(facts, models), indent=2))
    else:
        print(discovery.render_ini(facts, models), end='')
    return 0


def read_host(root: str) -> sysfs.HostFacts:
    """Host facts, or a usage error naming the unreadable root."""
    try:
        return sysfs.read_host(root)
    except sysfs.HostReadError as exc:
        raise main.UsageError(str(exc)) from exc
