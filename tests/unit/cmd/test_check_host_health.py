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

"""``check-host --health`` and ``--textfile`` end to end."""

import os

import fixtures
from prometheus_client import parser

from nova_gpu_ext.host import health
from nova_gpu_ext.host import textfile
from tests.unit.cmd import cli
from tests.unit.cmd import test_discover_check_host

GPU = '0000:03:00.0'
AUDIO = '0000:03:00.1'


def samples(path):
    """(metric name, labels as a tuple of pairs) -> value."""
    with open(path) as f:
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in parser.text_string_to_metric_families(f.read())
                for s in family.samples}


def labels(address, role='gpu', **extra):
    return tuple(sorted(dict(address=address, gpu=GPU, role=role,
                             model='NVIDIA Corporation GK104GL '
                                   '[Quadro K4200]', **extra).items()))


class TestHealthOption(test_discover_check_host.CliTestCase):

    def setUp(self):
        super().setUp()
        self.tree.add_pci_ids()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def k4200(self, audio_driver='vfio-pci', **gpu_health):
        test_discover_check_host.sysfs_tree.k4200(
            self.tree, audio_driver=audio_driver)
        self.tree.set_health(GPU, **gpu_health)
        self.tree.set_health(AUDIO)

    def test_health_runs_only_the_health_checks(self):
        self.k4200(fatal=1)
        code, checks, err = self.records('check-host', '--health',
                                         '--root', self.tree.root)
        self.assertEqual(1, code)
        self.assertEqual({'gpus'} | {name for name, _ in health.CHECKS},
                         {c['check'] for c in checks})
        [problem] = [c for c in checks if c['status'] == 'problem']
        self.assertEqual(('aer', GPU), (problem['check'], problem['subject']))
        self.assertTrue(err.startswith('NOT READY: 1 problem(s)'), err)

    def test_full_check_adds_health_without_repeating_bindings(self):
        self.k4200(width=4)
        code, checks, _ = self.records('check-host', '--root',
                                       self.tree.root)
        self.assertEqual(1, code)
        names = {c['check'] for c in checks}
        self.assertTrue({'binding', 'isolation', 'link', 'aer', 'reset',
                         'config-space'} <= names, names)
        self.assertFalse(names & set(health.HEALTH_ONLY))

    def test_textfile_parses_with_prometheus_client(self):
        self.k4200(fatal=2, width=4, correctable=5)
        self.tree.kill(AUDIO)
        code, _, err = self.run_cli('check-host', '--health', '--root',
                                    self.tree.root, '--textfile', self.dir)
        path = os.path.join(self.dir, textfile.FILE_NAME)
        self.assertIn(f'wrote {path}', err)
        self.assertEqual(1, code)
        got = samples(path)
        prefix = textfile.PREFIX
        self.assertEqual(2, got[f'{prefix}_health', labels(GPU)])
        self.assertEqual(2, got[f'{prefix}_aer_errors_total',
                                labels(GPU, error='fatal')])
        self.assertEqual(5, got[f'{prefix}_aer_errors_total',
                                labels(GPU, error='correctable')])
        self.assertEqual((4, 16), (got[f'{prefix}_link_width', labels(GPU)],
                                   got[f'{prefix}_link_max_width',
                                       labels(GPU)]))
        self.assertEqual(1, got[f'{prefix}_config_readable', labels(GPU)])
        self.assertEqual(0, got[f'{prefix}_config_readable',
                                labels(AUDIO, role='companion')])
        self.assertEqual(2, got[f'{prefix}_reset_methods', labels(GPU)])
        self.assertEqual(1, got[f'{prefix}_iommu_group_viable', labels(GPU)])
        self.assertEqual([textfile.FILE_NAME], os.listdir(self.dir))

    def test_textfile_replaces_the_last_one(self):
        self.k4200(fatal=1)
        self.run_cli('check-host', '--root', self.tree.root,
                     '--textfile', self.dir)
        self.tree.set_health(GPU)
        code, _, _ = self.run_cli('check-host', '--health', '--root',
                                  self.tree.root, '--textfile', self.dir)
        self.assertEqual(0, code)
        got = samples(os.path.join(self.dir, textfile.FILE_NAME))
        self.assertEqual(0, got[f'{textfile.PREFIX}_health', labels(GPU)])

    def test_unwritable_textfile_directory_is_one_line_exit_2(self):
        self.k4200()
        missing = os.path.join(self.dir, 'missing')
        code, out, err = self.run_cli('check-host', '--root', self.tree.root,
                                      '--textfile', missing)
        self.assertEqual((2, ''), (code, out))
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(f'--textfile {missing}: cannot write', err)
        self.assertNotIn('Traceback', err)


class TestTextfileOnThisMachine(test_discover_check_host.CliTestCase):

    def test_real_host_writes_a_parseable_file(self):
        directory = self.useFixture(fixtures.TempDir()).path
        code, _, err = cli.run('check-host', '--health', '--textfile',
                               directory)
        self.assertIn('wrote', err)
        samples(os.path.join(directory, textfile.FILE_NAME))
