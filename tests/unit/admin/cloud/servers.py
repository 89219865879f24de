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

"""Endpoints that misbehave, on the loopback interface, for fault tests."""

import socket
import threading
import time

import fixtures


class SilentServer(fixtures.Fixture):
    """A TCP server that accepts every connection and never answers.

    ``url`` points at it; ``accepted`` is set once a client connected, so
    a test knows the client is now waiting.
    """

    def _setUp(self):
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.addCleanup(self._stop)
        self.url = f'http://127.0.0.1:{self.listener.getsockname()[1]}'
        self.accepted = threading.Event()
        self._clients = []
        self.addCleanup(self._close_clients)
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._clients.append(client)
            self.accepted.set()

    def clouds_yaml(self, api_timeout=0.5):
        """clouds.yaml of cloud "silent": Placement here, no keystone."""
        return ('clouds:\n  silent:\n    auth_type: none\n'
                f'    api_timeout: {api_timeout}\n'
                f'    placement_endpoint_override: {self.url}/placement\n')

    def _stop(self):
        # shutdown() wakes the thread blocked in accept(); close() alone
        # would not.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()

    def _close_clients(self):
        for client in self._clients:
            client.close()


class DrippingServer(SilentServer):
    """An HTTP server whose answer never ends: one byte every ``pause`` s.

    It reads the request, starts a ``200 OK`` and then sends one more
    byte of a header that never ends; each byte comes well within any
    read timeout, so only a deadline ends the client's wait.
    """

    def __init__(self, pause=0.5):
        super().__init__()
        self.pause = pause

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._clients.append(client)
            self.accepted.set()
            threading.Thread(target=self._drip, args=(client,),
                             daemon=True).start()

    def _drip(self, client):
        try:
            client.recv(65536)
            client.sendall(b'HTTP/1.1 200 OK\r\nX-Drip: ')
            while True:
                time.sleep(self.pause)
                client.sendall(b'x')
        except OSError:
            return


def refused_url() -> str:
    """A loopback URL whose port nobody listens on: connection refused."""
    with socket.create_server(('127.0.0.1', 0)) as probe:
        port = probe.getsockname()[1]
    return f'http://127.0.0.1:{port}'
