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

"""Prometheus metrics of the GPU fleet (``nova-gpu-ext exporter``).

A :class:`Refresher` takes a new fleet snapshot every ``interval``
seconds in a background thread and turns it into a :class:`Reading`:
every metric family, built whole before it replaces the previous one. The
:class:`Collector` registered with ``prometheus_client`` only yields the
current reading on a scrape, so a scrape never waits on the database and
never sees a half-built snapshot. When a refresh fails, the last good
reading stays, its age grows and ``nova_gpu_ext_snapshot_errors_total``
counts the failure.
"""

import collections
import dataclasses
import logging
import threading
import time
import typing as ty

from prometheus_client import core
from prometheus_client import exposition
from prometheus_client import registry

from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext import exception

LOG = logging.getLogger(__name__)

PREFIX = 'nova_gpu_ext'
NO_NUMA = 'none'


@dataclasses.dataclass(frozen=True)
class Reading:
    """Every metric family of one snapshot, ready to be scraped."""

    families: tuple
    taken_at: float
    duration: float


@dataclasses.dataclass(frozen=True)
class Questions:
    """What the exporter asks of each snapshot besides the counts.

    ``placer`` gives the capacity placer for a snapshot (its aliases
    depend on whether the snapshot's pools are placement pools).
    """

    requests: ty.Sequence
    placer: ty.Callable[[snapshot.Snapshot], capacity.Placer]
    names: snapshot.ModelFilter
    stale_rows: ty.Callable[[], ty.Mapping[str, int]] | None = None


def families(snap: snapshot.Snapshot, questions: Questions) -> tuple:
    """The metric families of a snapshot (all but the refresh metrics)."""
    names = questions.names
    gpus = core.GaugeMetricFamily(
        f'{PREFIX}_gpus', 'GPUs per host, model, NUMA node and state '
        '(free, used, unavailable, cordoned, awaiting_cleaning)',
        labels=('host', 'model', 'numa_node', 'state'))
    largest = collections.defaultdict(int)
    for host in snap.hosts:
        for (model, numa, state), n in sorted(
                host.counts.items(), key=lambda i: str(i[0])):
            gpus.add_metric((host.host, names.name(model),
                             NO_NUMA if numa is None else str(numa), state),
                            n)
    for row in capacity.rows(snap, names):
        largest[row.model, 'node'] = max(largest[row.model, 'node'],
                                         row.largest_on_node)
        largest[row.model, 'host'] = max(largest[row.model, 'host'],
                                         row.largest_on_host)
        largest[row.model, 'switch'] = max(largest[row.model, 'switch'],
                                           row.largest_on_switch)
    largest_family = core.GaugeMetricFamily(
        f'{PREFIX}_largest_request', 'Largest same-model request that '
        'still fits on one NUMA node (scope node), one host (scope host) '
        'or under one PCIe switch (scope switch) anywhere',
        labels=('model', 'scope'))
    for (model, scope), n in sorted(largest.items()):
        largest_family.add_metric((model, scope), n)
    fits = core.GaugeMetricFamily(
        f'{PREFIX}_flavor_fits', 'Servers of each GPU flavor that still '
        'fit now, each flavor on its own', labels=('flavor',))
    sizes = core.GaugeMetricFamily(
        f'{PREFIX}_flavor_gpus', 'GPUs per server of each GPU flavor',
        labels=('flavor',))
    placer = questions.placer(snap)
    for fit in capacity.fits(snap, questions.requests, placer):
        fits.add_metric((fit.request,), fit.fit)
        sizes.add_metric((fit.request,), fit.gpus_per_server)
    stranded = core.GaugeMetricFamily(
        f'{PREFIX}_stranded_gpus', 'Free GPUs that no GPU flavor would be '
        'given where they are now', labels=('model',))
    for entry in capacity.stranded(snap, questions.requests, placer, names):
        stranded.add_metric((entry.model,), entry.stranded)
    skipped = core.GaugeMetricFamily(
        f'{PREFIX}_skipped_rows', 'Database rows left out of the snapshot '
        'because they do not parse, per cell and column (the log names '
        'each host)', labels=('cell', 'column'))
    for (cell, column), n in sorted(collections.Counter(
            (s.cell, s.column) for s in snap.skipped).items()):
        skipped.add_metric((cell, column), n)
    result = [gpus, largest_family, fits, sizes, stranded, skipped]
    if questions.stale_rows is not None:
        stale = core.GaugeMetricFamily(
            f'{PREFIX}_stale_pci_rows', 'pci_devices rows held for '
            'instances that are gone or elsewhere (nova-gpu-ext pci-audit)',
            labels=('host',))
        for host, n in sorted(questions.stale_rows().items()):
            stale.add_metric((host,), n)
        result.append(stale)
    return tuple(result)


