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

"""Synthetic host trees with the real sysfs layout, and the test hosts.

Like the kernel's: devices live under ``sys/devices/pciDDDD:BB/`` (the
host bridge of their root bus, in the directory of each bridge above
them), ``sys/bus/pci/devices/ADDR`` is a relative symlink to them,
``driver`` and ``iommu_group`` are symlinks into ``sys/bus/pci/drivers``
and ``sys/kernel/iommu_groups``, ids and class are files.
"""

import os

import fixtures

PCI_IDS = """\
# test excerpt of pci.ids
10de  NVIDIA Corporation
\t0e0a  GK104 HDMI Audio Controller
\t11b4  GK104GL [Quadro K4200]
\t\t10de 1096  Quadro K4200
\t1e07  TU102 [GeForce RTX 2080 Ti Rev. A]
\t20b0  GA100 [A100 SXM4 40GB]
1002  Advanced Micro Devices, Inc. [AMD/ATI]
\t67c4  Ellesmere [Radeon Pro WX 7100]
C 03  Display controller
\t00  VGA compatible controller
"""

VGA = '0x030000'
DISPLAY_3D = '0x030200'
AUDIO = '0x040300'
USB_XHCI = '0x0c0330'
SERIAL_BUS_OTHER = '0x0c8000'
ETHERNET = '0x020000'
BRIDGE = '0x060400'

INTEL = 'GenuineIntel'
AMD = 'AuthenticAMD'


class SysfsTree(fixtures.Fixture):
    """A host root in a temporary directory; add functions, then read it."""

    def _setUp(self):
        self.root = self.useFixture(fixtures.TempDir()).path
        self._device_dirs = {}
        self._mkdir('sys/bus/pci/devices')
        self.write('proc/cmdline', 'BOOT_IMAGE=/vmlinuz root=/dev/sda1\n')

    def write(self, relative, text):
        path = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as out:
            out.write(text)

    def add_function(self, address, vendor, device, class_code, *,
                     driver=None, group=None, numa=0, totalvfs=None,
                     parent=None, boot_vga=None, host_bridge='pci0000:00',
                     bars=None):
        """One PCI function; ``parent`` must have been added before.

        Without a parent it sits on the root bus of ``host_bridge``.
        ``bars``: the ``resource`` file's regions, (start, size, flags) per
        line (see :func:`resource`).
        """
        base = (self._device_dirs[parent] if parent
                else self._mkdir(f'sys/devices/{host_bridge}'))
        path = os.path.join(base, address)
        self._device_dirs[address] = path
        os.makedirs(path)
        attrs = {'vendor': f'0x{vendor}', 'device': f'0x{device}',
                 'class': class_code, 'numa_node': str(numa)}
        if totalvfs is not None:
            attrs['sriov_totalvfs'] = str(totalvfs)
        if boot_vga is not None:
            attrs['boot_vga'] = '1' if boot_vga else '0'
        attrs['reset_method'] = 'flr bus'
        if bars is not None:
            attrs['resource'] = resource(bars)
        for name, value in attrs.items():
            with open(os.path.join(path, name), 'w') as out:
                out.write(value + '\n')
        with open(os.path.join(path, 'config'), 'wb') as out:
            out.write(config_space(vendor, device))
        self._link('sys/bus/pci/devices', address, path)
        if driver:
            drv = self._mkdir(f'sys/bus/pci/drivers/{driver}')
            self._link(drv, address, path)
            self._link(path, 'driver', drv)
        if group is not None:
            grp = self._mkdir(f'sys/kernel/iommu_groups/{group}/devices')
            self._link(grp, address, path)
            self._link(path, 'iommu_group', os.path.dirname(grp))

    def attribute(self, address, name):
        """The path of attribute (or link) ``name`` of function ``address``."""
        return os.path.join(self._device_dirs[address], name)

    def replace(self, address, name, data):
        """Write ``data`` (bytes) over attribute ``name`` of ``address``."""
        with open(self.attribute(address, name), 'wb') as out:
            out.write(data)

    def set_health(self, address, *, fatal=0, nonfatal=0, correctable=0,
                   width=16, max_width=16, reset_method='flr bus'):
        """The AER counters, link and reset files of a PCIe function.

        As Linux 6.x writes them; ``reset_method=None`` removes the
        attribute and ``reset`` as the kernel does for a device without
        any reset method.
        """
        aer = {'aer_dev_fatal': ('TOTAL_ERR_FATAL', fatal),
               'aer_dev_nonfatal': ('TOTAL_ERR_NONFATAL', nonfatal),
               'aer_dev_correctable': ('TOTAL_ERR_COR', correctable)}
        for name, (total, count) in aer.items():
            self.replace(address, name, (
                f'Undefined 0\nDLP {count}\nSDES 0\n{total} {count}\n'
            ).encode())
        self.replace(address, 'current_link_width', f'{width}\n'.encode())
        self.replace(address, 'max_link_width', f'{max_width}\n'.encode())
        self.replace(address, 'current_link_speed', b'2.5 GT/s PCIe\n')
        self.replace(address, 'max_link_speed', b'16.0 GT/s PCIe\n')
        if reset_method is None:
            for name in ('reset_method', 'reset'):
                if os.path.exists(self.attribute(address, name)):
                    os.remove(self.attribute(address, name))
        else:
            self.replace(address, 'reset_method',
                         f'{reset_method}\n'.encode())
            self.replace(address, 'reset', b'')

    def kill(self, address):
        """Config space as a device off the bus reads: all ones."""
        self.replace(address, 'config', b'\xff' * 256)

    def set_cpu(self, vendor, phys_bits=46):
        self.write('proc/cpuinfo', f'processor\t: 0\nvendor_id\t: {vendor}\n'
                   f'address sizes\t: {phys_bits} bits physical, 48 bits '
                   'virtual\n')

    def set_modules(self, *names):
        self.write('proc/modules', ''.join(
            f'{n} 16384 0 - Live 0x0000000000000000\n' for n in names))

    def add_pci_ids(self):
        self.write('usr/share/misc/pci.ids', PCI_IDS)

    def _mkdir(self, relative):
        path = os.path.join(self.root, relative)
        os.makedirs(path, exist_ok=True)
        return path

    def _link(self, directory, name, target):
        directory = os.path.join(self.root, directory)
        os.symlink(os.path.relpath(target, directory),
                   os.path.join(directory, name))


