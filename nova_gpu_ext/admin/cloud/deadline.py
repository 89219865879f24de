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

"""One deadline for a command's whole conversation with the cloud.

requests (and so keystoneauth and openstacksdk) applies its timeout to
each connect and each read of the socket: a server that sends one byte a
second, or headers that never end, never trips it, and each request of a
command (version discovery, the token, each API call) gets the whole
timeout again. A :class:`Deadline` bounds them all together:

* each request gets at most the time left, as its connect and read
  timeout, so a silent server ends the command at the deadline;
* when the deadline passes, every socket the session opened is shut
  down, which ends a read that is still receiving (a dripping server);
* after it, a request fails at once.

Any failure once the deadline has passed is :class:`DeadlinePassed`, a
``requests`` Timeout naming the request, which keystoneauth raises as
``ConnectTimeout`` and :mod:`.connect` reports with the URL. Version
discovery swallows it into a ``DiscoveryFailure`` of its own: the
session's deadline (:func:`of`) keeps the last one for the message. The
deadline starts at the first request, not when the session is made.
"""

import socket
import threading
import time
import weakref

import requests


class DeadlinePassed(requests.exceptions.ReadTimeout):
    """A request that did not complete before the deadline."""

    def __init__(self, seconds: float, request):
        super().__init__(f'no complete answer within the deadline of '
                         f'{seconds:g} s', request=request)
        self.seconds = seconds


class Deadline:
    """``seconds`` for every request of a keystoneauth session together.

    ``last_passed`` is the last :class:`DeadlinePassed` it raised.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.last_passed = None
        self._end = None
        self._sockets = weakref.WeakSet()
        self._lock = threading.Lock()

    def bound(self, session) -> None:
        """Apply the deadline to every request of ``session``.

        ``session`` is a keystoneauth session; its mounted adapters (with
        their TLS and keep-alive settings) are kept and wrapped.
        """
        for adapter in session.session.adapters.values():
            self._wrap(adapter)

    def remaining(self) -> float:
        with self._lock:
            if self._end is None:
                self._end = time.monotonic() + self.seconds
                _watchdog(self, self.seconds)
            return self._end - time.monotonic()

    def passed(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end

    def track(self, sock) -> None:
        self._sockets.add(sock)

    def expire(self) -> None:
        """Shut every socket down: a read in progress ends at once."""
        for sock in list(self._sockets):
            try:
                # A TLS socket's read in another thread then fails too.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue

    def timed_out(self, request) -> DeadlinePassed:
        """The failure of ``request``, kept as :attr:`last_passed`."""
        self.last_passed = DeadlinePassed(self.seconds, request)
        return self.last_passed

    def _wrap(self, adapter) -> None:
        adapter.send = _BoundedSend(self, adapter.send)
        manager = adapter.poolmanager
        manager.clear()
        manager.pool_classes_by_scheme = {
            scheme: _tracking_pool(pool, self)
            for scheme, pool in manager.pool_classes_by_scheme.items()}


def of(session) -> Deadline | None:
    """The :class:`Deadline` bound to keystoneauth ``session``, if any."""
    for adapter in session.session.adapters.values():
        if isinstance(adapter.send, _BoundedSend):
            return adapter.send.deadline
    return None


class _BoundedSend:
    """A requests adapter's ``send`` within ``deadline``."""

    def __init__(self, deadline: Deadline, send):
        self.deadline = deadline
        self._send = send

    def __call__(self, request, stream=False, timeout=None, **kwargs):
        deadline = self.deadline
        left = deadline.remaining()
        if left <= 0:
            raise deadline.timed_out(request)
        try:
            response = self._send(request, stream=stream,
                                  timeout=_within(timeout, left), **kwargs)
            if not stream:
                # The body is read here, inside the deadline, not later
                # by requests.
                response.content
        except requests.exceptions.RequestException as exc:
            if deadline.passed():
                raise deadline.timed_out(request) from exc
            raise
        if deadline.passed():
            # Cut off by expire(): a shut down socket ends headers and
            # body early, which is no answer either.
            raise deadline.timed_out(request)
        return response


def _within(timeout, left: float):
    """requests' ``timeout`` (seconds or (connect, read)) cut to ``left``."""
    if isinstance(timeout, tuple):
        return tuple(left if t is None else min(t, left) for t in timeout)
    return left if timeout is None else min(timeout, left)


def _watchdog(deadline: Deadline, seconds: float) -> None:
    timer = threading.Timer(seconds, deadline.expire)
    timer.daemon = True
    timer.start()


def _tracking_pool(pool_class, deadline: Deadline):
    """``pool_class`` whose connections register their sockets."""
    base = pool_class.ConnectionCls

    class TrackedConnection(base):
        def _new_conn(self):
            sock = super()._new_conn()
            deadline.track(sock)
            return sock

        def connect(self):
            super().connect()
            # A TLS socket replaces the plain one it wrapped.
            deadline.track(self.sock)

    return type(pool_class.__name__, (pool_class,),
                {'ConnectionCls': TrackedConnection})
