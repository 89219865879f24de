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

"""Each run of the stream in its own Python process, the same every time.

Where equal hosts or equal allocation candidates are concerned, nova and
placement decide by the iteration order of sets: the scheduler's host
states (``HostManager._get_host_states``) and placement's allocation
candidates (``_merge_candidates``) are sets of objects hashed on strings,
and Python salts string hashes per process. No nova.conf option orders
them, so every run gets a process of its own with ``PYTHONHASHSEED``
pinned: the same stream then gives the same table, run after run. The
runs are independent clouds, so they also run in parallel.

The parent imports no nova: ``python -m nova_gpu_ext.harness.runner RUN``
is the child, which boots the stream (:func:`cloud.run_stream`) and
writes one JSON line per server on its standard output; everything nova
prints goes to its standard error, shown only if the run fails.
"""

import dataclasses
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import typing as ty

from nova_gpu_ext import exception
from nova_gpu_ext.harness import scenario

HASH_SEED = '0'
# A run takes 10-20 s on a laptop; a machine ten times slower still
# finishes.
TIMEOUT = 600
# Lines of a failed run's standard error shown: nova's traceback.
ERROR_TAIL = 40
# A folder in this variable (``demo --keep DIR``) gets each run's cell
# database and the demo's catalog (nova_gpu_ext.harness.cloud).
KEEP_ENV = 'NOVA_GPU_EXT_DEMO_KEEP'


class CloudFailed(exception.NovaGpuExtError):
    """An in-process cloud failed; the message holds nova's traceback."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One scheduler's run of the stream."""

    ours: bool
    placement: bool = False
    policy: str = 'pack'

    @property
    def label(self) -> str:
        return 'nova_gpu_ext' if self.ours else 'nova in-tree'


class _Child:
    """One run in its own process, and its temporary files in one folder.

    The cloud is thrown away as soon as the last server has settled: the
    process is stopped rather than left to take its services down, and
    its folder (``TMPDIR``) is removed.
    """

    def __init__(self, run: Run):
        self.run = run
        self.tmp = tempfile.TemporaryDirectory(prefix='nova-gpu-ext-demo-')
        self.stderr = tempfile.TemporaryFile(mode='w+', dir=self.tmp.name)
        self.proc = subprocess.Popen(
            [sys.executable, '-m', __name__,
             json.dumps(dataclasses.asdict(run))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=dict(os.environ, PYTHONHASHSEED=HASH_SEED,
                     TMPDIR=self.tmp.name))
        self.outcomes = []
        self.buffer = b''

    @property
    def done(self) -> bool:
        return len(self.outcomes) == len(scenario.STREAM)

    def read(self) -> bool:
        """Take what the child wrote; False once it has no more to say."""
        data = os.read(self.proc.stdout.fileno(), 65536)
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b'\n')
        self.outcomes.extend(scenario.Outcome.from_json(json.loads(line))
                             for line in lines)
        return bool(data) and not self.done

    def check(self):
        if self.done:
            return
        self.proc.wait()
        self.stderr.seek(0)
        tail = ''.join(self.stderr.readlines()[-ERROR_TAIL:])
        raise CloudFailed(
            f'the in-process cloud of {self.run.label} failed (exit status '
            f'{self.proc.returncode}):\n{tail}')

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        self.tmp.cleanup()


def run(runs: ty.Sequence[Run],
        progress: ty.Callable[[list[int]], None] | None = None,
        timeout: float = TIMEOUT) -> list[list[scenario.Outcome]]:
    """The outcomes of each run, the runs in parallel processes.

    ``progress`` gets the number of servers settled in each run whenever
    one settles.
    """
    children = []
    try:
        for one in runs:
            children.append(_Child(one))
        _collect(children, progress, time.monotonic() + timeout, timeout)
        for child in children:
            child.check()
    finally:
        for child in children:
            child.close()
    return [child.outcomes for child in children]


def _collect(children, progress, deadline, timeout):
    with selectors.DefaultSelector() as selector:
        for child in children:
            selector.register(child.proc.stdout, selectors.EVENT_READ, child)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise exception.Unreachable(
                    f'the in-process clouds did not finish within '
                    f'{timeout} s')
            for key, _ in selector.select(left):
                if not key.data.read():
                    selector.unregister(key.fileobj)
            if progress:
                progress([len(child.outcomes) for child in children])


def _child_main(argv):
    run_ = Run(**json.loads(argv[0]))
    results = os.fdopen(os.dup(1), 'w', buffering=1)
    # nova's services print to stdout too: everything but the results
    # goes to stderr.
    os.dup2(2, 1)
    from nova_gpu_ext.harness import cloud

    def report(outcome):
        results.write(json.dumps(outcome.to_json()) + '\n')

    cloud.run_stream(run_.ours, run_.placement, run_.policy, report)


if __name__ == '__main__':
    _child_main(sys.argv[1:])
