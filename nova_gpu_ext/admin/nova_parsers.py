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

"""nova's own parsers of ``[pci] device_spec`` and ``[pci] alias`` values.

genconf checks every line it renders with them and lint-conf every value
it reads, so that a value nova refuses at start (or, for an alias, at the
first server create) is caught where it is written. nova is not an
install requirement: where it cannot be imported (an admin workstation)
:func:`available` is False and the callers' own checks stand alone.
"""

import functools
import types
import typing as ty
import warnings

from oslo_config import cfg

from nova_gpu_ext import exception


@functools.cache
def _nova() -> types.SimpleNamespace | None:
    """nova's parser modules, imported once; None without nova.

    Importing nova warns on stderr about eventlet; a command prints one
    line there at most, so the warnings of this import are dropped.
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            from nova.conf import pci
            from nova.conf import scheduler
            from nova.pci import request
            from nova.pci import whitelist
        except ImportError:
            return None
    return types.SimpleNamespace(pci=pci, scheduler=scheduler,
                                 request=request, whitelist=whitelist)


def available() -> bool:
    """Whether nova's parsers can be used here."""
    return _nova() is not None


def device_spec_error(value: str) -> str | None:
    """Why nova refuses this ``device_spec`` value, or None if it accepts it.

    :raises RuntimeError: if nova is not importable (see :func:`available`).
    """
    nova = _require()
    try:
        nova.whitelist.Whitelist([value])
    except Exception as exc:  # whatever nova raises, it refuses
        return _reason(exc)
    return None


def alias_error(values: ty.Sequence[str], placement: bool) -> str | None:
    """Why nova refuses these ``alias`` values of one node, or None.

    nova's parser (``nova.pci.request.get_alias_from_config`` and the
    checks it calls) reads its module's global ``CONF``; copies of the
    module's functions are bound to a private ConfigOpts holding nova's
    ``[pci]`` and ``[filter_scheduler]`` options, so nova's module, its
    global configuration and the caller's are not touched, and its cache
    is bypassed.

    :raises RuntimeError: if nova is not importable (see :func:`available`).
    """
    nova = _require()
    conf = cfg.ConfigOpts()
    nova.pci.register_opts(conf)
    nova.scheduler.register_opts(conf)
    conf(args=[], default_config_files=[], default_config_dirs=[],
         use_env=False)
    conf.set_override('alias', list(values), group='pci')
    conf.set_override('pci_in_placement', placement,
                      group='filter_scheduler')
    scope = dict(vars(nova.request), CONF=conf)
    for name, value in vars(nova.request).items():
        if (isinstance(value, types.FunctionType)
                and value.__module__ == nova.request.__name__):
            scope[name] = _bound(value, scope)
    try:
        _bound(nova.request.get_alias_from_config.__wrapped__, scope)()
    except Exception as exc:  # whatever nova raises, it refuses
        return _reason(exc)
    return None


def _bound(func: types.FunctionType, scope: dict) -> types.FunctionType:
    """A copy of nova's ``func`` that reads its globals from ``scope``."""
    return types.FunctionType(func.__code__, scope, func.__name__,
                              func.__defaults__, func.__closure__)


def _require() -> types.SimpleNamespace:
    nova = _nova()
    if nova is None:
        raise RuntimeError('nova is not importable; check available() first')
    return nova


def _reason(exc: Exception) -> str:
    text = exception.one_line(exc)
    if type(exc).__module__.startswith('nova.'):
        return text
    return f'{type(exc).__name__}: {text}'
