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

"""``gpu cordon / uncordon / release / list`` against the in-process nova.

Servers are booted through the real nova API and scheduler; the commands
change the device providers in the real Placement, and the next boots
show what the change did. nova-compute's periodic update runs between
the steps, as it would in a cloud, so a change nova would undo fails.
"""

import json
import os
import re
import shlex
import textwrap

import fixtures
from nova import objects
from placement import db_api as placement_db_api

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin.cloud import devices
from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import placementdb
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.admin import lifecycle
from tests import base as test_base
from tests.functional import base
from tests.functional import test_fleet

K4200, V100 = base.K4200, base.V100
FIRST, SECOND = '0000:81:00.0', '0000:81:01.0'
DOC = os.path.join(test_base.DOC, 'cli', 'gpu.rst')
HELD_STATES = ('free', 'used', 'cordoned', 'awaiting_cleaning')
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                  r'[0-9a-f]{12}')


def documented_examples() -> list[str]:
    """The literal blocks of the Example section of doc/source/cli/gpu.rst."""
    with open(DOC, encoding='utf-8') as f:
        text = f.read()
    section = text[text.index('\nExample\n'):text.index('\nExit status\n')]
    blocks = re.findall(r'::\n\n((?:    .*\n|\n)+)', section)
    return [textwrap.dedent(block).strip('\n') + '\n' for block in blocks]


class LifecycleBase(test_fleet.FleetBase):

    PLACEMENT = True

    def gpus(self, *argv):
        """``openstack gpu list`` rows: address -> row."""
        status, out, err = self.openstack('gpu', 'list', '-f', 'json', *argv)
        self.assertEqual(0, status, err)
        return {r['address']: r for r in json.loads(out)}

    def state(self, address, host='gpu-a'):
        return self.gpus('--host', host)[address]['state']

    def gpu_of(self, server):
        [device] = objects.PciDeviceList.get_by_instance_uuid(
            self.ctxt, server['id'])
        return device.address

    def boot_k4200(self, expected_state='ACTIVE'):
        return self.boot(self.gpu_flavor('k4200:1'), expected_state)

    def capacity(self):
        """gpu-a's GPUs per state, from ``openstack gpu capacity``."""
        status, out, err = self.openstack(
            'gpu', 'capacity', '-f', 'json', '--catalog',
            self.catalog(test_fleet.CATALOG))
        self.assertEqual(0, status, err)
        [row] = [r for r in json.loads(out) if r['host'] == 'gpu-a']
        return {state: row[state] for state in HELD_STATES}

    def database_capacity(self):
        """gpu-a's GPUs per state, from the cell and placement databases.

        Both live in memory in this process: read through the services'
        own engines, by the queries ``--connection`` and
        ``--placement-connection`` run.
        """
        engine = placement_db_api.get_placement_engine()
        with engine.connect() as conn:
            providers = placementdb.read(conn)
        snap = snapshot.with_providers(self.db_snapshot(), providers)
        [row] = [r for r in capacity.rows(snap, snapshot.ModelFilter())
                 if r.host == 'gpu-a']
        return {state: getattr(row, state) for state in HELD_STATES}


