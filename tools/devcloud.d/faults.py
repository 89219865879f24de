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

"""Faults injected while ``devcloud load`` runs.

- a nova-scheduler worker killed with SIGKILL once half of the servers
  are submitted; oslo.service's launcher in the scheduler's parent
  process starts a new worker (restarted by hand if it does not);
- a nova-compute killed with SIGKILL while a server is building on it,
  restarted a few seconds later with the same nova.conf.

Each report says what was done and what became of the servers the fault
touched.
"""

import os
import signal
import subprocess
import threading
import time

import cloud
import services


def scheduler_engine() -> str:
    """``ours`` or ``in-tree``, with ``+placement`` in placement mode."""
    with open(cloud.path('etc', 'nova-scheduler.conf')) as f:
        engine = 'ours' if 'GpuPassthroughFilter' in f.read() else 'in-tree'
    return engine + ('+placement' if services.placement_mode() else '')


def children(pid: int) -> list:
    out = subprocess.run(['ps', '-o', 'pid=', '--ppid', str(pid)],
                         capture_output=True, text=True, timeout=10)
    return [int(p) for p in out.stdout.split()]


class Injector(threading.Thread):
    """Watches the load and injects the faults it was asked for."""

    def __init__(self, load, args):
        super().__init__(daemon=True)
        self.load, self.args = load, args
        self.done = threading.Event()
        self.faults = []

    def stop(self):
        self.done.set()
        self.join(timeout=120)

    def run(self):
        want_scheduler = self.args.kill_scheduler_worker
        want_compute = self.args.kill_compute
        while not self.done.wait(0.3) and (want_scheduler or want_compute):
            if want_scheduler and self.load.submitted >= self.args.servers / 2:
                want_scheduler = False
                self.faults.append(self.kill_scheduler_worker())
            if want_compute and self.load.submitted >= self.args.servers / 4:
                fault = self.kill_building_compute()
                if fault:
                    want_compute = False
                    self.faults.append(fault)

    def elapsed(self):
        return round(time.monotonic() - self.started, 1)

    def start(self):
        self.started = time.monotonic()
        super().start()

    def kill_scheduler_worker(self) -> dict:
        parent = cloud.pid_of('nova-scheduler')
        workers = children(parent)
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        fault = {'fault': 'scheduler worker SIGKILL', 'at_s': self.elapsed(),
                 'pid': victim, 'workers_before': workers}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = [p for p in children(parent) if p != victim]
            if len(now) >= len(workers):
                fault.update(respawned_by='oslo.service launcher',
                             workers_after=now, recovered_s=self.elapsed())
                return fault
            time.sleep(0.5)
        services.switch_scheduler(scheduler_engine().split("+")[0])
        fault.update(respawned_by='devcloud restart',
                     recovered_s=self.elapsed())
        return fault

    def building(self):
        """(id, host) of the servers in BUILD that have a host already."""
        with self.load.lock:
            ids = [r['id'] for r in self.load.records
                   if 'id' in r and 'status' not in r]
        compute = self.load.conn().compute
        for uuid in ids:
            # It may have settled and been deleted since.
            server = compute.find_server(uuid, ignore_missing=True)
            if server and server.status == 'BUILD' and server.compute_host:
                yield uuid, server.compute_host

    def kill_building_compute(self):
        found = next(self.building(), None)
        if found is None:
            return None
        uuid, host = found
        name = f'compute-{host}'
        os.killpg(cloud.pid_of(name), signal.SIGKILL)
        fault = {'fault': 'compute SIGKILL while building', 'host': host,
                 'at_s': self.elapsed(), 'server': uuid}
        time.sleep(5)
        services.start_compute(host)
        cloud.wait_for(name, lambda: services.services_up('nova-compute',
                                                          [host]),
                       timeout=180)
        fault['restarted_s'] = self.elapsed()
        fault['touched'] = uuid
        return fault

    def missing(self) -> list:
        """The faults asked for that were not injected."""
        done = {f['fault'].split()[0] for f in self.faults}
        asked = {'scheduler': self.args.kill_scheduler_worker,
                 'compute': self.args.kill_compute}
        return sorted(k for k, wanted in asked.items()
                      if wanted and k not in done)

    def reports(self) -> list:
        """The faults, each with the outcome of the server it touched."""
        by_id = {r.get('id'): r for r in self.load.records}
        for fault in self.faults:
            uuid = fault.get('touched')
            if uuid:
                record = by_id.get(uuid, {})
                fault['touched_outcome'] = {
                    'status': record.get('status'), 'host': record.get('host'),
                    'reason': record.get('reason')}
        return self.faults
