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

"""A small nova cloud in this process, with fake GPUs.

Real nova 34 services - API, conductor, scheduler, libvirt computes on
nova's fake libvirt - and real Placement run in-process on SQLite through
nova's own functional-test fixtures (the ``demo`` extra installs them).
nova_gpu_ext is enabled exactly as an operator enables it in nova.conf.
The functional tests of nova_gpu_ext use the same base class.
"""

# nova's monkey patching must come before any other nova import.
import nova.tests.functional  # noqa: F401,I100

import json  # noqa: I100
import logging
import os
import sqlite3
import sysconfig
import time
import typing as ty
import unittest

import fixtures
from nova import context
from nova.db.main import api as main_db_api
from nova import objects
from nova.pci import request as pci_request
from nova.pci import stats
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base

# Registers the [nova_gpu_ext] options, which are set before nova loads
# the filter.
from nova_gpu_ext.common import resource_classes
from nova_gpu_ext import conf  # noqa: F401
from nova_gpu_ext.gpu import models
from nova_gpu_ext.harness import refusal
from nova_gpu_ext.harness import runner
from nova_gpu_ext.harness import scenario
from nova_gpu_ext.scheduler import nova_objects


def class_resource_class(alias: str) -> str:
    """Placement resource class shared by the models of a class alias.

    The catalog's default for a class of that name, as genconf renders it.
    """
    return resource_classes.gpu_default(alias)


# A boot takes about a second in-process; allow a slow machine 30 s.
SETTLE_POLLS = 300
SETTLE_INTERVAL = 0.1

# nova's fake libvirt host: two NUMA nodes, two threads per core.
NUMA_NODES = 2
THREADS = 2

CLASS_ALIASES = {name: members for name, members in scenario.ALIASES.items()
                 if len(members) > 1}


