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

"""Options of GpuPassthroughFilter and GpuWeigher."""

from oslo_config import cfg

from nova_gpu_ext.gpu import models

GROUP = cfg.OptGroup(
    'nova_gpu_ext',
    title='GPU passthrough scheduling',
    help="""
Options of nova_gpu_ext: the scheduler filter and weigher (read by
nova-scheduler) and the GPU catalog (read by the nova-gpu-ext commands).
""")

FILTER_OPTS = [
    cfg.BoolOpt(
        'same_model_default',
        default=True,
        help="""
Give every multi-GPU request GPUs of one model.

GpuPassthroughFilter passes a host only if all devices given for one
``alias:count`` item of ``pci_passthrough:alias`` share vendor and product
id, which CUDA multi-GPU jobs need. Different items of one flavor may still
get different models.

Possible values:

* True: identical GPUs unless the flavor sets ``gpu:same_model=false``.
* False: models may mix unless the flavor sets ``gpu:same_model=true``.

Related options:

* ``[filter_scheduler] enabled_filters`` must list GpuPassthroughFilter.
"""),
    cfg.StrOpt(
        'numa_default',
        default='prefer',
        choices=[
            ('single', 'all devices of one request on one host NUMA node; '
                       'hosts (and allocation candidates) that cannot do '
                       'that are refused'),
            ('prefer', 'a placement that splits a request over NUMA nodes '
                       'only when no host of the request\'s list can keep '
                       'it on one node'),
            ('any', 'NUMA does not filter; GpuWeigher still prefers an '
                    'unsplit placement between two that fit equally'),
        ],
        help="""
NUMA locality of the GPUs of one request, for flavors without ``gpu:numa``.

This is independent of the alias ``numa_policy``: it is about the GPUs of a
multi-GPU request sharing a NUMA node (peer-to-peer traffic), whether or not
the instance has a NUMA topology. GpuPassthroughFilter decides ``prefer``
over the whole host list of a request, so weigher multipliers cannot undo
it. ``prefer`` never refuses a request that ``any`` would place; under a
heavy load it packs slightly worse than ``any`` (see the benchmarks).

Related options:

* Flavor extra spec ``gpu:numa`` overrides it per flavor.
* ``[nova_gpu_ext] switch_default``: the same one level down.
"""),
    cfg.StrOpt(
        'switch_default',
        default='any',
        choices=[
            ('single', 'all devices of one request under one PCIe switch; '
                       'hosts (and allocation candidates) that cannot do '
                       'that are refused'),
            ('prefer', 'a placement that splits a request over PCIe '
                       'switches only when no host of the request\'s list '
                       'can keep it under one'),
            ('any', 'PCIe switches do not filter; GpuWeigher still '
                    'prefers an unsplit placement between two that fit '
                    'equally'),
        ],
        help="""
PCIe switch locality of the GPUs of one request, for flavors without
``gpu:switch``.

Peer-to-peer traffic between GPUs under one PCIe switch stays in the
switch; a set split over switches goes through the root complexes and the
CPU interconnect. The switch of a GPU is the ``pcie_switch`` tag of its
``[pci] device_spec`` entry on the compute (``nova-gpu-ext genconf --role
compute`` writes it); a GPU without the tag has no switch above it and is
its own switch. GpuPassthroughFilter decides ``prefer`` over the whole host
list of a request, after ``gpu:numa=prefer``, so weigher multipliers cannot
undo it. One switch sits below one root complex, so ``single`` keeps a
request on one NUMA node in practice.

Related options:

* Flavor extra spec ``gpu:switch`` overrides it per flavor.
* ``[nova_gpu_ext] numa_default``: the same one level up.
"""),
]

WEIGHER_OPTS = [
    cfg.StrOpt(
        'weigher_policy',
        default='pack',
        choices=[
            ('pack', 'best fit: the host and NUMA node left with the fewest '
                     'free GPUs of the requested model win, keeping whole '
                     'nodes and hosts free for large requests'),
            ('spread', 'the host left with the most free GPUs of the '
                       'requested model wins'),
        ],
        help="""
How GpuWeigher places GPU requests.

Requests without GPUs are always steered away from hosts with free GPUs.

Related options:

* ``[nova_gpu_ext] gpu_weight_multiplier``
"""),
    cfg.FloatOpt(
        'gpu_weight_multiplier',
        default=10.0,
        min=0.0,
        help="""
Multiplier of GpuWeigher.

The weight is normalized to [0, 1] per request like every nova weigher,
then multiplied by this value. nova's RAM, CPU and disk weighers spread
with multiplier 1.0 each; the default of 10.0 lets GPU fit (and keeping
GPU hosts free of servers without GPUs) decide, and the spreading weighers
break ties. Aggregate metadata ``gpu_weight_multiplier``
overrides it for the hosts of an aggregate (the smallest value wins if a
host is in several).

Possible values:

* 0.0 disables the weigher; larger values let GPU fit outweigh the other
  weighers (RAM, CPU...). Nova's PCIWeigher counts every free PCI device,
  of any model and kind: set ``[filter_scheduler] pci_weight_multiplier =
  0`` so it does not pull against this weigher.

Related options:

* ``[filter_scheduler] weight_classes`` must list
  ``nova_gpu_ext.scheduler.weights.all_weighers``.
"""),
]


def default_policy(group) -> models.GpuPolicy:
    """The policy of a flavor without ``gpu:`` specs, from these options.

    ``group`` is the ``[nova_gpu_ext]`` group of a ConfigOpts: the global
    one in nova-scheduler, a private one read from nova.conf files in the
    commands.
    """
    return models.GpuPolicy(same_model=group.same_model_default,
                            numa=models.NumaMode(group.numa_default),
                            switch=models.SwitchMode(group.switch_default))


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(FILTER_OPTS + WEIGHER_OPTS, group=GROUP)


def list_opts():
    return {GROUP: FILTER_OPTS + WEIGHER_OPTS}
