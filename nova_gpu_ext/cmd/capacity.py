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

"""``capacity``: free GPUs per host and model, from placement.

A command of ``nova-gpu-ext`` and of ``openstack gpu``. Needs nova's PCI
devices in placement (``[pci] report_in_placement``); without them it
names the option instead of printing an empty list.
"""

from nova_gpu_ext.cmd import base
from nova_gpu_ext import exception
from nova_gpu_ext.tooling import capacity
from nova_gpu_ext.tooling.cloud import capacity as cloud_capacity
from nova_gpu_ext.tooling.cloud import connect

NO_INVENTORY = (
    'placement has no PCI device inventory: set [pci] report_in_placement '
    '= True in nova.conf of every nova-compute with GPUs and restart them '
    '(and [filter_scheduler] pci_in_placement = True on the schedulers)')


class Capacity(base.Lister):
    """Show free GPUs per host and model, and how many servers still fit.

    One row per host and GPU model (or class, or resource class without
    --catalog); --summary gives one row per model over the whole cloud.
    "Fit xN" is how many servers of N GPUs of that model still fit, each
    host counted whole. Read from placement; exit status 1 when placement
    holds no GPU to report.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_catalog(
            parser, required=False,
            help_text='GPU catalog: names resource classes after its models '
                      'and classes and takes the server sizes from '
                      'flavor_counts; without it, resource classes are '
                      'shown as they are and sizes 1, 2, 4, 8')
        parser.add_argument(
            '--summary', action='store_true',
            help='one row per GPU model over the whole cloud')
        return parser

    def take_action(self, parsed_args):
        gpu_catalog = base.load_catalog(parsed_args.catalogs, required=False)
        with connect.errors():
            providers = cloud_capacity.pci_providers(
                self.app.client_manager.gpu)
        report = capacity.report(providers, gpu_catalog)
        fits = tuple(f'Fit x{n}' for n in report.counts)
        columns = ('GPU', 'Total', 'Used', 'Free', 'Largest') + fits
        if not providers:
            self.say(NO_INVENTORY)
        elif not report.hosts:
            self.say('no PCI resource class in placement is a GPU of the '
                     f'catalog (found {", ".join(report.ignored)}); set '
                     'resource_class in the catalog as in [pci] device_spec')
        elif report.ignored:
            self.say('not in the catalog (ignored): '
                     + ', '.join(report.ignored))
        if not report.hosts:
            self.exit_status = exception.EXIT_FINDINGS
        if parsed_args.summary:
            return columns, [
                (g.group, g.total, g.used, g.free, g.largest)
                + tuple(report.fits[g.group][n] for n in report.counts)
                for g in report.groups]
        return ('Host',) + columns, [
            (h.host, h.group, h.total, h.used, h.free, h.largest)
            + tuple(h.fit(n) for n in report.counts)
            for h in report.hosts]