class GpuCloudTestBase(base.ServersTestBase):
    """nova with fake GPU hosts and the demo's aliases.

    ``OURS`` loads nova_gpu_ext (GpuPassthroughFilter in place of nova's
    PciPassthroughFilter, and GpuWeigher) or only nova's in-tree PCI
    scheduling; ``PLACEMENT`` turns on ``[pci]
    report_in_placement`` and ``[filter_scheduler] pci_in_placement``.
    Aliases as in :mod:`nova_gpu_ext.harness.scenario`: a class alias is two
    specs in legacy mode and a shared resource class in placement mode.
    """

    ADMIN_API = True
    microversion = 'latest'
    OURS = True
    PLACEMENT = False

    def setUp(self):
        self.ctxt = context.get_admin_context()
        self.flags(device_spec=self.device_spec(), alias=self.aliases(),
                   group='pci')
        pci_request.get_alias_from_config.cache_clear()
        self.addCleanup(pci_request.get_alias_from_config.cache_clear)
        if self.PLACEMENT:
            self.flags(report_in_placement=True, group='pci')
            self.flags(pci_in_placement=True, group='filter_scheduler')
        self.flags(group='filter_scheduler', **self.scheduler_flags())
        self.scheduler_log = self.useFixture(fixtures.FakeLogger(
            name='nova_gpu_ext', level=logging.DEBUG))
        super().setUp()

    def _setup_services(self):
        # The nova wheel installs api-paste.ini under <venv>/etc/nova, not
        # where nova's test config looks for it.
        self.flags(api_paste_config=os.path.join(
            sysconfig.get_path('data'), 'etc', 'nova', 'api-paste.ini'),
            group='wsgi')
        super()._setup_services()

    def scheduler_flags(self):
        available = ['nova.scheduler.filters.all_filters']
        enabled = ['ComputeFilter', 'ComputeCapabilitiesFilter',
                   'ImagePropertiesFilter', 'PciPassthroughFilter']
        weights = ['nova.scheduler.weights.all_weighers']
        extra = {}
        if self.OURS:
            # As genconf's scheduler role: ours in place of nova's filter.
            available.append('nova_gpu_ext.scheduler.filters.all_filters')
            enabled[-1] = 'GpuPassthroughFilter'
            weights.append('nova_gpu_ext.scheduler.weights.all_weighers')
            extra['pci_weight_multiplier'] = 0.0
        return dict(available_filters=available, enabled_filters=enabled,
                    weight_classes=weights, **extra)

    def _class_of(self, model):
        return next((name for name, members in CLASS_ALIASES.items()
                     if model in members), None)

    def device_spec(self, switches: ty.Sequence[str | None] = ()):
        """``[pci] device_spec``: one entry per model.

        ``switches`` gives, per slot of ``start_gpu_host``, the
        ``pcie_switch`` tag of the GPU there (None: no switch above it):
        entries of their own address, ahead of the model's, as
        ``genconf --role compute --topology`` writes them.
        """
        tagged, specs = [], []
        for model in scenario.MODELS:
            spec = dict(model.key._asdict())
            cls = self._class_of(model)
            if self.PLACEMENT and cls:
                spec['resource_class'] = class_resource_class(cls)
            tagged.extend(json.dumps(dict(
                spec, address=_address_spec(slot), pcie_switch=switch))
                for slot, switch in enumerate(switches) if switch)
            specs.append(json.dumps(spec))
        return tagged + specs

    def aliases(self):
        aliases = []
        for name, members in scenario.ALIASES.items():
            if self.PLACEMENT and name in CLASS_ALIASES:
                specs = [{'resource_class': class_resource_class(name)}]
            else:
                specs = [dict(m.key._asdict()) for m in members]
                cls = self._class_of(members[0])
                if self.PLACEMENT and cls:
                    specs[0]['resource_class'] = class_resource_class(cls)
            aliases.extend(json.dumps(dict(spec, name=name,
                                           device_type='type-PCI'))
                           for spec in specs)
        return aliases

    def start_gpu_host(self, hostname, gpus, switches=(), host_info=None):
        """Start a compute with ``(scenario model, numa_node)`` GPUs.

        The GPUs get PCI addresses in the order given; ``switches`` their
        ``pcie_switch`` tags (see ``device_spec``), read by the compute
        when it starts. ``host_info`` is the fake libvirt host's CPUs and
        memory (nova's default if None).
        """
        self.flags(device_spec=self.device_spec(switches), group='pci')
        info = fakelibvirt.HostPCIDevicesInfo(num_pci=0, num_pfs=0,
                                              num_vfs=0)
        for slot, (model, numa) in enumerate(gpus):
            info.add_device(
                dev_type='PCI', bus=0x81, slot=slot, function=0,
                iommu_group=40 + slot, numa_node=numa,
                vend_id=model.key.vendor_id, vend_name='NVIDIA Corporation',
                prod_id=model.key.product_id, prod_name=model.product_name,
                driver_name='vfio-pci')
        return self.start_compute(hostname=hostname, pci_info=info,
                                  host_info=host_info)

    def gpu_flavor(self, items, name=None, **extra_specs):
        if items:
            extra_specs['pci_passthrough:alias'] = items
        return self._create_flavor(name=name, extra_spec=extra_specs)

    def boot(self, flavor, expected_state='ACTIVE'):
        return self._create_server(flavor_id=flavor, networks='none',
                                   expected_state=expected_state)

    def claimed(self, server):
        """(host, [(model name, numa_node)]) of the devices nova claimed."""
        devices = objects.PciDeviceList.get_by_instance_uuid(
            self.ctxt, server['id'])
        return (server['OS-EXT-SRV-ATTR:host'], sorted(
            (scenario.name_of(models.ModelKey(d.vendor_id, d.product_id)),
             d.numa_node) for d in devices))

    def products(self, server):
        """The model names of the devices nova claimed."""
        return {name for name, _ in self.claimed(server)[1]}


