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

"""Input files, secrets and terminal output, through the console script.

A FIFO or a device given as a file is refused unread (a FIFO would block
the reader, ``/dev/zero`` never ends); an error about a file names the
file and line, not what the line says (``/etc/shadow``, a nova.conf
password); a password in a database URL's query is masked; control
characters read from a database reach the terminal escaped; ``discover
--ini`` says its warnings on stderr.
"""

import os

import fixtures
from nova import test
import testscenarios

from tests.unit.admin.audit import nova_db
from tests.unit.admin.fleet import fleetdb
from tests.unit.cmd import cli
from tests.unit.common import catalog_files
from tests.unit.host import sysfs_tree

# Seconds a refusal may take: the console script's start-up, no more.
PROMPT = 30
SECRET = 'S3cret'


def fifo(test_case):
    path = os.path.join(test_case.useFixture(
        fixtures.TempDir()).path, 'fifo')
    os.mkfifo(path)
    return path


class TestSpecialFilesAreRefusedUnread(testscenarios.WithScenarios,
                                       test.NoDBTestCase):
    """Given a FIFO or a device as an input file, exit 2 at once."""

    scenarios = [
        ('catalog FIFO', {'option': ('capacity', '--catalog'),
                          'make': fifo, 'says': 'a FIFO (named pipe), not '
                                                'a regular file'}),
        ('catalog /dev/zero', {'option': ('capacity', '--catalog'),
                               'make': lambda t: '/dev/zero',
                               'says': 'a character device, not a regular '
                                       'file'}),
        ('nova.conf FIFO', {'option': ('capacity', '--nova-conf'),
                            'make': fifo, 'says': 'a FIFO'}),
        ('nova.conf /dev/zero', {'option': ('pci-audit', '--nova-conf'),
                                 'make': lambda t: '/dev/zero',
                                 'says': 'a character device'}),
        ('restore FIFO', {'option': ('pci-audit', '--restore'),
                          'make': fifo, 'says': 'a FIFO'}),
        ('restore /dev/zero', {'option': ('pci-audit', '--restore'),
                               'make': lambda t: '/dev/zero',
                               'says': 'a character device'}),
    ]

    def test_refused_unread_exit_2(self):
        path = self.make(self)
        db = self.useFixture(nova_db.Database('sqlite'))
        command, option = self.option
        source = (('--connection', db.url) if option != '--nova-conf'
                  else ())
        result, took = cli.timed_script(command, option, path, *source,
                                        limit=PROMPT)
        self.assertLess(took, PROMPT)
        cli.assert_one_line(self, result, 2, says=[path, self.says])


class TestNoContentInMessages(test.NoDBTestCase):

    def test_catalog_error_names_the_line_not_its_text(self):
        path = catalog_files.write(
            self, f'root:{SECRET}:19000:0:99999:7:::\n[a]\nb = c\n')
        result = cli.script('capacity', '--catalog', path)
        cli.assert_one_line(self, result, 2, says=[f'{path} line 1'],
                            hides=[SECRET, 'root:'])

    def test_nova_conf_parse_error_hides_the_password(self):
        path = catalog_files.write(
            self, '[database]\n  connection = mysql+pymysql://nova:'
                  f'{SECRET}@db/nova\n', name='nova.conf')
        for command in ('capacity', 'pci-audit'):
            result = cli.script(command, '--nova-conf', path)
            cli.assert_one_line(
                self, result, 2, hides=[SECRET],
                says=[f'cannot parse {path} line 2: Unexpected '
                      'continuation line'])

    def test_password_in_the_url_query_is_masked(self):
        url = f'sqlite:////nonexistent/nova.sqlite?password={SECRET}'
        result = cli.script('capacity', '--connection', url)
        cli.assert_one_line(self, result, 2, hides=[SECRET],
                            says=['password=***'])


class TestControlCharactersAreEscaped(testscenarios.WithScenarios,
                                      test.NoDBTestCase):
    """Given a host name with ESC, BEL and NUL, the terminal sees none."""

    HOST = 'gpu\x1b[31m-1\x07\x00'
    SHOWN = 'gpu\\x1b[31m-1\\x07\\x00'
    scenarios = [('table', {'form': 'table', 'shown': SHOWN}),
                 ('value', {'form': 'value', 'shown': SHOWN}),
                 # csv doubles the backslash of each escape.
                 ('csv', {'form': 'csv',
                          'shown': SHOWN.replace('\\', '\\\\')})]

    def test_escaped_in_every_text_form(self):
        db = self.useFixture(nova_db.Database('sqlite'))
        fleetdb.FleetCell(db.engine).gpu_host(
            self.HOST, [fleetdb.device('0000:81:00.0', fleetdb.K4200, 0)])
        result = cli.script('capacity', '--connection', db.url,
                            '-f', self.form)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn(self.shown, result.stdout)
        for raw in '\x1b\x07\x00':
            self.assertNotIn(raw, result.stdout)


class TestDiscoverIniWarns(test.NoDBTestCase):

    def test_warnings_on_stderr_with_ini(self):
        tree = self.useFixture(sysfs_tree.SysfsTree())
        tree.set_cpu(sysfs_tree.INTEL)
        sysfs_tree.k4200(tree)
        tree.replace('0000:03:00.0', 'numa_node', b'zero\n')
        result = cli.script('discover', '--root', tree.root, '--ini')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('[gpu:10de_11b4]', result.stdout)
        self.assertIn('WARNING: ', result.stderr)
        self.assertIn('numa_node', result.stderr)
