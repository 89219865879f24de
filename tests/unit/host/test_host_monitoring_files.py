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

"""The host health alert rules and the systemd units shipped under etc/.

promtool checks the rules and runs their unit tests; every metric the
rules name must be one ``check-host --textfile`` writes. systemd-analyze
verifies every shipped unit (the health service and timer, the fleet
exporter) as systemd would load them.
"""

import os
import re
import subprocess

import fixtures

from nova_gpu_ext.host import health
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs
from nova_gpu_ext.host import textfile
from tests import base as test_base
from tests.unit.admin.fleet import test_monitoring_files
from tests.unit.cmd import cli
from tests.unit.host import sysfs_tree

PROMETHEUS = os.path.join(test_base.ETC, 'prometheus')
RULES = os.path.join(PROMETHEUS, 'nova-gpu-ext-host-alerts.yml')
RULE_TESTS = os.path.join(PROMETHEUS, 'nova-gpu-ext-host-alerts.test.yml')
SYSTEMD = os.path.join(test_base.ETC, 'systemd')
UNITS = ('nova-gpu-ext-health.service', 'nova-gpu-ext-health.timer')
# Every unit shipped, the fleet exporter's too.
SHIPPED = UNITS + ('nova-gpu-ext-exporter.service',)
METRIC = re.compile(r'\bnova_gpu_ext_host_[a-z_]+')
binary = test_monitoring_files.prometheus_binary


def written_metrics(test_case):
    """The metric names of a textfile of a GPU with every fact known."""
    tree = test_case.useFixture(sysfs_tree.SysfsTree())
    sysfs_tree.k4200(tree)
    tree.set_health('0000:03:00.0', fatal=1)
    facts = sysfs.read_host(tree.root)
    directory = test_case.useFixture(fixtures.TempDir()).path
    path = textfile.write(directory, health.read_health(
        facts, hostcheck.passthrough_gpus(facts)))
    with open(path) as f:
        return set(METRIC.findall(f.read()))


class TestHostAlertRules(test_base.TestCase):

    def test_promtool_accepts_the_rules(self):
        subprocess.run([binary(self), 'check', 'rules', RULES],
                       check=True, capture_output=True, text=True)

    def test_every_alert_passes_its_unit_tests(self):
        result = subprocess.run(
            [binary(self), 'test', 'rules', RULE_TESTS],
            capture_output=True, text=True, cwd=PROMETHEUS)
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
        with open(RULES) as f:
            alerts = set(re.findall(r'alert: (\w+)', f.read()))
        with open(RULE_TESTS) as f:
            tested = set(re.findall(r'alertname: (\w+)', f.read()))
        self.assertEqual({'NovaGpuExtGpuOffTheBus', 'NovaGpuExtGpuFatalAer',
                          'NovaGpuExtGpuLinkDegraded'}, alerts)
        self.assertEqual(alerts, tested)

    def test_rules_name_only_written_metrics(self):
        with open(RULES) as f:
            named = set(METRIC.findall(f.read()))
        self.assertTrue(named)
        self.assertEqual(set(), named - written_metrics(self))


class TestSystemdUnits(test_base.TestCase):

    def test_units_verify_with_the_installed_script(self):
        directory = self.useFixture(fixtures.TempDir()).path
        self.assertEqual(sorted(SHIPPED), sorted(os.listdir(SYSTEMD)))
        for unit in SHIPPED:
            with open(os.path.join(SYSTEMD, unit)) as f:
                text = f.read().replace('/opt/nova-gpu-ext/bin/nova-gpu-ext',
                                        cli.SCRIPT)
            with open(os.path.join(directory, unit), 'w') as f:
                f.write(text)
        result = subprocess.run(
            [binary(self, 'systemd-analyze'), 'verify',
             *(os.path.join(directory, u) for u in SHIPPED)],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(0, result.returncode, result.stderr)

    def test_service_writes_the_textfile_and_accepts_findings(self):
        with open(os.path.join(SYSTEMD, UNITS[0])) as f:
            text = f.read()
        self.assertIn('check-host --health', text)
        self.assertIn('--textfile /var/lib/prometheus/node-exporter', text)
        self.assertIn('SuccessExitStatus=1', text)