def config_space(vendor, device):
    """The first 64 bytes of a type 0 header: vendor and device ids first."""
    return (int(vendor, 16).to_bytes(2, 'little')
            + int(device, 16).to_bytes(2, 'little') + bytes(60))


# resource flags as the kernel writes them (include/linux/ioport.h plus
# the BAR's low bits): 32-bit non-prefetchable memory, 64-bit
# prefetchable memory.
MEM32 = 0x40200
MEM64_PREFETCH = 0x14220c
GIB = 2 ** 30
MIB = 2 ** 20


def resource(regions):
    """``resource`` text: ``(start, size, flags)`` or None (unused)."""
    lines = []
    for region in regions:
        start, size, flags = region or (0, 0, 0)
        end = start + size - 1 if size else 0
        lines.append(f'0x{start:016x} 0x{end:016x} 0x{flags:016x}')
    return '\n'.join(lines)


def h100_bars(index):
    """The regions of an H100 PCIe 80GB, as lspci -vv shows them.

    BAR0 16 MiB (32-bit), BAR1 128 GiB and BAR3 32 MiB (64-bit
    prefetchable, each taking two BAR slots); the ROM unused.
    """
    base = 0x200000000000 + index * 0x2200000000
    return [(0x90000000 + index * 0x1000000, 16 * MIB, MEM32),
            (base, 128 * GIB, MEM64_PREFETCH), None,
            (base + 128 * GIB, 32 * MIB, MEM64_PREFETCH), None, None, None]


def h100s(tree, count=4):
    """``count`` H100 PCIe (type-PF: SR-IOV capable) on vfio-pci."""
    for i in range(count):
        tree.add_function(f'0000:{0x41 + i:02x}:00.0', '10de', '2331',
                          DISPLAY_3D, driver='vfio-pci', group=70 + i,
                          totalvfs=32, bars=h100_bars(i))


def k4200(tree, audio_driver='vfio-pci'):
    """Quadro K4200 with its HDMI audio behind root port 00:02.0."""
    tree.add_function('0000:00:02.0', '8086', '6f08', BRIDGE,
                      driver='pcieport', group=2)
    tree.add_function('0000:03:00.0', '10de', '11b4', VGA,
                      driver='vfio-pci', group=13, parent='0000:00:02.0')
    tree.add_function('0000:03:00.1', '10de', '0e0a', AUDIO,
                      driver=audio_driver, group=13, parent='0000:00:02.0')


def a100(tree):
    """A100 SXM4: SR-IOV capable, so nova sees a type-PF."""
    tree.add_function('0000:41:00.0', '10de', '20b0', DISPLAY_3D,
                      driver='vfio-pci', group=40, numa=1, totalvfs=16)


def turing(tree, usb_driver='vfio-pci', ucsi_driver='vfio-pci'):
    """RTX 2080 Ti: VGA, HDMI audio, USB xHCI and USB-C UCSI functions."""
    functions = [('0', '1e07', VGA, 'vfio-pci'),
                 ('1', '10f7', AUDIO, 'vfio-pci'),
                 ('2', '1ad6', USB_XHCI, usb_driver),
                 ('3', '1ad7', SERIAL_BUS_OTHER, ucsi_driver)]
    for fn, device, class_code, driver in functions:
        tree.add_function(f'0000:65:00.{fn}', '10de', device, class_code,
                          driver=driver, group=60)


