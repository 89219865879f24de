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

"""Property tests: whatever the files hold, only our own errors come out.

Random bytes and random INI text are fed to the catalog loader (and what
loads, to genconf's renderer); random host trees (files, directories,
links that dangle or loop, garbage contents) to ``read_host``, the
checks of check-host and discover's output. None of them may raise
anything but a :class:`nova_gpu_ext.exception.NovaGpuExtError` with a
one-line message, and nothing read may change the structure of what is
printed.
"""

import os
import re
import tempfile

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_gpu_ext.admin import releases
from nova_gpu_ext.admin import render
from nova_gpu_ext.common import catalog_file
from nova_gpu_ext.common import catalog_opts
from nova_gpu_ext import exception
from nova_gpu_ext.host import discovery
from nova_gpu_ext.host import hostcheck
from nova_gpu_ext.host import sysfs
from tests import base as test_base


NEWEST = releases.parse(releases.NEWEST)
OPTION_NAMES = sorted({o.dest for o in catalog_opts.CATALOG_OPTS
                       + catalog_opts.MODEL_OPTS + catalog_opts.CLASS_OPTS
                       + catalog_opts.FLAVOR_OPTS})

# Values that mean something to some option, so that examples get past
# the first check often enough to reach the later ones.
MEANINGFUL = ('10de', '11b4', '1db4', '10DE', '10de:0e0a', 'type-PF',
              'type-PCI', 'type-VF', 'a', 'b', 'a, b', 'c', 'a-1', 'a_1',
              'é', '0000:81:*.*', '0000:zz:00.0', '*', 'required',
              'socket', 'true', 'no', '1, 2', '0', 'GPU_X', 'CUSTOM_GPU_X',
              'NVLINK', 'k:1', '$x', '$$', '', 'any')


# Catalogs that load, for random lines to start from.
BASES = ('', '[nova_gpu_ext]\ngpu_models = a\n[gpu:a]\nvendor_id = 10de\n'
             'product_id = 11b4',
         '[nova_gpu_ext]\ngpu_models = a, b\ngpu_classes = c\n'
         '[gpu_class:c]\nmodels = a, b\n[gpu:b]\nvendor_id = 10de\n'
         'product_id = 1db4\n[gpu:a]\nvendor_id = 10de\nproduct_id = 11b4')


def ini_lines():
    section = st.sampled_from(['nova_gpu_ext', 'gpu:a', 'gpu:b', 'gpu:a-1',
                               'gpu:a_1', 'gpu_class:c', 'DEFAULT', 'pci',
                               'GPU:A', 'gpu:', 'gpu_class:'])
    value = st.sampled_from(MEANINGFUL) | st.text(max_size=12)
    option = st.tuples(st.sampled_from(OPTION_NAMES + ['prodcut_id']),
                       value).map(lambda kv: f'{kv[0]} = {kv[1]}')
    # Mostly options, so that many examples load and reach genconf; at
    # most one line of anything else.
    odd = st.one_of(
        st.sampled_from(['', '# comment', '  continued', '  [DEFAULT]',
                         '[', 'x']),
        section.map(lambda s: f'[{s}]'), st.text(max_size=16))
    lines = st.tuples(st.lists(option, max_size=6),
                      st.lists(odd, max_size=1), st.integers(0, 6)).map(
        lambda parts: (parts[0][:parts[2]] + parts[1] + parts[0][parts[2]:]))
    return st.tuples(st.sampled_from(BASES), lines).map(
        lambda base_lines: [base_lines[0]] + base_lines[1])


def assertOurs(test, exc):
    """Only our errors, and each a single printable line."""
    test.assertIsInstance(exc, exception.NovaGpuExtError)
    test.assertTrue(str(exc).isprintable(), repr(str(exc)))


