"""FakeKalshiServer: a real, scriptable Kalshi WebSocket server on loopback.

The socket layer is ``websockets.sync.server`` (RFC 6455 framing, TLS, HTTP upgrade). The
protocol lives in plain objects: :class:`~kalshi_sync.testing._session.Session` (one per
connection: commands in, frames out) and :class:`~kalshi_sync.testing._books.BookStore`;
:class:`~kalshi_sync.testing._state.ServerState` holds them, queues frames and records
traffic. This module adds listening, handshake auth, and the scripting API.

Threads: ``kalshi-fake-server`` runs ``serve_forever`` (daemon); websockets starts one
handler thread per connection; ``kalshi-fake-pinger`` sends the ``heartbeat`` pings and
enforces ``pong_timeout``; short-lived ``kalshi-fake-close`` threads perform clean closes
so that :meth:`FakeKalshiServer.close_connections` never blocks the test thread.
"""

from __future__ import annotations

import http
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from types import TracebackType
from typing import Any

from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event
from websockets.sync.server import Server, ServerConnection, serve

from ._books import Level, NumberLike, to_decimal
from ._heartbeat import run_heartbeats
from ._keys import PublicKey, check_auth
from ._rest import RestSide
from ._session import Fault
from ._state import Conn, logger
from ._wire import Frame, error_frame, to_json

__all__ = ["FakeKalshiServer"]

# Clean closes (stop(), close_connections()) wait this long for the client's close frame.
_CLOSE_TIMEOUT = 1.0


