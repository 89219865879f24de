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

"""The alert rules, their tests and the dashboard shipped under etc/.

``promtool`` (Debian's prometheus package; ``tools/install-prometheus``)
checks the rules and runs their unit tests. Every metric an expression
names must be one the exporter serves.
"""

import json
import os
import re
import shutil
import subprocess

from nova import test

from nova_gpu_ext.admin.fleet import exporter
from tests import base as test_base
from tests.unit.admin.fleet import test_exporter

ETC = test_base.ETC
RULES = os.path.join(ETC, 'prometheus', 'nova-gpu-ext-alerts.yml')
RULE_TESTS = os.path.join(ETC, 'prometheus', 'nova-gpu-ext-alerts.test.yml')
DASHBOARD = os.path.join(ETC, 'grafana', 'nova-gpu-ext-dashboard.json')
METRIC = re.compile(r'\bnova_gpu_ext_[a-z_]+')


def prometheus_binary(test_case, name='promtool'):
    """A binary of Debian's prometheus package: promtool or prometheus.

    Skipped without it, but failed under CI, which installs it
    (``tools/install-prometheus``).
    """
    path = shutil.which(name)
    if path is None:
        reason = (f'{name} is not installed; run tools/install-prometheus '
                  '(Debian package prometheus)')
        if os.environ.get('CI'):
            test_case.fail(f'CI must run the {name} tests: {reason}')
        test_case.skipTest(reason)
    return path


def served_metrics():
    """The metric names a scrape of the exporter holds."""
    snap = test_exporter.sample_snapshot()
    refresher = exporter.Refresher(lambda: snap,
                                   test_exporter.sample_questions())
    refresher.refresh()
    return {name for name, _ in test_exporter.scrape(refresher)}


class TestMonitoringFiles(test.NoDBTestCase):

    def test_promtool_accepts_the_rules(self):
        subprocess.run([prometheus_binary(self), 'check', 'rules', RULES],
                       check=True, capture_output=True, text=True)

    def test_every_alert_passes_its_unit_tests(self):
        result = subprocess.run(
            [prometheus_binary(self), 'test', 'rules', RULE_TESTS],
            capture_output=True, text=True, cwd=os.path.dirname(RULES))
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
        with open(RULES) as f:
            alerts = set(re.findall(r'alert: (\w+)', f.read()))
        with open(RULE_TESTS) as f:
            tested = set(re.findall(r'alertname: (\w+)', f.read()))
        self.assertEqual(alerts, tested)

    def test_rules_and_dashboard_name_only_served_metrics(self):
        served = served_metrics()
        with open(RULES) as f:
            rule_metrics = set(METRIC.findall(f.read()))
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        dashboard_metrics = {name for panel in dashboard['panels']
                             for target in panel['targets']
                             for name in METRIC.findall(target['expr'])}
        self.assertTrue(rule_metrics and dashboard_metrics)
        self.assertEqual(set(), (rule_metrics | dashboard_metrics) - served)
