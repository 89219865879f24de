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

"""The devcloud's services: configuration, start, wait, stop.

A test cloud, never a deployment: nova-api and Placement take ``noauth2``
tokens, and every service listens on 127.0.0.1 only (MariaDB on a unix
socket). Each service is started in its own session with its PID in
``STATE/pids``, so ``down`` stops exactly what ``up`` started.
"""

import json
import os
import signal
import subprocess
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.environ.get('DEVCLOUD_VENV', os.path.join(ROOT, '.devcloud', 'venv'))
STATE = os.environ.get('DEVCLOUD_STATE',
                       os.path.join(ROOT, '.devcloud', 'state'))
BIN = os.path.join(VENV, 'bin')
CATALOG = os.path.join(HERE, 'gpu-catalog.conf')

PORTS = {'nova-api': 18774, 'placement': 18778, 'stubs': 18790,
         'rabbitmq': 25672, 'rabbitmq-dist': 25673, 'epmd': 24369}
NOVA_URL = f'http://127.0.0.1:{PORTS["nova-api"]}'
PLACEMENT_URL = f'http://127.0.0.1:{PORTS["placement"]}'
STUBS_URL = f'http://127.0.0.1:{PORTS["stubs"]}'
SOCKET = os.path.join(STATE, 'mariadb', 'mariadbd.sock')
DB_PASSWORD = 'devcloud-nova'
RO_USER, RO_PASSWORD = 'gpu_reader', 'devcloud-reader'

# hostname -> fake GPUs (MODEL@NUMA, one PCI slot each; see compute.py)
COMPUTES = {
    'gpu-k4200': ','.join(['k4200@0'] * 4 + ['k4200@1'] * 4),
    'gpu-v100': ','.join(['v100@0'] * 4 + ['v100@1'] * 4),
    'gpu-mixed': ','.join(['k4200@0'] * 4 + ['v100@1'] * 4),
    'gpu-a100': ','.join(['a100@0'] * 4 + ['a100@1'] * 4),
}

OURS_FILTERS = ('ComputeFilter,ComputeCapabilitiesFilter,'
                'ImagePropertiesFilter,ServerGroupAntiAffinityFilter,'
                'ServerGroupAffinityFilter,GpuPassthroughFilter')
IN_TREE_FILTERS = OURS_FILTERS.replace('GpuPassthroughFilter',
                                       'PciPassthroughFilter')


class StartFailed(Exception):
    """A service did not start; the message names it and has its log."""


def db_url(database: str, user='nova', password=DB_PASSWORD) -> str:
    return (f'mysql+pymysql://{user}:{password}@localhost/{database}'
            f'?unix_socket={SOCKET}')


def path(*parts):
    return os.path.join(STATE, *parts)


def log_tail(name: str, lines=30) -> str:
    """The end of NAME's output, and of its service log if it has one."""
    tails = []
    for log in (f'{name}.log', f'{name}.service.log'):
        try:
            with open(path('logs', log), errors='replace') as f:
                tails.append(''.join(f.readlines()[-lines:]))
        except OSError:
            pass
    return '\n'.join(tails) or '(no log)'


def start(name: str, argv: list, env=None) -> int:
    """Start ``argv`` in its own session, logging to STATE/logs/NAME.log."""
    os.makedirs(path('logs'), exist_ok=True)
    os.makedirs(path('pids'), exist_ok=True)
    with open(path('logs', f'{name}.log'), 'ab') as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True,
                                env=dict(os.environ, **(env or {})))
    with open(path('pids', f'{name}.pid'), 'w') as f:
        f.write(str(proc.pid))
    return proc.pid


def pid_of(name: str):
    try:
        with open(path('pids', f'{name}.pid')) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open(f'/proc/{pid}/stat') as f:
        return f.read().split(')')[-1].split()[0] != 'Z'


def stop(name: str, timeout=20.0):
    """Stop the process group ``up`` started as NAME (TERM, then KILL)."""
    pid = pid_of(name)
    if pid and alive(pid):
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
            try:
                os.killpg(pid, sig)
            except OSError:
                break
            deadline = time.monotonic() + wait
            while alive(pid) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.2)
            if not alive(pid):
                break
    try:
        os.unlink(path('pids', f'{name}.pid'))
    except OSError:
        pass


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_for(name: str, check, timeout=120.0):
    """Wait until ``check()`` is true; fail naming NAME if it dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid_of(name)):
            raise StartFailed(f'{name} exited during start; the end of '
                              f'its logs in {path("logs")}:\n'
                              f'{log_tail(name)}')
        try:
            if check():
                return
        except Exception:  # noqa: S110 - not answering yet
            pass
        time.sleep(0.5)
    raise StartFailed(f'{name} did not answer within {timeout:.0f} s; the '
                      f'end of its logs in {path("logs")}:\n'
                      f'{log_tail(name)}')


def http_ok(url: str, token=None) -> bool:
    req = urllib.request.Request(url)
    if token:
        req.add_header('X-Auth-Token', token)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.status < 400


def api_get(route: str, version='2.1'):
    """GET a nova API route as admin (noauth2); the decoded JSON."""
    req = urllib.request.Request(NOVA_URL + '/v2.1' + route)
    req.add_header('X-Auth-Token', 'admin:admin')
    req.add_header('X-OpenStack-Nova-API-Version', version)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def sql(statement: str, database='') -> str:
    """Run SQL as MariaDB's root (socket auth); its tab-separated output."""
    out = subprocess.run(
        ['mariadb', '--no-defaults', f'--socket={SOCKET}', '-u', 'root',
         '-N', '-B', '-e', statement] + ([database] if database else []),
        check=True, capture_output=True, text=True, timeout=60)
    return out.stdout


def run(name: str, argv: list, timeout=600):
    """Run a setup command; fail naming it with its output."""
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode:
        raise StartFailed(f'{name} failed ({proc.returncode}):\n'
                          f'{(proc.stdout + proc.stderr)[-3000:]}')
    return proc.stdout
