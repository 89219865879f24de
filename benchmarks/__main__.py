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

"""``python -m benchmarks``: cost and packing against nova's in-tree code.

Prints one table, each figure of nova_gpu_ext next to nova's own
PciPassthroughFilter + PCIWeigher on the same hosts and requests, then the
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


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m benchmarks',
                                     description=__doc__)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--cost-hosts', type=int, nargs='+',
                        default=list(COST_SIZES),
                        help='fleet sizes of the cost benchmark')
    parser.add_argument('--repetitions', type=int, default=5,
                        help='timed runs per figure below 10,000 hosts')
    parser.add_argument('--large-repetitions', type=int, default=3,
                        help='timed runs per figure from 10,000 hosts')
    parser.add_argument('--packing-hosts', type=int, default=42)
    parser.add_argument('--fill-stop', type=int, default=30,
                        help='the fill run ends after this many refusals '
                             'in a row')
    parser.add_argument('--churn-requests', type=int, default=2000)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # nova's import prints eventlet's deprecation notice: noise here.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    from benchmarks import report

    print(f'nova_gpu_ext benchmarks, {datetime.date.today()}, '
          f'{os.cpu_count()} CPU(s), Python {platform.python_version()}, '
          f'nova {importlib.metadata.version("nova")}, seed {args.seed}')
    rows, targets = report.collect(args)
    print(report.table(rows))
    print()
    print('Targets (nova_gpu_ext pack against nova in-tree):')
    for line in targets:
        print(f'  {line}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
