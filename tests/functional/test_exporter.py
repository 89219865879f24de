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

"""``nova-gpu-ext exporter`` as an operator runs it, and a real Prometheus.

The exporter runs as the console script against a cell database with
nova's schema; the metrics are scraped over HTTP and parsed with
``prometheus_client``'s parser, and read back through a Prometheus server
(Debian's package, ``tools/install-prometheus``) that scrapes it.
"""

import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import fixtures
from prometheus_client import parser

from tests import base as test_base
from tests.unit.admin.audit import nova_db
from tests.unit.admin.fleet import fleetdb
from tests.unit.admin.fleet import test_monitoring_files
from tests.unit.cmd import cli

dev = fleetdb.device
PATIENCE = 60


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in parser.text_string_to_metric_families(text)
            for s in f.samples}


class Exporter(fixtures.Fixture):
    """The console script serving /metrics; its URL once it listens."""

    def __init__(self, *argv):
        super().__init__()
        self.argv = argv

    def _setUp(self):
        self.process = subprocess.Popen(
            [cli.SCRIPT, 'exporter', '--listen', '127.0.0.1:0',
             '--interval', '1', *self.argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(self._stop)
        self.lines = []
        found = threading.Event()

        def read():
            for line in self.process.stderr:
                self.lines.append(line)
                if 'serving http://' in line:
                    self.url = line.split('serving ', 1)[1].split(';')[0]
                    found.set()
            found.set()
        threading.Thread(target=read, daemon=True).start()
        found.wait(PATIENCE)
        if not hasattr(self, 'url'):
            raise AssertionError(f'exporter did not start: {self.lines}')

    def _stop(self):
        self.process.terminate()
        self.process.wait(timeout=PATIENCE)


def wait_for(check, what):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(0.5)
    raise AssertionError(f'gave up waiting for {what}')


class ExporterTest(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.db = self.useFixture(nova_db.Database('sqlite'))
        self.cell = fleetdb.FleetCell(self.db.engine)
        self.cell.gpu_host('gpu-1', [
            dev('0000:81:00.0', fleetdb.K4200, 0),
            dev('0000:82:00.0', fleetdb.K4200, 0, 'allocated'),
            dev('0000:83:00.0', fleetdb.V100, 1)])
        self.cell.gpu_host('gpu-2', [dev('0000:81:00.0', fleetdb.V100, 0)])


class TestExporterOverHttp(ExporterTest):

    def test_metrics_over_http_match_the_database(self):
        exporter = self.useFixture(Exporter('--connection', self.db.url))
        got = wait_for(lambda: scrape(exporter.url) if any(
            name == 'nova_gpu_ext_gpus' for name, _ in scrape(exporter.url))
            else None, 'the first snapshot')
        free = {}
        for (name, labels), value in got.items():
            labels = dict(labels)
            if name == 'nova_gpu_ext_gpus':
                free[labels['host'], labels['model'], labels['numa_node'],
                     labels['state']] = value
        self.assertEqual({('gpu-1', '10de:11b4', '0', 'free'): 1,
                          ('gpu-1', '10de:11b4', '0', 'used'): 1,
                          ('gpu-1', '10de:1db4', '1', 'free'): 1,
                          ('gpu-2', '10de:1db4', '0', 'free'): 1}, free)
        # The allocated K4200 belongs to no instance: pci-audit's finding.
        self.assertEqual(1, got['nova_gpu_ext_stale_pci_rows',
                                (('host', 'gpu-1'),)])
        self.assertEqual(0, got['nova_gpu_ext_snapshot_errors_total', ()])

        # A new row in the database shows in a later snapshot.
        self.cell.update('pci_devices', 1, status='allocated')
        wait_for(lambda: True if scrape(exporter.url).get((
            'nova_gpu_ext_gpus', (('host', 'gpu-1'), ('model', '10de:11b4'),
                                  ('numa_node', '0'), ('state', 'used')))
        ) == 2 else None, 'the allocated row')

    def test_once_prints_one_exposition(self):
        result = cli.script('exporter', '--once', '--connection',
                            self.db.url)
        self.assertEqual(0, result.returncode, result.stderr)
        names = {f.name for f in
                 parser.text_string_to_metric_families(result.stdout)}
        self.assertIn('nova_gpu_ext_gpus', names)
        self.assertIn('nova_gpu_ext_snapshot_age_seconds', names)

    def test_once_against_a_missing_database_is_one_line_exit_2(self):
        result = cli.script('exporter', '--once', '--connection',
                            'sqlite:////nonexistent/nova.sqlite')
        self.assertEqual((2, ''), (result.returncode, result.stdout))
        self.assertEqual(1, len(result.stderr.splitlines()), result.stderr)

    def test_a_port_in_use_is_one_line_exit_2(self):
        with socket.socket() as busy:
            busy.bind(('127.0.0.1', 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            result = cli.script('exporter', '--connection', self.db.url,
                                '--listen', f'127.0.0.1:{port}')
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertIn(f'--listen 127.0.0.1:{port}: cannot listen there',
                      result.stderr)
        self.assertNotIn('Traceback', result.stderr)


class TestPrometheusScrapesTheExporter(ExporterTest):

    def prometheus(self, target):
        binary = test_monitoring_files.prometheus_binary(self, 'prometheus')
        tmp = self.useFixture(fixtures.TempDir()).path
        config = os.path.join(tmp, 'prometheus.yml')
        with open(config, 'w') as f:
            json.dump({'global': {'scrape_interval': '1s'},
                       'scrape_configs': [{
                           'job_name': 'nova-gpu-ext',
                           'static_configs': [{'targets': [target]}]}]}, f)
        port = free_port()
        process = subprocess.Popen(
            [binary, f'--config.file={config}',
             f'--storage.tsdb.path={os.path.join(tmp, "data")}',
             f'--web.listen-address=127.0.0.1:{port}'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(process.wait, timeout=PATIENCE)
        self.addCleanup(process.terminate)
        return f'http://127.0.0.1:{port}'

    def query(self, prometheus, expr):
        url = (f'{prometheus}/api/v1/query?'
               + urllib.parse.urlencode({'query': expr}))
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                data = json.load(response)
        except OSError:
            return None
        result = data['data']['result']
        return float(result[0]['value'][1]) if result else None

    def test_prometheus_reads_the_free_gpus(self):
        exporter = self.useFixture(Exporter('--connection', self.db.url))
        prometheus = self.prometheus(urllib.parse.urlparse(
            exporter.url).netloc)
        free = wait_for(lambda: self.query(
            prometheus, 'sum(nova_gpu_ext_gpus{state="free"})'),
            'Prometheus to scrape the exporter')
        self.assertEqual(3, free)
        self.assertEqual(1, wait_for(lambda: self.query(
            prometheus, 'sum(nova_gpu_ext_gpus{state="used"})'),
            'the used GPUs'))
