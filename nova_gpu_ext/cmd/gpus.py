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

"""``gpu cordon``, ``uncordon``, ``release`` and ``list``: one GPU's service.

Commands of ``nova-gpu-ext`` and of ``openstack gpu``, in placement mode
(:mod:`nova_gpu_ext.admin.lifecycle` says why ``reserved`` is the switch).
Each change says on stderr what it changed and how to undo it, and
prints the device as ``gpu list`` shows it afterwards. A refusal
(legacy mode, a device still allocated, a concurrent change, a health
file that is not ok) changes nothing and exits 1.
"""

import logging

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin.cloud import devices
from nova_gpu_ext.admin.fleet import placement
from nova_gpu_ext.admin import lifecycle
from nova_gpu_ext.cmd import base
from nova_gpu_ext import exception

LOG = logging.getLogger(__name__)

COLUMNS = ('host', 'address', 'state', 'model', 'numa_node', 'server',
           'resource_provider')


def rows(found, kinds: placement.Kinds) -> list[tuple]:
    """``gpu list`` rows; NUMA is None: placement does not know it."""
    return [(d.host, d.address, d.state.value, _model(d, kinds), None,
             ','.join(d.consumers), d.provider) for d in found]


def _model(device: lifecycle.Device, kinds: placement.Kinds) -> str:
    kind = kinds.of(device.resource_class)
    return kind[1] if kind else device.resource_class


class GpuList(base.Lister):
    """List the GPUs in placement and the state of each.

    free, in_use, cordoned (reserved by the operator; a server on it
    keeps it) or awaiting_cleaning (one-time-use, its server gone). model
    is the resource class, or the catalog's model name with --catalog.
    """

    COLUMNS = COLUMNS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--host', metavar='HOST',
                            help='only this hypervisor host')
        base.add_catalog(parser, required=False,
                         help_text='GPU catalog naming the models')
        return parser

    def take_action(self, parsed_args):
        kinds = placement.Kinds(
            base.load_catalog(parsed_args.catalogs, required=False))
        found = devices.every(connect.opened(self.app.client_manager),
                              parsed_args.host)
        return self.COLUMNS, rows(found, kinds)


class _Change(base.Lister):
    """One device: HOST ADDRESS, and the change of its ``reserved``."""

    COLUMNS = COLUMNS

    back = True

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('host', metavar='HOST',
                            help='hypervisor host name (openstack '
                                 'hypervisor list)')
        parser.add_argument('address', metavar='ADDRESS',
                            help='PCI address of the GPU, e.g. 0000:81:00.0')
        return parser

    def take_action(self, parsed_args):
        conn = connect.opened(self.app.client_manager)
        device = devices.find(conn, parsed_args.host,
                              lifecycle.address(parsed_args.address),
                              self.back)
        wanted = self.reserved(device, parsed_args)
        if wanted == device.reserved:
            self.say(f'{device.name} is {device.state.value} with reserved '
                     f'{device.reserved}: nothing changed')
        else:
            device = self._set(conn, device, wanted, parsed_args)
        return self.COLUMNS, rows([device], placement.Kinds())

    def _set(self, conn, device, wanted, parsed_args):
        changed = devices.set_reserved(conn, device, wanted)
        self.say(f'{self.done(changed, parsed_args)}: reserved '
                 f'{device.reserved} -> {wanted} on resource provider '
                 f'{device.provider}; undo: {self.undo(changed)}')
        return changed

    def reserved(self, device, parsed_args) -> int:
        """The ``reserved`` wanted; raise Refused if it must not change."""
        raise NotImplementedError

    def done(self, device, parsed_args) -> str:
        raise NotImplementedError

    def undo(self, device) -> str:
        raise NotImplementedError


class GpuCordon(_Change):
    """Take one GPU out of service: nothing new is placed on it.

    Sets its provider's reserved to its total. A server using it keeps it
    until it leaves; gpu uncordon puts it back. The reason is said and
    logged (placement cannot store it).
    """

    back = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--reason', required=True, metavar='TEXT',
                            help='why (logged with the change, not stored '
                                 'in placement)')
        return parser

    def reserved(self, device, parsed_args) -> int:
        lifecycle.reason(parsed_args.reason)
        return max(device.total, device.reserved)

    def done(self, device, parsed_args) -> str:
        why = lifecycle.reason(parsed_args.reason)
        LOG.info('cordoned %(device)s (provider %(rp)s): %(reason)s',
                 {'device': device.name, 'rp': device.provider,
                  'reason': why})
        servers = ', '.join(device.consumers)
        keeps = f'; {servers} keeps it until it leaves' if servers else ''
        return f'cordoned {device.name} ({why}){keeps}'

    def undo(self, device) -> str:
        return f'gpu uncordon {device.host} {device.address}'


class GpuUncordon(_Change):
    """Put a cordoned GPU back in service (reserved 0).

    Refused for a one-time-use GPU still allocated: nova reserved it for
    its server; gpu release returns it once it is cleaned.
    """

    def reserved(self, device, parsed_args) -> int:
        refusal = lifecycle.uncordon_refusal(device)
        if refusal:
            raise lifecycle.Refused(f'{refusal}; nothing was changed')
        return 0

    def done(self, device, parsed_args) -> str:
        return f'uncordoned {device.name}'

    def undo(self, device) -> str:
        return (f'gpu cordon {device.host} {device.address} --reason '
                '"..."')


class GpuRelease(_Change):
    """Return a cleaned one-time-use GPU to service (reserved 0).

    Only when no allocation holds it. With --health FILE (the host's
    check-host --textfile file or check-host --health -f json output),
    refused unless the GPU and its companions are healthy.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--health', metavar='FILE',
            help='health of the host: its check-host --textfile file or '
                 'check-host --health -f json output; refuse unless ok')
        return parser

    def reserved(self, device, parsed_args) -> int:
        refusal = lifecycle.release_refusal(device)
        if refusal:
            raise lifecycle.Refused(f'{refusal}; nothing was changed')
        if parsed_args.health:
            _check_health(parsed_args.health, device)
        return 0

    def done(self, device, parsed_args) -> str:
        return f'released {device.name}'

    def undo(self, device) -> str:
        return (f'gpu cordon {device.host} {device.address} --reason '
                '"..."')


def _check_health(path: str, device: lifecycle.Device) -> None:
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise exception.BadInput(
            f'--health {path}: cannot read it: '
            f'{getattr(exc, "strerror", None) or exc}') from exc
    status = lifecycle.health_status(text, path, device.address)
    if status != 'ok':
        raise lifecycle.Refused(
            f'{device.name} is not healthy in {path} ({status}): run '
            f'check-host --health on {device.host} for the findings and '
            'what to do; nothing was changed')
