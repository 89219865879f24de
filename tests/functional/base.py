"""Real in-process nova with fake GPUs.

API, conductor, scheduler, libvirt computes on fake libvirt and Placement
run in the test process; nova_gpu_ext is loaded from nova.conf options
exactly as an operator sets them.
"""

import json
import logging
import os
import sysconfig

import fixtures
from nova import context
from nova import objects
from nova.pci import request as pci_request
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base

# Registers the [nova_gpu_ext] options, which tests set before nova loads
# the filter.
from nova_gpu_ext import conf  # noqa: F401

K4200 = ('11b4', 'GK104GL [Quadro K4200]')
V100 = ('1db4', 'GV100GL [Tesla V100 PCIe 16GB]')
NVIDIA = '10de'
GPU_RC = 'CUSTOM_GPU'


def spec(product, **extra):
    return json.dumps(dict(vendor_id=NVIDIA, product_id=product, **extra))


class GpuServersTestBase(base.ServersTestBase):
    """Base of the functional tests.

    Class attributes select the set-up: ``OURS`` loads nova_gpu_ext (filter
    and weigher) or only nova's in-tree PCI scheduling; ``PLACEMENT``
    turns on ``[pci] report_in_placement`` and ``[filter_scheduler]
    pci_in_placement``. Aliases: ``gpu`` (a class alias over K4200 and
    V100: two specs in legacy mode, a shared resource class in placement
    mode), ``k4200`` and ``v100``.
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
            available.append('nova_gpu_ext.scheduler.filters.all_filters')
            enabled.append('GpuPassthroughFilter')
            weights.append('nova_gpu_ext.scheduler.weights.all_weighers')
            extra['pci_weight_multiplier'] = 0.0
        return dict(available_filters=available, enabled_filters=enabled,
                    weight_classes=weights, **extra)

    def device_spec(self):
        tags = {'resource_class': GPU_RC} if self.PLACEMENT else {}
        return [spec(K4200[0], **tags), spec(V100[0], **tags)]

    def aliases(self):
        def alias(name, product, **extra):
            return json.dumps(dict(name=name, device_type='type-PCI',
                                   **extra, **(
                                       {'vendor_id': NVIDIA,
                                        'product_id': product}
                                       if product else {})))
        if self.PLACEMENT:
            # One resource class for all GPUs: per-model aliases add the
            # ids, which nova matches against the pools of the candidates.
            return [alias('gpu', None, resource_class=GPU_RC),
                    alias('k4200', K4200[0], resource_class=GPU_RC),
                    alias('v100', V100[0], resource_class=GPU_RC)]
        return [alias('gpu', K4200[0]), alias('gpu', V100[0]),
                alias('k4200', K4200[0]), alias('v100', V100[0])]

    def start_gpu_host(self, hostname, gpus):
        """Start a compute with ``(model, numa_node)`` GPUs.

        The GPUs get PCI addresses in the order given.
        """
        info = fakelibvirt.HostPCIDevicesInfo(num_pci=0, num_pfs=0,
                                              num_vfs=0)
        for slot, (model, numa) in enumerate(gpus):
            info.add_device(
                dev_type='PCI', bus=0x81, slot=slot, function=0,
                iommu_group=40 + slot, numa_node=numa, vend_id=NVIDIA,
                vend_name='NVIDIA Corporation', prod_id=model[0],
                prod_name=model[1], driver_name='vfio-pci')
        return self.start_compute(hostname=hostname, pci_info=info)

    def gpu_flavor(self, items, **extra_specs):
        return self._create_flavor(extra_spec=dict(
            extra_specs, **{'pci_passthrough:alias': items}))

    def boot(self, flavor, expected_state='ACTIVE'):
        return self._create_server(flavor_id=flavor, networks='none',
                                   expected_state=expected_state)

    def claimed(self, server):
        """(host, [(product_id, numa_node)]) of the devices nova claimed."""
        devices = objects.PciDeviceList.get_by_instance_uuid(
            self.ctxt, server['id'])
        return (server['OS-EXT-SRV-ATTR:host'],
                sorted((d.product_id, d.numa_node) for d in devices))

    def products(self, server):
        return {product for product, _ in self.claimed(server)[1]}
