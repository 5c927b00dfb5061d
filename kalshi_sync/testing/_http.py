"""A small loopback HTTP/1.1 server for the fake exchange's REST side (stdlib only).

:class:`LoopbackHTTPServer` listens on 127.0.0.1 and hands every request, fully read, to
an ``app`` callable as an :class:`HttpRequest`; the app returns an :class:`HttpReply`
(or :data:`DROP` to close the connection without answering). Keep-alive works (requests'
sessions reuse connections); every reply carries ``Content-Length``.

Threads: ``kalshi-fake-rest`` runs the accept loop; each connection gets its own
``kalshi-fake-rest-conn`` thread, so a slow answer holds up only its own connection.
:meth:`LoopbackHTTPServer.stop` shuts the listener, closes every open connection (idle
keep-alive ones included) and joins all of those threads.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DROP", "HttpReply", "HttpRequest", "LoopbackHTTPServer"]

logger = logging.getLogger("kalshi_sync.testing")

_IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may sit idle
_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query as sent
    headers: dict[str, str]  # as sent (names in their original case)
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


DROP = HttpReply(-1)
"""Close the connection without sending anything (the request may have had effects)."""

App = Callable[[HttpRequest], HttpReply]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        request = HttpRequest(self.command, self.path, dict(self.headers.items()), body)
        try:
            reply = self.server.app(request)
        except Exception:  # the server must survive any request
            logger.exception("fake REST server: handler failed")
            reply = HttpReply(500, b'{"code":"internal_server_error","message":"fake failed"}')
        if reply is DROP:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.body and self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake REST server: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, app: App) -> None:
        self.app = app
        self._conn_lock = threading.Lock()  # guards _open and _conn_threads
        self._open: set[socket.socket] = set()
        self._conn_threads: list[threading.Thread] = []
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_one,
            args=(request, client_address),
            name="kalshi-fake-rest-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._open.add(request)
            self._conn_threads = [t for t in self._conn_threads if t.is_alive()] + [thread]
        thread.start()

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            logger.debug("fake REST server: connection failed", exc_info=True)
        finally:
            with self._conn_lock:
                self._open.discard(request)
            self.shutdown_request(request)

    def close_all(self) -> list[threading.Thread]:
        with self._conn_lock:
            conns, threads = list(self._open), list(self._conn_threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        return threads


class LoopbackHTTPServer:
    """Serve ``app`` on 127.0.0.1:``port`` (0 = a free port) until :meth:`stop`."""

    def __init__(self, app: App, port: int = 0) -> None:
        self._server = _Server(port, app)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="kalshi-fake-rest",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close every connection, join every thread. Idempotent."""
        self._server.shutdown()
        self._thread.join()
        for thread in self._server.close_all():
            thread.join()
        self._server.server_close()
