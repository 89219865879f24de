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

"""``nova-gpu-ext lint-conf``: PCI passthrough mistakes in nova.conf files.

Plain ``--nova-conf FILE`` values are the files of one node, checked as
one configuration (the one-file meaning); ``ROLE=FILE`` values and
``--nova-conf-tree`` trees are services, checked each on its own and
against each other (:mod:`nova_gpu_ext.admin.lint_services`).
"""

from nova_gpu_ext.admin import lint
from nova_gpu_ext.admin import lint_services
from nova_gpu_ext.cmd import base
from nova_gpu_ext.cmd import genconf
from nova_gpu_ext import exception


class LintConf(base.Lister):
    """Find PCI passthrough mistakes in nova.conf files, each with its fix.

    Give all files of one node together (nova.conf and the files of
    nova.conf.d), so aliases are checked against its device_spec; give
    the files of each service as ROLE=FILE (api, scheduler, conductor,
    compute, compute@HOST), or kolla config trees, to check the services
    against each other. Exit status 1 when there are findings.
    """

    COLUMNS = ('file', 'service', 'section', 'option', 'value', 'finding',
               'problem', 'fix', 'other_file')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_nova_conf(
            parser, required=False,
            help_text='nova.conf file of the node to check, or ROLE=FILE '
                      'for the file of one service (api, scheduler, '
                      'conductor, compute, compute@HOST)')
        parser.add_argument(
            '--nova-conf-tree', action='append', default=[], metavar='DIR',
            dest='trees',
            help='kolla config tree: DIR/nova-api/nova.conf, '
                 'DIR/nova-compute/nova.conf, ... or one such tree per '
                 'host, DIR/HOST/nova-compute/nova.conf; repeat for '
                 'several')
        base.add_catalog(
            parser, required=False,
            help_text='GPU catalog whose largest flavor_counts sizes the '
                      'max_placement_results check (default: a flavor '
                      'taking every GPU of a host)')
        parser.add_argument(
            '--gpus-per-host', type=int, metavar='N',
            help='GPUs of one resource class per compute host, for the '
                 'max_placement_results check (default: the per-address '
                 'device_spec entries of each compute file)')
        base.add_nova_release(
            parser, 'nova release of that node; option names are '
                    'deprecated relative to it')
        genconf.add_topology(
            parser, 'compare the pcie_switch tags of the device_spec '
                    'entries with the PCIe switches this host (--root) '
                    'shows; for the files of this compute host')
        return parser

    def take_action(self, parsed_args):
        release = base.nova_release(parsed_args.nova_release)
        sources = _sources(parsed_args)
        services = lint_services.read_services(sources)
        if all(s.role == lint_services.NODE for s in sources):
            findings = lint.check(services[0].entries, release)
        else:
            findings = lint_services.check(
                services, release,
                largest_request=_largest_request(parsed_args.catalogs),
                gpus_per_host=_positive(parsed_args.gpus_per_host))
        names = {p: s.name for s in services for p in s.paths}
        root = genconf.topology_root(parsed_args)
        if root is not None:
            findings += lint.check_topology(
                [e for s in services if s.runs('compute')
                 for e in s.entries], genconf.read_gpus(root, self.say))
        self.say(f'{len(findings)} finding(s) in '
                 f'{", ".join(s.path for s in sources)}')
        self.exit_status = (exception.EXIT_FINDINGS if findings
                            else exception.EXIT_OK)
        return self.COLUMNS, [
            (f.entry.path, _service(f, services, names), f.entry.section,
             f.entry.option, f.entry.value, f.code, f.problem, f.fix,
             f.other) for f in findings]


def _service(finding, services, names) -> str:
    """The service whose entry it is; one file may be several's."""
    return next((s.name for s in services
                 if any(e is finding.entry for e in s.entries)),
                names[finding.entry.path])


def _sources(args) -> list[lint_services.Source]:
    sources = [lint_services.parse_source(v) for v in args.nova_confs]
    sources += [s for tree in args.trees
                for s in lint_services.tree_sources(tree)]
    if not sources:
        raise exception.BadInput(
            'lint-conf: give --nova-conf FILE (one node), --nova-conf '
            'ROLE=FILE (one service) or --nova-conf-tree DIR')
    return sources


def _largest_request(paths) -> int | None:
    """The most GPUs a catalog flavor asks for; None without a catalog."""
    gpu_catalog = base.load_catalog(paths, required=False)
    if gpu_catalog is None:
        return None
    counts = [c for entry in gpu_catalog.models + gpu_catalog.classes
              for c in entry.flavor.counts]
    return max(counts, default=None)


def _positive(count: int | None) -> int | None:
    if count is not None and count < 1:
        raise exception.BadInput(
            f'--gpus-per-host {count}: give a count of 1 or more')
    return count