class FakeKalshiServer(RestSide):
    """A loopback Kalshi WebSocket server that tests can script.

    Construct, then :meth:`start` (or use ``with``); connect clients to :attr:`url`.
    ``public_key`` (RSA or Ed25519) enables signature checks with the algorithm that key
    implies, as Kalshi does (headers are always required);
    ``key_id`` pins the ``KALSHI-ACCESS-KEY`` value; ``ssl_context`` serves ``wss://``;
    ``ping_interval`` = seconds between ``heartbeat`` pings (None: never);
    ``pong_timeout`` drops a client whose pong is that late; ``control_consumes_seq``
    makes ``ok``/``unsubscribed`` replies take the sid's next seq (else the current one);
    ``clock`` supplies "now" in epoch seconds for timestamp checks and ``ts_ms``;
    ``rest=True`` also serves the REST API with a matching engine at :attr:`rest_url`
    (docs/trading.md, "The fake exchange").
    """

    def __init__(
        self,
        *,
        public_key: PublicKey | None = None,
        key_id: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ping_interval: float | None = 10.0,
        pong_timeout: float | None = None,
        max_clock_skew: float = 30.0,
        control_consumes_seq: bool = True,
        path: str = "/trade-api/ws/v2",
        clock: Callable[[], float] = time.time,
        rest: bool = False,
    ) -> None:
        if ping_interval is not None and ping_interval <= 0:
            raise ValueError("ping_interval must be > 0 or None")
        if pong_timeout is not None and pong_timeout <= 0:
            raise ValueError("pong_timeout must be > 0 or None")
        super().__init__(control_consumes_seq=control_consumes_seq, ping_interval=ping_interval)
        self._public_key = public_key
        self._key_id = key_id
        self._ssl = ssl_context
        self._pong_timeout = pong_timeout
        self._max_clock_skew = max_clock_skew
        self._path = path
        self._clock = clock
        self._rest = rest
        self._refuse_body: str | None = None  # guarded by _lock, as the other refuse_* state

        self._lifecycle_lock = threading.Lock()  # serialises start/stop/restart
        self._server: Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._pinger: threading.Thread | None = None
        self._port = 0
        self._started = False
        self._stopped = False
        self._stop_event = threading.Event()

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> FakeKalshiServer:
        """Listen on 127.0.0.1, a free port, and serve in the background; returns self."""
        with self._lifecycle_lock:
            if self._stopped:
                raise RuntimeError("a stopped FakeKalshiServer cannot be started again")
            if self._started:
                return self
            self._listen(0)
            if self._rest:
                self._rest_listen(0)
            self._started = True
            if self._ping_interval is not None:
                self._pinger = threading.Thread(
                    target=run_heartbeats,
                    args=(self, self._ping_interval, self._pong_timeout, self._stop_event),
                    name="kalshi-fake-pinger",
                    daemon=True,
                )
                self._pinger.start()
        return self

    def stop(self) -> None:
        """Close every connection (code 1001, 1 s bounded), stop listening, join threads.

        Idempotent."""
        with self._lifecycle_lock:
            if self._stopped:
                return
            self._stopped = True
            self._stop_event.set()
            self._wake.set()
            if self._server is not None:
                self._server.shutdown(code=1001)
            self._rest_close(final=True)
            with self._lock:
                closers = list(self._closers)
            for thread in [self._serve_thread, self._pinger, *closers]:
                if thread is not None:
                    thread.join()

    def restart(self, downtime: float = 0.0) -> None:
        """Drop every connection, stop listening for ``downtime`` s, listen on the same port.

        Blocks for ``downtime``; clients connecting meanwhile get "connection refused".
        Books, recorded traffic and switches survive; sids restart at 1 per connection.
        """
        with self._lifecycle_lock:
            if not self._started or self._stopped or self._server is None:
                raise RuntimeError("restart() needs a running server")
            self.drop_connections()
            self._server.shutdown()
            if self._serve_thread is not None:
                self._serve_thread.join()
            if self._rest:
                self._rest_close(final=False)
            if downtime > 0:
                self._stop_event.wait(downtime)
            self._listen(self._port)
            if self._rest:
                self._rest_listen(self._rest_port)

    def __enter__(self) -> FakeKalshiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _listen(self, port: int) -> None:
        count_pong = self._count_pong

        class Connection(ServerConnection):
            # Counting pongs needs the frame itself; websockets only exposes ping waiters.
            def process_event(self, event: Event) -> None:
                super().process_event(event)
                if isinstance(event, WsFrame) and event.opcode is Opcode.PONG:
                    count_pong()

        server = serve(
            self._serve_connection,
            "127.0.0.1",
            port,
            process_request=self._process_request,
            ssl=self._ssl,
            ping_interval=None,  # heartbeats are ours (payload "heartbeat", pong_timeout)
            ping_timeout=None,
            close_timeout=_CLOSE_TIMEOUT,
            compression=None,
            max_size=None,
            create_connection=Connection,
            logger=logger,
        )
        self._server = server
        self._port = server.socket.getsockname()[1]
        self._serve_thread = threading.Thread(
            target=server.serve_forever, name="kalshi-fake-server", daemon=True
        )
        self._serve_thread.start()

    @property
    def host(self) -> str:
        """Host for :attr:`url`: "localhost" with TLS (the cert's name), else "127.0.0.1"."""
        return "localhost" if self._ssl is not None else "127.0.0.1"

    @property
    def port(self) -> int:
        """The listening port (stable across :meth:`restart`)."""
        if not self._started:
            raise RuntimeError("call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT/trade-api/ws/v2`` or ``wss://localhost:PORT/...``."""
        scheme = "wss" if self._ssl is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}{self._path}"

    # ---- handshake ------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        headers = request.headers
        path = request.path.split("?", 1)[0]
        with self._lock:
            refused = self._refuse_remaining > 0
            if refused:
                self._refuse_remaining -= 1
            refuse_status, auth_failure = self._refuse_status, self._auth_failure
            refuse_body = self._refuse_body
        now = self._clock()
        if refused:
            status, reason = refuse_status, "refused by test"
        elif path != self._path:
            status, reason = 404, "not found"
        elif auth_failure:
            status, reason = 401, "authentication failed"
        else:
            rejected = check_auth(
                headers.get,
                path,
                public_key=self._public_key,
                key_id=self._key_id,
                now=now,
                max_clock_skew=self._max_clock_skew,
            )
            status, reason = (101, "ok") if rejected is None else (401, rejected)
        record = {
            "time": now,
            "path": request.path,
            "headers": dict(headers.raw_items()),
            "status": status,
            "reason": reason,
        }
        with self._cond:
            self._handshakes.append(record)
            self._cond.notify_all()
        if status == 101:
            return None
        if refused and refuse_body is not None:
            return connection.respond(status, refuse_body)
        return connection.respond(status, reason + "\n")

    # ---- market state and scripting ---------------------------------------------------

    def set_book(self, ticker: str, yes: Iterable[Level] = (), no: Iterable[Level] = ()) -> None:
        """Replace a market's book (no-leg prices on ``no``); sends nothing. Orders that
        users placed keep resting: what is replaced is "the market's" liquidity."""
        with self._lock:
            self._engine.set_book(ticker, yes, no)

    def book(self, ticker: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """The server's truth as copies: (yes, no), price -> count, no-leg prices on no."""
        with self._lock:
            return self._books.copy(ticker)

    def apply_delta(
        self,
        ticker: str,
        side: str,
        price: NumberLike,
        delta: NumberLike,
        *,
        client_order_id: str | None = None,
    ) -> None:
        """Update the book and publish an ``orderbook_delta`` to every covering subscription.

        The change is "the market's" liquidity: it never matches, and a pull never removes
        users' orders (where they rest it is capped, and the capped delta is published)."""
        p, d = to_decimal(price), to_decimal(delta)
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', not {side!r}")
        ts_ms = int(self._clock() * 1000)

        published = [d]

        def prepare() -> None:
            published[0] = self._engine.add_liquidity(ticker, side, p, d)  # type: ignore[arg-type]

        def build(conn: Conn) -> list[Frame | str | bytes]:
            if not published[0]:
                return []
            return list(
                conn.session.delta_frames(
                    ticker, side, p, published[0], ts_ms=ts_ms, client_order_id=client_order_id
                )
            )

        # Book update and publication share one critical section, so a concurrent
        # subscribe sees either the old book and then this delta, or the new book and no
        # delta: never a snapshot that already contains the delta followed by the delta.
        self._broadcast(build, prepare)

    def publish(
        self,
        channel: str,
        msg_type: str,
        msg: dict[str, Any],
        *,
        market_ticker: str | None = None,
    ) -> int:
        """Send ``msg`` to every subscription on ``channel``; returns frames sent.

        Sequenced types (trade, lifecycle, order groups, rfq_*/quote_*, ...) get the
        next seq of each subscription; others carry no seq. With ``market_ticker``,
        subscriptions that list markets receive it only if they list that one.
        """

        to_json(msg)  # refuse unserialisable payloads before any seq is consumed

        def build(conn: Conn) -> list[Frame | str | bytes]:
            return list(conn.session.publish_frames(channel, msg_type, msg, market_ticker))

        return self._broadcast(build)

    # ---- fault injection ------------------------------------------------------------

    def _arm(self, fault: Fault) -> None:
        with self._lock:
            matched = sum(conn.session.arm(fault) for conn in self._conns.values())
            if matched == 0:
                # Nothing to arm yet: the first matching subscription created claims it.
                self._pending_faults.append(fault)

    def skip_seq(self, n: int = 1, *, channel: str | None = None) -> None:
        """The next sequenced frame of each matching subscription jumps seq by ``n`` extra.

        ``channel=None`` matches every sequenced channel. Armed on the subscriptions that
        exist now; if none match, on the first matching one created later.
        """
        if n < 1:
            raise ValueError("n must be >= 1")
        self._arm(Fault("skip", n, channel))

    def duplicate_next(self, *, channel: str | None = None) -> None:
        """The next sequenced frame of each matching subscription is sent twice."""
        self._arm(Fault("duplicate", 1, channel))

    def reorder_next(self, *, channel: str | None = None) -> None:
        """The next two sequenced frames of each matching subscription swap on the wire.

        The first is held back until the second exists (a held frame is lost if the
        subscription or connection ends first).
        """
        self._arm(Fault("reorder", 1, channel))

    def send_raw(self, data: str | bytes) -> int:
        """Send ``data`` as-is (str -> text frame, bytes -> binary) to every connection."""
        return self._broadcast(lambda conn: [data])

    def send_error(
        self,
        code: int,
        message: str | None = None,
        *,
        sid: int | None = None,
        id: int | None = None,
    ) -> int:
        """Send an ``error`` frame (e.g. 25 buffer overflow) to every connection."""
        frame = error_frame(code, message, cid=id, sid=sid)
        return self._broadcast(lambda conn: [frame])

    def drop_connections(self) -> int:
        """Abruptly close every connection (TCP shutdown, no close frame); returns count."""
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            conn.abort()
        return len(conns)

    def close_connections(self, code: int = 1000, reason: str = "") -> int:
        """Start a clean close (close frame ``code``/``reason``) on every connection.

        Returns at once with the number of connections; the closing handshake runs on
        background threads (bounded by a 1 s timeout) that :meth:`stop` joins.
        """
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            thread = threading.Thread(
                target=self._close_one,
                args=(conn, code, reason),
                name="kalshi-fake-close",
                daemon=True,
            )
            with self._lock:
                self._closers = [t for t in self._closers if t.is_alive()] + [thread]
            thread.start()
        return len(conns)

    @staticmethod
    def _close_one(conn: Conn, code: int, reason: str) -> None:
        try:
            conn.ws.close(code, reason)
        except Exception:
            logger.debug("fake server: clean close failed", exc_info=True)

    def refuse_next_handshakes(self, n: int, status: int = 503, body: str | None = None) -> None:
        """Answer the next ``n`` upgrade requests with HTTP ``status`` (before auth) and
        ``body`` (default ``"refused by test\\n"``), e.g. a CDN's 403 page."""
        http.HTTPStatus(status)  # fail here, not inside a handshake, on a bogus status
        with self._lock:
            self._refuse_remaining = n
            self._refuse_status = status
            self._refuse_body = body

    def set_auth_failure(self, enabled: bool) -> None:
        """While enabled every handshake gets 401, as when a key is revoked."""
        with self._lock:
            self._auth_failure = enabled

    def silence(self, enabled: bool) -> None:
        """While enabled the server writes nothing: no pings, replies or data.

        Connections stay open; commands are still recorded but are not processed, and
        published data is not queued (books still change), like a wedged server.
        """
        with self._lock:
            self._silent = enabled
        self._wake.set()

    def stop_pinging(self) -> None:
        """Stop heartbeats (data and replies still flow)."""
        with self._lock:
            self._pinging = False

    def resume_pinging(self) -> None:
        """Resume heartbeats after :meth:`stop_pinging`."""
        with self._lock:
            self._pinging = True
        self._wake.set()
