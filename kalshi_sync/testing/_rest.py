"""The REST side of FakeKalshiServer: a loopback HTTP server beside the WebSocket one.

:class:`RestSide` adds to :class:`~kalshi_sync.testing._exchange.ExchangeState` the HTTP
listener (``rest_url``), request dispatch to the read and order routes, signature checks
on every request (the same ``check_auth`` as the WebSocket handshake, with the request's
method), a record of every request, and the scripted REST faults. Every request is signed
over ``timestamp + METHOD + /trade-api/v2/...`` (query excluded); a bad one is 401.

Threads: the HTTP server's (see :mod:`~kalshi_sync.testing._http`) and
``kalshi-fake-expiry``, which cancels expiring orders when their time comes.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ._exchange import ExchangeState
from ._faults import RestFault, RestFaults, request_matches
from ._http import DROP, HttpReply, HttpRequest, LoopbackHTTPServer
from ._keys import PublicKey, check_auth
from ._orders import EngineError
from ._reads import READS
from ._request import Ctx
from ._routes import ORDER_ROUTES, error_body

__all__ = ["REST_BASE", "RestSide"]

REST_BASE = "/trade-api/v2"

_ROUTES = [(m, re.compile(p), h) for m, p, h in [*ORDER_ROUTES, *READS]]
_TOO_MANY = json.dumps({"error": "too many requests"}).encode()


def _json(
    status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None
) -> HttpReply:
    if body is None:
        return HttpReply(status, b"", headers or {})
    data = json.dumps(body, separators=(",", ":"), default=str).encode()
    return HttpReply(status, data, {"Content-Type": "application/json", **(headers or {})})


def _error(exc: EngineError) -> HttpReply:
    return _json(exc.status, error_body(exc))


class RestSide(ExchangeState):
    """ExchangeState plus the HTTP listener, dispatch, auth, request log and faults."""

    # Set by FakeKalshiServer.__init__ (the same values the handshake check uses).
    _public_key: PublicKey | None
    _key_id: str | None
    _max_clock_skew: float

    def __init__(self, *, control_consumes_seq: bool, ping_interval: float | None) -> None:
        super().__init__(control_consumes_seq=control_consumes_seq, ping_interval=ping_interval)
        self._rest_server: LoopbackHTTPServer | None = None
        self._rest_port = 0
        self._rest_faults = RestFaults(REST_BASE)
        self._rest_requests: list[dict[str, Any]] = []
        self._rest_version = 0  # bumped whenever a request record is added or completed
        self._rest_stop = threading.Event()  # set by stop(): ends the expiry thread
        self._rest_cut = threading.Event()  # set when the listener closes: ends delays
        self._expiry_thread: threading.Thread | None = None

    # ---- lifecycle (called by FakeKalshiServer under its lifecycle lock) -------------------

    def _rest_listen(self, port: int) -> None:
        self._rest_cut = threading.Event()
        self._rest_server = LoopbackHTTPServer(self._serve_http, port)
        self._rest_port = self._rest_server.port
        if self._expiry_thread is None:
            self._expiry_thread = threading.Thread(
                target=self._run_expiry,
                args=(self._rest_stop,),
                name="kalshi-fake-expiry",
                daemon=True,
            )
            self._expiry_thread.start()

    def _rest_close(self, *, final: bool) -> None:
        if final:
            self._rest_stop.set()
            self._expiry_wake.set()
        self._rest_cut.set()  # a delayed request must not hold up stop() or restart()
        if self._rest_server is not None:
            self._rest_server.stop()
            self._rest_server = None
        if final and self._expiry_thread is not None:
            self._expiry_thread.join()

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:PORT/trade-api/v2`` (the REST base; needs ``rest=True``)."""
        if not self._rest_port:
            raise RuntimeError("the REST side is not running: FakeKalshiServer(rest=True).start()")
        return f"http://127.0.0.1:{self._rest_port}{REST_BASE}"

    # ---- one request -----------------------------------------------------------------

    def _serve_http(self, request: HttpRequest) -> HttpReply:
        split = urlsplit(request.target)
        path = unquote(split.path)
        cut = self._rest_cut
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        record: dict[str, Any] = {
            "time": self._clock(),
            "method": request.method,
            "path": path,
            "query": query,
            "headers": dict(request.headers),
            "raw_body": request.body.decode("utf-8", "replace"),
            "body": None,
            "status": None,
            "fault": None,
            "answered": False,
        }
        try:
            record["body"] = json.loads(request.body, parse_float=Decimal) if request.body else None
        except ValueError:
            record["body"] = None
        with self._cond:
            # Recorded on arrival (a test can wait for a request still being delayed);
            # status, fault and answered are filled in when the answer is decided.
            self._rest_requests.append(record)
            self._rest_version += 1
            self._cond.notify_all()
            faults = self._rest_faults.take(request.method, path)
        fault: str | None = None
        delay = faults.get("delay")
        if delay is not None and cut.wait(delay.seconds):
            reply, fault = DROP, "stopped"  # the listener is closing: cut the delay short
        elif "status" in faults:
            reply, fault = self._fault_reply(faults["status"]), "status"
        else:
            reply = self._dispatch(request, split.path, path, query, record["body"])
            if "drop" in faults:
                reply, fault = DROP, "drop"
        with self._cond:
            record.update(
                status=None if reply is DROP else reply.status,
                fault=fault or ("delay" if delay is not None else None),
                answered=True,
            )
            self._rest_version += 1
            self._cond.notify_all()
        return reply

    def _fault_reply(self, fault: RestFault) -> HttpReply:
        if fault.status == 429:
            headers = {"Content-Type": "application/json"}
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            return HttpReply(429, _TOO_MANY, headers)
        code = "service_unavailable" if fault.status == 503 else "internal_server_error"
        if fault.status < 500:
            code = "scripted_error"
        return _json(fault.status, {"code": code, "message": "scripted by the test"})

    def _dispatch(
        self, request: HttpRequest, raw_path: str, path: str, query: dict[str, str], body: Any
    ) -> HttpReply:
        """Auth over the path as sent (what the client signed), routing on the decoded one."""
        with self._lock:
            revoked = self._auth_failure
        rejected = (
            "authentication failed"
            if revoked
            else check_auth(
                request.header,
                raw_path,
                public_key=self._public_key,
                key_id=self._key_id,
                now=self._clock(),
                max_clock_skew=self._max_clock_skew,
                method=request.method,
            )
        )
        if rejected is not None:
            return _json(401, {"code": "authentication_error", "message": rejected})
        if not path.startswith(REST_BASE + "/"):
            return _json(404, {"code": "not_found", "message": f"no route {path}"})
        relative = path[len(REST_BASE) :]
        owner = request.header("KALSHI-ACCESS-KEY") or ""
        ctx = Ctx(request.method, relative, query, body, owner, int(self._clock() * 1000))
        for method, pattern, handler in _ROUTES:
            match = pattern.fullmatch(relative)
            if match is None or method != request.method:
                continue
            try:
                status, answer = handler(self, ctx, *match.groups())
            except EngineError as exc:
                return _error(exc)
            return _json(status, answer)
        return _json(404, {"code": "not_found", "message": f"no route {request.method} {path}"})

    # ---- observation -------------------------------------------------------------------

    @property
    def rest_requests(self) -> list[dict[str, Any]]:
        """Every REST request so far in arrival order: ``time``, ``method``, ``path`` (full,
        no query), ``query`` (dict), ``headers``, ``body`` (parsed JSON or None),
        ``raw_body``, ``answered`` (False while it is being handled or delayed), ``status``
        (None until answered, and when the response was dropped) and ``fault`` (the
        scripted fault that applied: "status", "drop", "delay", "stopped" or None)."""
        with self._lock:
            return copy.deepcopy(self._rest_requests)

    def wait_for_requests(
        self,
        n: int = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        answered: bool = True,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """The first ``n`` recorded requests (earlier ones included) matching ``method``,
        ``path`` (fnmatch pattern, relative to ``/trade-api/v2`` or full) and
        ``predicate``, once there are that many; only answered ones unless ``answered``
        is False (then a request counts as soon as it arrives)."""

        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                records = copy.deepcopy(self._rest_requests)
                seen = self._rest_version
            # The predicate is the caller's code: it runs without the server's lock.
            hits = [
                r
                for r in records
                if (r["answered"] or not answered)
                and request_matches(r, method, path, REST_BASE)
                and (predicate is None or predicate(r))
            ]
            if len(hits) >= n:
                return hits[:n]
            with self._cond:
                while self._rest_version == seen:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(
                            f"FakeKalshiServer: timed out waiting for {n} REST request(s)"
                        )
                    self._cond.wait(remaining)

    def wait_for_request(self, **filters: Any) -> dict[str, Any]:
        """The first matching request (see :meth:`wait_for_requests`)."""
        return self.wait_for_requests(1, **filters)[0]

    # ---- faults ------------------------------------------------------------------------

    def _arm_rest(self, fault: RestFault) -> None:
        with self._lock:
            self._rest_faults.arm(fault)

    def fail_next_requests(
        self, n: int = 1, status: int = 500, *, method: str | None = None, path: str | None = None
    ) -> None:
        """The next ``n`` matching requests are answered ``status`` (default 500, with an
        error body) without being handled."""
        self._arm_rest(RestFault("status", n, method, path, status=status))

    def rate_limit_next_requests(
        self,
        n: int = 1,
        *,
        retry_after: float | None = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next ``n`` matching requests get 429 ``{"error": "too many requests"}``
        with ``Retry-After: retry_after`` (None: no header), without being handled."""
        after = None if retry_after is None else f"{retry_after:g}"
        self._arm_rest(RestFault("status", n, method, path, status=429, retry_after=after))

    def drop_next_responses(
        self,
        n: int = 1,
        *,
        method: str | None = "POST",
        path: str | None = "/portfolio/events/orders",
    ) -> None:
        """The next ``n`` matching requests are handled (an order is placed) but the
        connection is closed without an answer: the client sees a connection error."""
        self._arm_rest(RestFault("drop", n, method, path))

    def delay_next_requests(
        self,
        n: int = 1,
        seconds: float = 1.0,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next ``n`` matching requests wait ``seconds`` before being handled (other
        connections are served meanwhile; :meth:`stop` cuts the wait short)."""
        self._arm_rest(RestFault("delay", n, method, path, seconds=seconds))

    def clear_rest_faults(self) -> None:
        """Disarm every REST fault not used yet."""
        with self._lock:
            self._rest_faults.clear()
