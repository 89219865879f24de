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

"""The fleet commands and the exporter against the in-process nova.

Servers are booted through the real nova API; the snapshot is read from
the cell database nova writes (through nova's own engine: the functional
tests' SQLite lives in memory) and from Placement (``openstack gpu
capacity``), and checked against the devices nova claimed.
"""

import json
import time
import urllib.request

from nova import context as nova_context
from nova.db.main import api as main_db_api
from nova import objects
from prometheus_client import parser

from nova_gpu_ext.admin.fleet import capacity
from nova_gpu_ext.admin.fleet import celldb
from nova_gpu_ext.admin.fleet import explain
from nova_gpu_ext.admin.fleet import exporter
from nova_gpu_ext.admin.fleet import gpu_requests
from nova_gpu_ext.admin.fleet import snapshot
from nova_gpu_ext.common import catalog_file
from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import cloud
from tests.functional import base
from tests.functional import test_cloud_tools
from tests.unit.common import catalog_files

K4200, V100 = base.K4200, base.V100

CATALOG = catalog_files.TWO_MODELS_AND_A_CLASS


class FleetBase(test_cloud_tools.CloudToolsBase):
    """The harness's aliases, the cloud tools' clouds.yaml."""

    device_spec = base.GpuServersTestBase.device_spec
    aliases = base.GpuServersTestBase.aliases

    def gpu_catalog(self):
        return catalog_file.load_catalog([self.catalog(CATALOG)])

    def db_snapshot(self, gpu_catalog=None) -> snapshot.Snapshot:
        """The snapshot of cell1, read by our query through nova's engine."""
        ctxt = nova_context.get_admin_context()
        with nova_context.target_cell(
                ctxt, self.cell_mappings['cell1']) as cctxt:
            engine = main_db_api.get_engine(context=cctxt)
        with engine.connect() as conn:
            hosts, skipped = celldb.read_cell(
                conn, 'cell1', snapshot.ModelFilter(gpu_catalog))
        self.assertEqual([], skipped)
        snap = snapshot.Snapshot(tuple(sorted(hosts, key=lambda h: h.host)),
                                 'cell1', time.time())
        if gpu_catalog is None:
            return snap
        return snapshot.with_provider_tags(
            snap, gpu_requests.provider_tags(gpu_catalog))

    def claimed(self, servers):
        """(host, vendor:product) -> devices nova claimed for ``servers``."""
        found = {}
        for server in servers:
            for dev in objects.PciDeviceList.get_by_instance_uuid(
                    self.ctxt, server['id']):
                key = (server['OS-EXT-SRV-ATTR:host'],
                       f'{dev.vendor_id}:{dev.product_id}')
                found[key] = found.get(key, 0) + 1
        return found

    def fleet(self):
        self.start_gpu_host('gpu-a', [(K4200, 0), (K4200, 0), (K4200, 1),
                                      (K4200, 1)])
        self.start_gpu_host('gpu-b', [(K4200, 0), (V100, 0), (V100, 1)])
        self.start_gpu_host('gpu-c', [(V100, 0), (V100, 1)])


class CapacityTests:
    """Both sources agree with what nova claimed, in both modes."""

    def test_database_snapshot_matches_the_claims(self):
        self.fleet()
        servers = [self.boot(self.gpu_flavor('k4200:2')),
                   self.boot(self.gpu_flavor('v100:1'))]
        claimed = self.claimed(servers)
        snap = self.db_snapshot()
        used = {(h.host, str(m)): h.count(m, state=snapshot.USED)
                for h in snap.hosts for m in h.gpu_models}
        self.assertEqual(claimed, {k: n for k, n in used.items() if n})
        self.assertEqual(
            {('gpu-a', '10de:11b4'): 4, ('gpu-b', '10de:11b4'): 1,
             ('gpu-b', '10de:1db4'): 2, ('gpu-c', '10de:1db4'): 2},
            {(h.host, str(m)): h.count(m) for h in snap.hosts
             for m in h.gpu_models})
        rows = capacity.rows(snap, snapshot.ModelFilter())
        self.assertEqual(9 - sum(claimed.values()),
                         sum(r.free for r in rows))


class TestCapacityLegacy(CapacityTests, FleetBase):
    PLACEMENT = False

    def test_placement_has_nothing_in_legacy_mode(self):
        self.fleet()
        status, out, err = self.openstack('gpu', 'capacity', '-f', 'json')
        self.assertEqual((1, []), (status, json.loads(out)))
        self.assertIn('report_in_placement', err)


