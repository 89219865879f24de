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

"""``python -m benchmarks``: cost and packing against nova's in-tree code,
and the fleet commands on a large cell database.

Prints the cost of GpuPassthroughFilter + GpuWeigher next to nova's own
PciPassthroughFilter + PCIWeigher per scheduling request, how both grow
with hosts and allocation candidates, the packing of a churning request
stream at set loads next to the limit without host boundaries, then the
targets of the benchmark and whether each holds.
"""

import argparse
import datetime
import importlib.metadata
import os
import platform
import sys
import warnings

COST_SIZES = (1000, 10000)
MAX_RESULTS = (1000, 10000)
LOADS = (0.8, 1.0, 1.2)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m benchmarks',
                                     description=__doc__)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--cost-hosts', type=int, nargs='+',
                        default=list(COST_SIZES),
                        help='fleet sizes of the cost benchmark')
    parser.add_argument('--max-results', type=int, nargs='+',
                        default=list(MAX_RESULTS),
                        help='[scheduler] max_placement_results of the '
                             'placement-mode cost cases')
    parser.add_argument('--repetitions', type=int, default=5,
                        help='timed runs per figure below 10,000 hosts')
    parser.add_argument('--large-repetitions', type=int, default=3,
                        help='timed runs per figure from 10,000 hosts')
    parser.add_argument('--loads', type=float, nargs='+',
                        default=list(LOADS),
                        help='offered loads (GPU demand / capacity) of the '
                             'packing benchmark')
    parser.add_argument('--packing-requests', type=int, default=2000,
                        help='requests per packing run, warm-up included')
    parser.add_argument('--packing-seeds', type=int, default=3,
                        help='packing runs per load (seeds from --seed)')
    parser.add_argument('--packing-modes', nargs='+',
                        default=['legacy', 'placement'],
                        choices=['legacy', 'placement'])
    parser.add_argument('--fleet-hosts', type=int, default=10000,
                        help='hosts of the cell database the fleet commands '
                             'read (0: skip the fleet benchmark)')
    parser.add_argument('--placement-hosts', type=int, default=100,
                        help='hosts of the Placement the fleet snapshot '
                             'reads')
    parser.add_argument('--placement-latency', type=float, default=0.005,
                        help='seconds Placement takes per answer')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # nova's import prints eventlet's deprecation notice: noise here.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    from benchmarks import report

    print(f'nova_gpu_ext benchmarks, {datetime.date.today()}, '
          f'{os.cpu_count()} CPU(s), Python {platform.python_version()}, '
          f'nova {importlib.metadata.version("nova")}, seed {args.seed}')
    lines, targets = report.collect(args)
    print('\n'.join(str(line) for line in lines))
    print()
    print('Targets (nova_gpu_ext against nova in-tree):')
    for line in targets:
        print(f'  {line}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