class Refresher:
    """Takes snapshots and keeps the last good reading."""

    def __init__(self, take: ty.Callable[[], snapshot.Snapshot],
                 questions: Questions, clock: ty.Callable = time.time):
        self._take = take
        self._questions = questions
        self.clock = clock
        self.reading: Reading | None = None
        self.errors = 0
        self._stop = threading.Event()

    def load(self) -> None:
        """Take one snapshot and serve it; its errors are raised."""
        start = time.monotonic()
        snap = self._take()
        built = families(snap, self._questions)
        self.reading = Reading(built, snap.taken_at,
                               time.monotonic() - start)
        LOG.info('snapshot of %d host(s) from %s in %.1f s',
                 len(snap.hosts), snap.source, self.reading.duration)

    def refresh(self) -> bool:
        """Take one snapshot; False (and one more error) if it failed."""
        try:
            self.load()
        except exception.NovaGpuExtError as exc:
            return self._failed(exc, LOG.error)
        except Exception as exc:
            # A fault of ours: keep serving the last snapshot, with the
            # traceback in the log for a bug report.
            return self._failed(exc, LOG.exception)
        return True

    def _failed(self, exc: Exception, log: ty.Callable) -> bool:
        self.errors += 1
        log('snapshot failed, %s: %s', self._serving_text(), exc)
        return False

    def _serving_text(self) -> str:
        if self.reading is None:
            return 'no snapshot to serve yet (only the error counter)'
        return (f'serving the one of '
                f'{self.clock() - self.reading.taken_at:.0f} s ago')

    def run(self, interval: float) -> None:
        """Refresh now, then every ``interval`` seconds until :meth:`stop`.

        The refreshes run in a daemon thread and this waits for
        :meth:`stop` alone, so a stop (SIGTERM) returns at once even while
        a refresh waits on a silent database: that thread is abandoned,
        and ends with the process.
        """
        worker = threading.Thread(target=self._refresh_until_stopped,
                                  args=(interval,), name='refresher',
                                  daemon=True)
        worker.start()
        self._stop.wait()

    def _refresh_until_stopped(self, interval: float) -> None:
        self.refresh()
        while not self._stop.wait(interval):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()


class Collector:
    """The ``prometheus_client`` collector of a refresher's readings."""

    def __init__(self, refresher: Refresher):
        self._refresher = refresher

    def collect(self):
        reading = self._refresher.reading
        errors = core.CounterMetricFamily(
            f'{PREFIX}_snapshot_errors', 'Snapshots that failed (the last '
            'good one is served meanwhile)')
        errors.add_metric((), self._refresher.errors)
        yield errors
        if reading is None:
            return
        yield from reading.families
        age = core.GaugeMetricFamily(
            f'{PREFIX}_snapshot_age_seconds', 'Seconds since the snapshot '
            'served was taken')
        age.add_metric((), max(0.0, self._refresher.clock()
                               - reading.taken_at))
        yield age
        duration = core.GaugeMetricFamily(
            f'{PREFIX}_snapshot_duration_seconds', 'Seconds the served '
            'snapshot took to take and evaluate')
        duration.add_metric((), reading.duration)
        yield duration


def scrape_text(refresher: Refresher) -> str:
    """The text exposition of the refresher's current reading."""
    reg = registry.CollectorRegistry()
    reg.register(Collector(refresher))
    return exposition.generate_latest(reg).decode()


def serve(refresher: Refresher, address: str, port: int):
    """Serve ``/metrics`` in a daemon thread; (server, thread).

    :raises BadInput: the address cannot be listened on.
    """
    reg = registry.CollectorRegistry()
    reg.register(Collector(refresher))
    try:
        return exposition.start_http_server(
            port, address, registry=reg)
    except OSError as exc:
        raise exception.BadInput(
            f'--listen {address}:{port}: cannot listen there '
            f'({exc.strerror or exc}); choose another address or '
            'port') from exc
