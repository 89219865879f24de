"""The functional tests' base: the demo's in-process cloud.

See :mod:`nova_gpu_ext.demo.cloud`; the tests boot real servers through
real nova services with nova_gpu_ext loaded from nova.conf options.
"""

from nova_gpu_ext.demo import cloud
from nova_gpu_ext.demo import scenario

GpuServersTestBase = cloud.GpuCloudTestBase
K4200 = scenario.K4200
V100 = scenario.V100