def amd_wx7100(tree, driver='vfio-pci'):
    tree.add_function('0000:0a:00.0', '1002', '67c4', VGA,
                      driver=driver, group=21)
    tree.add_function('0000:0a:00.1', '1002', 'aaf0', AUDIO,
                      driver=driver, group=21)


def gpu_sharing_group_with_nic(tree):
    """A K4200 and a NIC behind a switch port without ACS: one group."""
    tree.add_function('0000:05:00.0', '10de', '11b4', VGA,
                      driver='vfio-pci', group=30)
    tree.add_function('0000:05:00.1', '10de', '0e0a', AUDIO,
                      driver='vfio-pci', group=30)
    tree.add_function('0000:06:00.0', '8086', '1572', ETHERNET,
                      driver='i40e', group=30)


def ready_modules(tree):
    """vfio loaded, host GPU drivers blacklisted: a prepared host."""
    tree.set_modules('vfio_pci', 'vfio_iommu_type1', 'vfio')
    tree.write('etc/modprobe.d/blacklist-gpu.conf',
               'blacklist nouveau\ninstall nvidia /bin/false\n'
               'blacklist amdgpu # no host use\nblacklist radeon\n')


# PCIe GPU servers (8 GPUs behind 2 or 4 switches; L40S, A40, RTX 6000,
# H100 PCIe builds). Root buses as on a two-socket EPYC: one host bridge
# per quarter of the bus range; the ids are those of the real parts.
ROOT_PORT = ('1022', '1483')    # AMD EPYC PCIe GPP bridge (root port)
SWITCH_PORT = ('1000', 'c030')  # Broadcom PEX890xx switch port
L40S = ('10de', '26b9')
L40S_TOTALVFS = 32
CONNECTX6 = ('15b3', '101b')


def root_bus(index):
    """Bus of host bridge ``index``: 0x00, 0x40, 0x80, 0xc0."""
    return index * 0x40


class Board:
    """Builds a server's PCIe tree; gives each function its own group.

    Each root port gets its own root bus (host bridge); buses below it
    are numbered as the firmware does, depth first.
    """

    def __init__(self, tree):
        self.tree = tree
        self._group = 100

    def add(self, address, ids, class_code, **kwargs):
        self._group += 1
        self.tree.add_function(address, *ids, class_code,
                               group=self._group, **kwargs)
        return address

    def root_port(self, index, numa=None):
        bus = root_bus(index)
        return self.add(f'0000:{bus:02x}:01.1', ROOT_PORT, BRIDGE,
                        driver='pcieport',
                        numa=index // 2 if numa is None else numa,
                        host_bridge=f'pci0000:{bus:02x}')

    def gpu(self, address, parent, numa, audio=False):
        """An L40S below ``parent``; with ``audio``, its HDMI function."""
        self.add(address, L40S, DISPLAY_3D, driver='vfio-pci', numa=numa,
                 totalvfs=L40S_TOTALVFS, parent=parent)
        if audio:
            self.add(address[:-1] + '1', ('10de', '22ba'), AUDIO,
                     driver='vfio-pci', numa=numa, parent=parent)
        return address

    def switch(self, index, gpus, nics=0, audio=False, numa=None):
        """A switch on root port ``index``, a downstream port per device.

        Root port -> upstream port -> downstream ports -> a GPU (or NIC)
        each; returns (upstream port, GPU addresses).
        """
        bus = root_bus(index)
        numa = index // 2 if numa is None else numa
        upstream = self.add(f'0000:{bus + 1:02x}:00.0', SWITCH_PORT, BRIDGE,
                            driver='pcieport', numa=numa,
                            parent=self.root_port(index, numa))
        addresses = []
        for port in range(gpus + nics):
            downstream = self.add(
                f'0000:{bus + 2:02x}:{port:02x}.0', SWITCH_PORT, BRIDGE,
                driver='pcieport', numa=numa, parent=upstream)
            address = f'0000:{bus + 3 + port:02x}:00.0'
            if port < gpus:
                addresses.append(self.gpu(address, downstream, numa, audio))
            else:
                self.add(address, CONNECTX6, ETHERNET, driver='mlx5_core',
                         numa=numa, parent=downstream)
        return upstream, addresses

    def on_root_port(self, index):
        """A GPU straight on root port ``index``; returns its address."""
        bus = root_bus(index)
        return self.gpu(f'0000:{bus + 1:02x}:00.0', self.root_port(index),
                        index // 2)


def switch_server(tree, switches, gpus_per_switch, **kwargs):
    """``switches`` switches of ``gpus_per_switch`` GPUs each.

    Two sockets: the first half of the switches on NUMA node 0, the
    other half on node 1. Returns {upstream port: [GPU addresses]}.
    """
    board = Board(tree)
    return dict(board.switch(i, gpus_per_switch, numa=2 * i // switches,
                             **kwargs)
                for i in range(switches))