class TestCatalogInput(test_base.TestCase):

    def load(self, data: bytes):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'catalog.conf')
            with open(path, 'wb') as out:
                out.write(data)
            return catalog_file.load_catalog([path])

    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=300))
    def test_random_bytes(self, data):
        try:
            self.load(data)
        except Exception as exc:  # the property: only our errors
            assertOurs(self, exc)

    @settings(max_examples=300, deadline=None)
    @given(ini_lines())
    def test_random_ini_text_and_what_it_renders(self, lines):
        try:
            gpu_catalog = self.load('\n'.join(lines).encode())
            for role in ('compute', 'controller', 'scheduler'):
                for placement in (False, True):
                    text = render.format_nova_conf(
                        render.nova_conf(gpu_catalog, role, NEWEST,
                                         placement), 'header')
                    self.assertRendered(text)
            render.format_host_files(
                render.host_files(gpu_catalog, 'intel'), 'header')
        except Exception as exc:  # the property: only our errors
            assertOurs(self, exc)

    def assertRendered(self, text):
        """Comments, sections nova knows, options: nothing else."""
        for line in text.splitlines():
            self.assertTrue(
                line == '' or line.startswith('# ')
                or line in ('[pci]', '[filter_scheduler]')
                or re.match(r'^[a-z_]+ = \S', line), line)


# A small vocabulary of host trees: PCI functions with attribute files
# that hold good values, garbage, or are directories or broken links.
ADDRESSES = ('0000:03:00.0', '0000:03:00.1', '0000:41:00.0', '0000:00:02.0')
ATTRIBUTES = {
    'vendor': ('0x10de', '0x8086', '0x10DE', '10de', '0x10de0', '\n[evil]',
               'zz'),
    'device': ('0x11b4', '0x0e0a', '0x20b0', '0x', 'x = 1'),
    'class': ('0x030000', '0x040300', '0x060400', '0x0302', ''),
    'numa_node': ('0', '1', '-1', 'x', '99999999999999999999'),
    'sriov_totalvfs': ('0', '16', '-1', 'many'),
    'boot_vga': ('0', '1', '2'),
}
KINDS = ('good', 'good', 'good', 'text', 'bytes', 'directory', 'dangling',
         'loop')


def attribute():
    return st.tuples(st.sampled_from(KINDS), st.text(max_size=8),
                     st.binary(max_size=8))


def function():
    """A PCI function; half are clean, to reach the checks of real GPUs.

    A clean function has every attribute as the kernel writes it.
    """
    return st.fixed_dictionaries({
        'clean': st.booleans(),
        'attrs': st.fixed_dictionaries(
            {name: st.tuples(st.sampled_from(values), attribute())
             for name, values in ATTRIBUTES.items()}),
        'group': st.sampled_from([None, '13', '13', '40', '40', 'dangling',
                                  'loop', 'odd']),
        'driver': st.sampled_from([None, 'vfio-pci', 'vfio-pci', 'nouveau',
                                   'dangling', 'loop']),
    })


def host():
    return st.fixed_dictionaries({
        'functions': st.dictionaries(st.sampled_from(ADDRESSES), function(),
                                     max_size=4),
        'pci_ids': st.sampled_from([None, '10de  NVIDIA\n\t11b4  K4200\n'])
        | st.text(max_size=40),
        'modprobe': st.sampled_from([None, 'blacklist nouveau\n',
                                     'directory']),
        'cmdline': st.text(max_size=20),
    })