class _StreamRun(GpuCloudTestBase):
    """Boot the scenario's stream into the caller's ``outcomes`` list.

    ``policy`` is ``[nova_gpu_ext] weigher_policy``; ``report`` gets each
    outcome as soon as the server settles.
    """

    def __init__(self, *, ours: bool, placement: bool, policy: str,
                 outcomes: list, report=None):
        super().__init__('test_stream')
        self.OURS = ours
        self.PLACEMENT = placement
        self.POLICY = policy
        self._outcomes = outcomes
        self._report = report

    def setUp(self):
        # Set like the other nova.conf options of the cloud: an override
        # of the global CONF made before the test does not survive nova's
        # config fixture.
        self.flags(weigher_policy=self.POLICY, group='nova_gpu_ext')
        # The weighers' best host is taken, never one at random among
        # the best (nova's defaults, pinned for the demo's reproducibility).
        self.flags(host_subset_size=1, shuffle_best_same_weighed_hosts=False,
                   group='filter_scheduler')
        super().setUp()

    def scheduler_flags(self):
        # The in-tree run's flavors ask for one NUMA node with nova's own
        # means (scenario.IN_TREE_MEANS), which the scheduler honours only
        # with NUMATopologyFilter; both runs have it, so that their filters
        # differ only in the PCI filter.
        flags = super().scheduler_flags()
        flags['enabled_filters'].insert(-1, 'NUMATopologyFilter')
        return flags

    def test_stream(self):
        # Servers refused by the scheduler count against the quota too.
        self.flags(instances=-1, cores=-1, ram=-1, group='quota')
        for host in scenario.FLEET:
            self.start_gpu_host(host.name, host.gpus, host.switches,
                                fake_host(host))
        flavors = {}
        for name, items, _ in scenario.STREAM:
            if name not in flavors:
                flavors[name] = self.gpu_flavor(
                    items, name=name,
                    **scenario.extra_specs(name, self.OURS))
            server = self._settle(self.api.post_server({
                'server': self._build_server(flavor_id=flavors[name],
                                             networks='none')}))
            outcome = self._result(name, server)
            if os.environ.get(runner.KEEP_ENV):
                # Before the report: the parent stops this process as
                # soon as the last outcome arrives.
                self._keep(os.environ[runner.KEEP_ENV])
            if self._report:
                self._report(outcome)
            self._outcomes.append(outcome)

    def _keep(self, folder):
        """The cell database and the catalog, for the fleet commands."""
        run = os.path.join(folder, keep_name(self.OURS, self.PLACEMENT))
        os.makedirs(run, exist_ok=True)
        with open(os.path.join(folder, 'gpu-catalog.conf'), 'w') as f:
            f.write(catalog_text())
        cell = self.cell_mappings['cell1']
        with context.target_cell(self.ctxt, cell) as cctxt:
            source = main_db_api.get_engine(context=cctxt).raw_connection()
        target = sqlite3.connect(os.path.join(run, 'cell1.sqlite'))
        with target:
            source.driver_connection.backup(target)
        target.close()

    def _result(self, flavor, server):
        if server['status'] != 'ACTIVE':
            return scenario.Outcome(flavor, None,
                                    reason=self._why_refused(flavor))
        devices = objects.PciDeviceList.get_by_instance_uuid(
            self.ctxt, server['id'])
        host = server['OS-EXT-SRV-ATTR:host']
        gpus = sorted((scenario.Gpu(
            scenario.name_of(models.ModelKey(d.vendor_id, d.product_id)),
            d.numa_node, _slot(d.address),
            scenario.switch_at(host, _slot(d.address))) for d in devices),
            key=lambda gpu: gpu.slot)
        return scenario.Outcome(flavor, host, tuple(gpus))

    def _why_refused(self, name):
        """Why no host passed, from the pools the scheduler reads now."""
        items, _ = scenario.FLAVORS[name]
        extra_specs = scenario.extra_specs(name, self.OURS)
        if items:
            extra_specs['pci_passthrough:alias'] = items
        flavor = objects.Flavor(extra_specs=extra_specs)
        spec = objects.RequestSpec(
            flavor=flavor,
            pci_requests=pci_request.get_pci_requests_from_flavor(flavor))
        policy = (nova_objects.gpu_policy(spec, nova_objects.default_policy())
                  if self.OURS else None)
        return refusal.explain(self._host_pools(),
                               nova_objects.device_requests(spec),
                               policy, self.PLACEMENT, scenario.name_of)

    def _host_pools(self):
        """``(host, pools)`` in fleet order, as the scheduler reads them."""
        order = [host.name for host in scenario.FLEET]
        nodes = sorted(objects.ComputeNodeList.get_all(self.ctxt),
                       key=lambda node: order.index(node.host))
        return [(node.host, [self._provided(pool) for pool in
                             stats.PciDeviceStats(
                                 None, stats=node.pci_device_pools).pools])
                for node in nodes]

    def _provided(self, pool):
        """The pool with the resource class of its provider in placement.

        The scheduler's pools do not carry it; placement matches request
        groups to providers by it.
        """
        if 'rp_uuid' not in pool:
            return pool
        [rc] = self._get_provider_inventory(pool['rp_uuid'])
        return dict(pool, resource_class=rc)

    def _settle(self, server):
        """Wait until the server is ACTIVE or ERROR (scheduling refused)."""
        for _ in range(SETTLE_POLLS):
            server = self.api.get_server(server['id'])
            if server['status'] in ('ACTIVE', 'ERROR'):
                return server
            time.sleep(SETTLE_INTERVAL)
        self.fail(f'server {server["id"]} still {server["status"]}')