class TestCordon(LifecycleBase):

    def setUp(self):
        super().setUp()
        self.start_gpu_host('gpu-a', [(K4200, 0), (K4200, 0)])

    def test_cordoned_gpu_is_not_chosen_by_the_next_boot(self):
        status, out, err = self.openstack(
            'gpu', 'cordon', 'gpu-a', FIRST, '--reason', 'fan noise',
            '-f', 'json')
        self.assertEqual(0, status, err)
        self.assertIn(f'cordoned gpu-a {FIRST} (fan noise): reserved 0 -> 1',
                      err)
        self.assertIn(f'undo: gpu uncordon gpu-a {FIRST}', err)
        self.assertEqual('cordoned', json.loads(out)[0]['state'])
        self.assertIn(f'cordoned gpu-a {FIRST} (provider ',
                      self.scheduler_log.output)
        self.assertIn('): fan noise', self.scheduler_log.output)
        self._run_periodics()
        server = self.boot_k4200()
        self.assertEqual(SECOND, self.gpu_of(server))
        self.boot_k4200(expected_state='ERROR')
        self.assertEqual(
            {FIRST: 'cordoned', SECOND: 'in_use'},
            {a: r['state'] for a, r in self.gpus().items()})

    def test_server_on_a_cordoned_gpu_keeps_it_until_it_leaves(self):
        server = self.boot_k4200()
        used = self.gpu_of(server)
        status, _, err = self.nova_gpu_ext('gpu', 'cordon', 'gpu-a', used,
                                           '--reason', 'AER errors')
        self.assertEqual(0, status, err)
        self.assertIn(f'{server["id"]} keeps it until it leaves', err)
        self._run_periodics()
        self.assertEqual('ACTIVE', self.api.get_server(server['id'])['status'])
        row = self.gpus()[used]
        self.assertEqual(('cordoned', server['id'], None),
                         (row['state'], row['server'], row['numa_node']))
        self._delete_server(server)
        self._run_periodics()
        self.assertEqual('cordoned', self.state(used))

        status, _, err = self.openstack('gpu', 'uncordon', 'gpu-a', used)
        self.assertEqual(0, status, err)
        self.assertIn(f'uncordoned gpu-a {used}: reserved 1 -> 0', err)
        self.assertEqual('free', self.state(used))

    def test_capacity_counts_cordoned_gpus_apart_from_free_ones(self):
        """The whole host cordoned: its server's GPU drains, then is idle."""
        server = self.boot_k4200()
        for address in (FIRST, SECOND):
            self.nova_gpu_ext('gpu', 'cordon', 'gpu-a', address,
                              '--reason', 'maintenance')
        self._run_periodics()
        draining = {'free': 0, 'used': 1, 'cordoned': 1,
                    'awaiting_cleaning': 0}
        self.assertEqual(draining, self.capacity())
        self.assertEqual(draining, self.database_capacity())
        self._delete_server(server)
        self._run_periodics()
        drained = dict(draining, used=0, cordoned=2)
        self.assertEqual(drained, self.capacity())
        self.assertEqual(drained, self.database_capacity())

    def test_second_cordon_changes_nothing(self):
        self.openstack('gpu', 'cordon', 'gpu-a', FIRST, '--reason', 'x')
        status, _, err = self.openstack('gpu', 'cordon', 'gpu-a', FIRST,
                                        '--reason', 'x')
        self.assertEqual(0, status, err)
        self.assertIn('is cordoned with reserved 1: nothing changed', err)

    def test_list_names_catalog_models_and_hosts(self):
        rows = self.gpus('--catalog', self.catalog(test_fleet.CATALOG))
        self.assertEqual({'gpu-a'}, {r['host'] for r in rows.values()})
        self.assertEqual({'free'}, {r['state'] for r in rows.values()})
        self.assertEqual(2, len(rows))

    def test_concurrent_change_is_refused_not_overwritten(self):
        with self._operator():
            conn = connect.connect('admin', None, 30)
            self.addCleanup(conn.close)
            stale = devices.find(conn, 'gpu-a', FIRST, back=False)
            fresh = devices.find(conn, 'gpu-a', FIRST, back=False)
            devices.set_reserved(conn, fresh, 1)
            exc = self.assertRaises(lifecycle.Refused, devices.set_reserved,
                                    conn, stale, 0)
        self.assertIn(f'generation {stale.generation}', str(exc))
        self.assertIn('nothing was changed', str(exc))
        self.assertEqual('cordoned', self.state(FIRST))

    def test_a_boot_between_read_and_write_is_a_conflict(self):
        with self._operator():
            conn = connect.connect('admin', None, 30)
            self.addCleanup(conn.close)
            stale = devices.find(conn, 'gpu-a', FIRST, back=False)
            before = stale.generation
        self.boot_k4200()
        self.boot_k4200()
        with self._operator():
            self.assertRaises(lifecycle.Refused, devices.set_reserved,
                              conn, stale, 1)
            after = devices.find(conn, 'gpu-a', FIRST, back=False)
        self.assertNotEqual(before, after.generation)
        self.assertEqual(('in_use', 0), (after.state.value, after.reserved))

    def test_bad_input_is_one_line_exit_2(self):
        cases = [
            (('gpu-a', 'nope', '--reason', 'x'), 'is not a PCI address'),
            (('gpu-z', FIRST, '--reason', 'x'), "HOST 'gpu-z' has no"),
            (('gpu-a', '0000:82:00.0', '--reason', 'x'),
             f'its devices: {FIRST}, {SECOND}'),
            (('gpu-a', FIRST, '--reason', ' '), '--reason must say why'),
        ]
        for argv, text in cases:
            status, out, err = self.nova_gpu_ext('gpu', 'cordon', *argv)
            self.assertEqual((2, ''), (status, out), err)
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertIn(text, err)
        self.assertEqual({'free'},
                         {r['state'] for r in self.gpus().values()})