class TestCapacityPlacement(CapacityTests, FleetBase):
    PLACEMENT = True

    def test_placement_and_database_agree(self):
        self.fleet()
        servers = [self.boot(self.gpu_flavor('k4200:2')),
                   self.boot(self.gpu_flavor('gpu:2'))]
        claimed = self.claimed(servers)
        status, out, err = self.openstack(
            'gpu', 'capacity', '-f', 'json', '--catalog',
            self.catalog(CATALOG))
        self.assertEqual(0, status, err)
        from_placement = {}
        for row in json.loads(out):
            key = (row['host'], row['model'])
            from_placement[key] = (row['total'], row['used'])
        from_db = {}
        for row in capacity.rows(self.db_snapshot(self.gpu_catalog()),
                                 snapshot.ModelFilter(self.gpu_catalog())):
            total, used = from_db.get((row.host, row.model), (0, 0))
            from_db[row.host, row.model] = (total + row.total,
                                            used + row.used)
        # Placement knows the class's resource class, not the models:
        # compare per host over all GPUs.
        per_host = {}
        for (host, _), (total, used) in from_db.items():
            t, u = per_host.get(host, (0, 0))
            per_host[host] = (t + total, u + used)
        placement_per_host = {}
        for (host, _), (total, used) in from_placement.items():
            t, u = placement_per_host.get(host, (0, 0))
            placement_per_host[host] = (t + total, u + used)
        self.assertEqual(per_host, placement_per_host)
        self.assertEqual(sum(claimed.values()),
                         sum(u for _, u in per_host.values()))


class ExplainTests:
    """explain passes exactly the hosts where a boot to that host succeeds."""

    def boots_alone(self, flavor):
        """Host -> whether a boot asking for that host succeeds.

        The ``host`` of a server create (microversion 2.74) is a request,
        not a forced host: the scheduler still runs every filter, on that
        host alone.
        """
        result = {}
        for service in self.api.get_services(binary='nova-compute'):
            server = dict(self._build_server(flavor_id=flavor,
                                             networks='none'),
                          host=service['host'])
            server = self.settled(self.api.post_server({'server': server}))
            result[service['host']] = server['status'] == 'ACTIVE'
            self._delete_server(server)
        return result

    def settled(self, server):
        """The server once ACTIVE or ERROR (no valid host)."""
        for _ in range(cloud.SETTLE_POLLS):
            server = self.api.get_server(server['id'])
            if server['status'] in ('ACTIVE', 'ERROR'):
                return server
            time.sleep(cloud.SETTLE_INTERVAL)
        self.fail(f'server {server["id"]} still {server["status"]}')

    def test_passes_where_a_boot_succeeds(self):
        self.start_gpu_host('gpu-a', [(K4200, 0), (K4200, 0), (K4200, 1)])
        self.start_gpu_host('gpu-b', [(K4200, 0), (V100, 0)])
        self.start_gpu_host('gpu-c', [(V100, 0), (V100, 1)])
        gpu_catalog = self.gpu_catalog()
        snap = self.db_snapshot(gpu_catalog)
        aliases = gpu_requests.catalog_aliases(gpu_catalog, snap.placement)
        names = snapshot.ModelFilter(gpu_catalog)
        for numa in ('any', 'single'):
            policy = models.GpuPolicy(True, models.NumaMode(numa),
                                      models.SwitchMode.ANY)
            request = gpu_requests.GpuRequest('gpu:2', (('gpu', 2),), policy)
            verdicts = {v.host: v.passes for v in explain.explain(
                snap, request, aliases, names)}
            flavor = self.gpu_flavor('gpu:2', **{'gpu:numa': numa})
            self.assertEqual(self.boots_alone(flavor), verdicts, numa)
            self.assertFalse(verdicts['gpu-b'])
            self.assertEqual(numa == 'any', verdicts['gpu-c'])


class TestExplainLegacy(ExplainTests, FleetBase):
    PLACEMENT = False


class TestExplainPlacement(ExplainTests, FleetBase):
    PLACEMENT = True


class TestExporterFollowsTheCloud(FleetBase):
    PLACEMENT = False

    def scrape(self, url):
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in parser.text_string_to_metric_families(text)
                for s in f.samples}

    def free(self, samples, host):
        return sum(v for (name, labels), v in samples.items()
                   if name == 'nova_gpu_ext_gpus'
                   and dict(labels)['host'] == host
                   and dict(labels)['state'] == 'free')

    def test_free_gpus_follow_boots_and_deletes(self):
        self.fleet()
        gpu_catalog = self.gpu_catalog()
        placer = capacity.Placer(gpu_requests.catalog_aliases(gpu_catalog,
                                                              False))
        refresher = exporter.Refresher(
            lambda: self.db_snapshot(gpu_catalog), exporter.Questions(
                gpu_requests.catalog_flavors(gpu_catalog,
                                             gpu_requests.default_policy()),
                lambda snap: placer, snapshot.ModelFilter(gpu_catalog)))
        server, thread = exporter.serve(refresher, '127.0.0.1', 0)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        url = f'http://127.0.0.1:{server.server_port}/metrics'
        refresher.refresh()
        self.assertEqual(4, self.free(self.scrape(url), 'gpu-a'))
        booted = self.boot(self.gpu_flavor('k4200:2'))
        self.assertEqual(4, self.free(self.scrape(url), 'gpu-a'),
                         'a scrape serves the snapshot taken, no newer')
        refresher.refresh()
        host = booted['OS-EXT-SRV-ATTR:host']
        total = {'gpu-a': 4, 'gpu-b': 3}[host]
        self.assertEqual(total - 2, self.free(self.scrape(url), host))
        self._delete_server(booted)
        refresher.refresh()
        self.assertEqual(total, self.free(self.scrape(url), host))