class TreeBuilder:
    """Writes a ``host()`` example below a root directory."""

    def __init__(self, root):
        self.root = root

    def path(self, relative):
        path = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def write(self, relative, data):
        with open(self.path(relative), 'wb') as out:
            out.write(data if isinstance(data, bytes) else data.encode())

    def build(self, example):
        os.makedirs(self.path('sys/bus/pci/devices/x'))
        self.write('proc/cmdline', example['cmdline'])
        if example['pci_ids'] is not None:
            self.write('usr/share/misc/pci.ids', example['pci_ids'])
        if example['modprobe'] == 'directory':
            os.makedirs(self.path('etc/modprobe.d/gpu.conf/x'))
        elif example['modprobe'] is not None:
            self.write('etc/modprobe.d/gpu.conf', example['modprobe'])
        for address, spec in example['functions'].items():
            self.add(address, spec)

    def add(self, address, spec):
        device = f'sys/devices/pci0000:00/{address}'
        os.makedirs(self.path(device + '/x'))
        os.symlink(os.path.join(self.root, device),
                   self.path(f'sys/bus/pci/devices/{address}'))
        for name, (good, (kind, text, data)) in spec['attrs'].items():
            self.attribute(f'{device}/{name}',
                           'good' if spec['clean'] else kind, good, text,
                           data)
        self.link(device, 'iommu_group', spec['group'],
                  'sys/kernel/iommu_groups/{}', address)
        self.link(device, 'driver', spec['driver'],
                  'sys/bus/pci/drivers/{}', None)

    def attribute(self, relative, kind, good, text, data):
        path = self.path(relative)
        if kind == 'good':
            self.write(relative, good + '\n')
        elif kind == 'text':
            self.write(relative, text)
        elif kind == 'bytes':
            self.write(relative, data)
        elif kind == 'directory':
            os.makedirs(path)
        elif kind == 'dangling':
            os.symlink(path + '.missing', path)
        else:
            os.symlink(os.path.basename(path), path)

    def link(self, device, name, target, template, member):
        if target is None:
            return
        path = self.path(f'{device}/{name}')
        if target == 'dangling':
            os.symlink(path + '.missing', path)
        elif target == 'loop':
            os.symlink(name, path)
        elif target == 'odd':
            os.symlink(self.root, path)
        else:
            directory = self.path(template.format(target) + '/devices/x')
            os.makedirs(directory, exist_ok=True)
            target_dir = os.path.dirname(os.path.dirname(directory)) \
                if member else os.path.dirname(directory)
            if member:
                member_link = os.path.join(os.path.dirname(directory),
                                           member)
                if not os.path.lexists(member_link):
                    os.symlink(os.path.join(self.root, device), member_link)
            os.symlink(target_dir, path)


class TestHostTrees(test_base.TestCase):

    @settings(max_examples=200, deadline=None)
    @given(host())
    def test_random_trees(self, example):
        with tempfile.TemporaryDirectory() as root:
            TreeBuilder(root).build(example)
            try:
                facts = sysfs.read_host(root)
                self.assertChecksArePrintable(facts)
                self.assertDiscoverOutput(facts)
            except Exception as exc:  # the property: only our errors
                assertOurs(self, exc)

    def assertChecksArePrintable(self, facts):
        checks = hostcheck.check_host(facts,
                                      hostcheck.passthrough_gpus(facts))
        for check in checks:
            for text in (check.subject, check.message, check.remedy):
                self.assertTrue(text.isprintable(), repr(text))
        if facts.problems:
            self.assertIn('read', {c.name for c in checks})

    def assertDiscoverOutput(self, facts):
        models = discovery.found_models(facts)
        text = discovery.render_ini(facts, models)
        names = [m.name for m in models]
        allowed = {'[nova_gpu_ext]'} | {f'[gpu:{n}]' for n in names}
        for line in text.splitlines():
            self.assertTrue(line.isprintable(), repr(line))
            self.assertTrue(
                line == '' or line.startswith('#') or line in allowed
                or re.match(r'^(gpu_models|vendor_id|product_id|device_type'
                            r'|companions) = [0-9A-Za-z_:, -]+$', line), line)
        for name in names:
            self.assertRegex(name, r'^[a-z0-9_]+$')
        if models:
            self.assertLoadsAsCatalog(text, models)

    def assertLoadsAsCatalog(self, text, models):
        """What discover prints is a catalog of the GPUs it found."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'catalog.conf')
            with open(path, 'w') as out:
                out.write(text)
            loaded = catalog_file.load_catalog([path])
        self.assertEqual([(m.name, m.first.ids) for m in models],
                         [(m.name, m.ids) for m in loaded.models])