class TestDocumentedExample(LifecycleBase):

    def transcript(self, block):
        """What the block's ``$`` commands print, stdout then stderr."""
        printed = []
        for line in block.splitlines():
            if line.startswith('$ '):
                program, *argv = shlex.split(line[2:])
                run = {'nova-gpu-ext': self.nova_gpu_ext,
                       'openstack': self.openstack}[program]
                _, out, err = run(*argv)
                printed.append(line + '\n' + out + err)
        return ''.join(printed)

    def test_the_documented_examples_are_the_real_output(self):
        self.start_gpu_host('gpu-a', [(K4200, 0), (K4200, 0)])
        # The server gets the first GPU, as on the page: the second is
        # cordoned while it boots.
        self.openstack('gpu', 'cordon', 'gpu-a', SECOND, '--reason', 'doc')
        server = self.boot_k4200()
        self.openstack('gpu', 'uncordon', 'gpu-a', SECOND)
        self.assertEqual(FIRST, self.gpu_of(server))
        cordon, listed, uncordon = documented_examples()
        for block in (cordon, listed):
            self.assertEqual(UUID.sub('UUID', block),
                             UUID.sub('UUID', self.transcript(block)))
        self._delete_server(server)
        self.assertEqual(UUID.sub('UUID', uncordon),
                         UUID.sub('UUID', self.transcript(uncordon)))


class TestOneTimeUse(LifecycleBase):
    """A one-time-use V100: reserved by nova once used, released by us."""

    def device_spec(self, switches=()):
        specs = []
        for spec in map(json.loads, super().device_spec(switches)):
            if spec['product_id'] == V100.key.product_id:
                spec['one_time_use'] = 'true'
            specs.append(json.dumps(spec))
        return specs

    def setUp(self):
        super().setUp()
        self.start_gpu_host('gpu-a', [(V100, 0)])
        self.flavor = self.gpu_flavor('v100:1')

    def health_file(self, status):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'health.json')
        with open(path, 'w') as f:
            json.dump([{'status': 'ok', 'check': 'gpus', 'subject': 'host'},
                       {'status': status, 'check': 'aer',
                        'subject': FIRST}], f)
        return path

    def test_awaiting_cleaning_after_its_server_then_released(self):
        server = self.boot(self.flavor)
        self.assertEqual('in_use', self.state(FIRST))
        status, _, err = self.nova_gpu_ext('gpu', 'release', 'gpu-a', FIRST)
        self.assertEqual(1, status)
        self.assertIn(f'still allocated to {server["id"]}', err)
        status, _, err = self.nova_gpu_ext('gpu', 'uncordon', 'gpu-a', FIRST)
        self.assertEqual(1, status)
        self.assertIn('one-time-use and still allocated', err)

        self._delete_server(server)
        self._run_periodics()
        self.assertEqual('awaiting_cleaning', self.state(FIRST))
        cleaning = {'free': 0, 'used': 0, 'cordoned': 0,
                    'awaiting_cleaning': 1}
        self.assertEqual(cleaning, self.capacity())
        self.assertEqual(cleaning, self.database_capacity())
        self.boot(self.flavor, expected_state='ERROR')

        status, _, err = self.openstack('gpu', 'release', 'gpu-a', FIRST,
                                        '--health', self.health_file('ok'))
        self.assertEqual(0, status, err)
        self.assertIn(f'released gpu-a {FIRST}: reserved 1 -> 0', err)
        self.assertEqual('free', self.state(FIRST))
        self.boot(self.flavor)
        self.assertEqual('in_use', self.state(FIRST))

    def test_release_refuses_an_unhealthy_gpu(self):
        self._delete_server(self.boot(self.flavor))
        status, out, err = self.nova_gpu_ext(
            'gpu', 'release', 'gpu-a', FIRST, '--health',
            self.health_file('problem'))
        self.assertEqual((1, ''), (status, out))
        self.assertIn('is not healthy', err)
        self.assertIn('nothing was changed', err)
        self.assertEqual('awaiting_cleaning', self.state(FIRST))

    def test_release_of_a_plain_gpu_is_refused(self):
        self.start_gpu_host('gpu-b', [(K4200, 0)])
        status, _, err = self.nova_gpu_ext('gpu', 'release', 'gpu-b', FIRST)
        self.assertEqual(1, status)
        self.assertIn('is not one-time-use', err)


class TestLegacyMode(LifecycleBase):

    PLACEMENT = False

    def setUp(self):
        super().setUp()
        self.start_gpu_host('gpu-a', [(K4200, 0)])

    def test_commands_refuse_with_the_steps_and_change_nothing(self):
        server = self.boot_k4200()
        for argv in (('cordon', 'gpu-a', FIRST, '--reason', 'x'),
                     ('uncordon', 'gpu-a', FIRST),
                     ('release', 'gpu-a', FIRST)):
            status, out, err = self.nova_gpu_ext('gpu', *argv)
            self.assertEqual((1, ''), (status, out), err)
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertIn('legacy mode', err)
            self.assertIn('nothing was changed', err)
            self.assertIn('genconf --role compute', err)
            self.assertIn('restart nova-compute', err)
        self.assertEqual('ACTIVE', self.api.get_server(server['id'])['status'])
        status, _, err = self.openstack('gpu', 'list')
        self.assertEqual(1, status)
        self.assertIn('legacy mode', err)
