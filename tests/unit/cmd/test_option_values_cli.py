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

"""Option values Python would take but the tool must refuse, as exit 2.

Unicode digits (``²``, ``٣``), numbers too long to convert, ``nan`` and
``inf``, ports out of range and host names no resolver takes: each is one
line on stderr naming the option, from the console script. ``capacity``
reads its snapshot before it reads ``--request``: it is given a cell
database with nova's schema; the others refuse before any database is
asked anything.
"""

import testscenarios

from tests import base as test_base
from tests.unit.admin.audit import nova_db
from tests.unit.cmd import cli
from tests.unit.common import catalog_files

# A database that is never reached: the values are refused first.
NOWHERE = 'mysql+pymysql://nova:S3cret@192.0.2.1/nova'
# Seconds a refusal may take: the console script's start-up, no more.
PROMPT = 30


class TestRefusedValues(testscenarios.WithScenarios, test_base.TestCase):
    """Given a bad value, the command exits 2 with one line naming it."""

    scenarios = [
        ('superscript count', {
            'argv': ('capacity', '--fits', '--request', 'gpu:²'),
            'says': "--request: 'gpu:²' is not ALIAS:COUNT ('²' is not a "
                    'whole number written in the digits 0-9'}),
        ('arabic-indic count', {
            'argv': ('capacity', '--fits', '--request', 'gpu:٣'),
            'says': "'٣' is not a whole number written in the digits 0-9"}),
        ('ten thousand digits', {
            'argv': ('capacity', '--fits', '--request', 'gpu:' + '9' * 10000),
            'says': f"'{'9' * 40}...' is not from 1 to 100000"}),
        ('superscript servers', {
            'argv': ('what-if', '--request', 'gpu:1=²'),
            'says': "--request 'gpu:1=²': '²' is not a whole number"}),
        ('too many servers', {
            'argv': ('what-if', '--request', 'gpu:1=99999999999'),
            'says': "'99999999999' is not from 1 to 100000"}),
        ('zero servers', {
            'argv': ('what-if', '--request', 'gpu:1=0'),
            'says': "'0' is not from 1 to 100000"}),
        ('db timeout 0', {'argv': ('capacity', '--db-timeout', '0'),
                          'says': "--db-timeout: '0' is not a number of "
                                  'seconds above 0'}),
        ('db timeout -1', {'argv': ('capacity', '--db-timeout', '-1'),
                           'says': "--db-timeout: '-1' is not"}),
        ('db timeout nan', {'argv': ('explain', '--db-timeout', 'nan',
                                     '--request', 'gpu:1'),
                            'says': "--db-timeout: 'nan' is not"}),
        ('db timeout inf', {'argv': ('capacity', '--db-timeout', 'inf'),
                            'says': "--db-timeout: 'inf' is not"}),
        ('interval nan', {'argv': ('exporter', '--interval', 'nan'),
                          'says': "--interval: 'nan' is not a number of "
                                  'seconds above 0'}),
        ('interval inf', {'argv': ('exporter', '--interval', 'inf'),
                          'says': "--interval: 'inf' is not"}),
        ('interval 0', {'argv': ('exporter', '--interval', '0'),
                        'says': "--interval: '0' is not"}),
        ('interval -1', {'argv': ('exporter', '--interval', '-1'),
                         'says': "--interval: '-1' is not"}),
        ('superscript port', {
            'argv': ('exporter', '--listen', '127.0.0.1:²'),
            'says': "--listen '127.0.0.1:²': '²' is not a whole number"}),
        ('arabic-indic port', {
            'argv': ('exporter', '--listen', '127.0.0.1:٣٣٣٣'),
            'says': "--listen '127.0.0.1:٣٣٣٣': '٣٣٣٣' is not a whole"}),
        ('port above 65535', {
            'argv': ('exporter', '--listen', '127.0.0.1:65536'),
            'says': "'65536' is not from 0 to 65535"}),
        ('no port', {'argv': ('exporter', '--listen', '127.0.0.1'),
                     'says': "--listen '127.0.0.1': no \":PORT\""}),
        ('host label of 64 characters', {
            'argv': ('exporter', '--listen', 'a' * 64 + '.example:9858'),
            'says': 'is neither an IP address nor a host name'}),
        ('host with a space', {
            'argv': ('exporter', '--listen', 'local host:9858'),
            'says': "'local host' is neither an IP address"}),
        ('exporter alias not in the catalog', {
            'argv': ('exporter', '--once', '--request', 'gpü:2'),
            'says': "--request: no such alias 'gpü'"}),
    ]

    def test_one_line_exit_2_naming_the_option(self):
        catalog = catalog_files.write(self,
                                      catalog_files.TWO_MODELS_AND_A_CLASS)
        url = (self.useFixture(nova_db.Database('sqlite')).url
               if self.argv[:2] == ('capacity', '--fits') else NOWHERE)
        result, took = cli.timed_script(
            *self.argv, '--catalog', catalog, '--connection', url,
            limit=PROMPT)
        self.assertLess(took, PROMPT)
        cli.assert_one_line(self, result, 2, says=[self.says],
                            hides=['S3cret'])


class TestAcceptedValues(test_base.TestCase):

    def test_port_0_and_ipv6_and_host_names_are_addresses(self):
        from nova_gpu_ext.cmd import exporter
        self.assertEqual(('127.0.0.1', 0),
                         exporter.listen_address('127.0.0.1:0'))
        self.assertEqual(('::1', 9858), exporter.listen_address('[::1]:9858'))
        self.assertEqual(('metrics-1.example', 65535),
                         exporter.listen_address('metrics-1.example:65535'))
