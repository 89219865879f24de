"""Every oslo.config option of nova_gpu_ext.

Like ``nova.conf``, importing this package registers all options on the
global ``CONF``; nothing else in nova_gpu_ext registers options.
"""

from oslo_config import cfg

from nova_gpu_ext.conf import catalog
from nova_gpu_ext.conf import scheduler

CONF = cfg.CONF

scheduler.register_opts(CONF)
catalog.register_opts(CONF)