def fake_host(host: scenario.Host) -> fakelibvirt.HostInfo:
    """The fake libvirt host of a scenario host: two NUMA nodes."""
    return fakelibvirt.HostInfo(
        cpu_nodes=NUMA_NODES, cpu_sockets=1, cpu_threads=THREADS,
        cpu_cores=host.cpus // (NUMA_NODES * THREADS),
        kB_mem=host.memory_gb * 1024 ** 2)


def keep_name(ours: bool, placement: bool) -> str:
    """The folder of one run under ``demo --keep DIR``."""
    return ('nova_gpu_ext' if ours else 'in-tree') + (
        '-placement' if placement else '')


def catalog_text() -> str:
    """The demo's models and class alias as a GPU catalog file."""
    models = [m.name.lower() for m in scenario.MODELS]
    lines = ['# The GPUs of "nova-gpu-ext demo" (written by --keep).',
             '[nova_gpu_ext]', f'gpu_models = {", ".join(models)}',
             f'gpu_classes = {", ".join(CLASS_ALIASES)}']
    for model in scenario.MODELS:
        lines += ['', f'[gpu:{model.name.lower()}]',
                  f'vendor_id = {model.key.vendor_id}',
                  f'product_id = {model.key.product_id}',
                  f'description = {model.product_name}']
    for name, members in CLASS_ALIASES.items():
        lines += ['', f'[gpu_class:{name}]',
                  f'models = {", ".join(m.name.lower() for m in members)}']
    return '\n'.join(lines) + '\n'


def _address_spec(slot: int) -> dict:
    """The device_spec address of the GPU at ``slot``, as a regex.

    An exact address string would make nova read the host's sysfs.
    """
    return {'domain': '0000', 'bus': '81', 'slot': f'{slot:02x}$',
            'function': '0'}


def _slot(address: str) -> int:
    """The slot ``start_gpu_host`` gave a device, from its PCI address."""
    return int(address.split(':')[2].split('.')[0], 16)


def run_stream(ours: bool, placement: bool = False, policy: str = 'pack',
               report=None) -> list:
    """Boot the scenario's stream in a fresh cloud; return its outcomes.

    Raises RuntimeError with nova's traceback if the cloud fails.
    """
    outcomes = []
    result = unittest.TestResult()
    _StreamRun(ours=ours, placement=placement, policy=policy,
               outcomes=outcomes, report=report).run(result)
    for _, text in result.errors + result.failures:
        raise RuntimeError(text)
    return outcomes
