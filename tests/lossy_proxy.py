"""A TCP proxy in front of a real server that can lose the answer to one request.

``LossyProxy(upstream_port)`` relays bytes both ways. After ``drop_answer_to(marker)``, the
next request whose bytes contain ``marker`` still reaches the server (which runs and
commits it), but its answer is swallowed and the client's connection is closed: what a
client sees when the network fails between the server's commit and the answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["LossyProxy"]


class LossyProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self.dropped = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop_answer_to(self, marker: bytes) -> None:
        """Lose the answer to the next request that contains ``marker``."""
        with self._lock:
            self._marker = marker

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            doomed = threading.Event()
            threading.Thread(
                target=self._requests, args=(client, upstream, doomed), daemon=True
            ).start()
            threading.Thread(
                target=self._answers, args=(upstream, client, doomed), daemon=True
            ).start()

    def _requests(
        self, client: socket.socket, upstream: socket.socket, doomed: threading.Event
    ) -> None:
        tail = b""  # the end of the last read, for a marker split across two reads
        while data := _recv(client):
            with self._lock:
                marker = self._marker
                if marker is not None:
                    # new bytes only: a marker in an earlier request on the connection
                    # must not doom the request after it
                    window = tail[max(0, len(tail) - len(marker) + 1) :] + data
                    if marker in window:
                        self._marker = None
                        doomed.set()  # set before the server can answer
            tail = data[-1024:]
            try:
                upstream.sendall(data)
            except OSError:
                break
        _close(client, upstream)

    def _answers(
        self, upstream: socket.socket, client: socket.socket, doomed: threading.Event
    ) -> None:
        while data := _recv(upstream):
            if doomed.is_set():
                self.dropped += 1
                break
            try:
                client.sendall(data)
            except OSError:
                break
        _close(client, upstream)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
