"""RestClient against mocked HTTP (``responses``): signing, pagination, orderbooks, errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import responses
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_sync.environments import DEMO, PROD
from kalshi_sync.errors import (
    AuthenticationError,
    ClientClosedError,
    ExchangeUnavailableError,
    HTTPStatusError,
    KalshiConnectionError,
    KalshiTimeoutError,
    ProtocolError,
    RateLimitError,
)
from kalshi_sync.orderbook import Orderbook
from kalshi_sync.rest import RestClient

KEY_ID = "5a1d7c1e-0000-4000-8000-0123456789ab"
BASE = PROD.rest_url
TICKER = "KXHIGHNY-24JAN01-T60"
AUTH_HEADERS = ("KALSHI-ACCESS-KEY", "KALSHI-ACCESS-TIMESTAMP", "KALSHI-ACCESS-SIGNATURE")
D = Decimal

Reply = tuple[int, dict[str, str], str]


@pytest.fixture(scope="session")
def rest_key() -> rsa.RSAPrivateKey:
    """One RSA key for the module (generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """Every HTTP call is mocked; an unregistered URL fails the test (no network)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def no_sleep(seconds: float) -> None:
    """Retries back off through this instead of time.sleep: the tests never wait."""


@pytest.fixture
def client(rest_key: rsa.RSAPrivateKey) -> Iterator[RestClient]:
    with RestClient(KEY_ID, rest_key, clock=lambda: 1704398400.0, sleep=no_sleep) as rest:
        yield rest


@pytest.fixture
def public() -> Iterator[RestClient]:
    with RestClient(sleep=no_sleep) as rest:
        yield rest


def signed_ok(public_key: rsa.RSAPublicKey, request: requests.PreparedRequest) -> bool:
    """Check the auth headers with cryptography directly, over the request's own path."""
    headers = request.headers
    path = urlsplit(str(request.url)).path
    message = f"{headers['KALSHI-ACCESS-TIMESTAMP']}{request.method}{path}".encode()
    public_key.verify(
        base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"], validate=True),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )  # raises InvalidSignature, which fails the test through the callback
    return headers["KALSHI-ACCESS-KEY"] == KEY_ID


def verifying(public_key: rsa.RSAPublicKey, body: Any) -> Callable[[Any], Reply]:
    """A responses callback that answers ``body`` only to a correctly signed request."""

    def callback(request: Any) -> Reply:
        if not signed_ok(public_key, request):
            return 401, {}, '{"error": "bad key"}'
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    return callback


def last_query(mock: responses.RequestsMock, index: int = -1) -> dict[str, str]:
    request: Any = mock.calls[index].request  # responses adds .params and .req_kwargs
    return dict(request.params)


# -- construction ---------------------------------------------------------------------------


def test_default_and_demo_base_urls() -> None:
    """Default is the prod REST URL; environment='demo' selects the demo URL."""
    assert RestClient().base_url == PROD.rest_url
    assert RestClient(environment="demo").base_url == DEMO.rest_url


def test_base_url_override_to_loopback_http() -> None:
    """A loopback http:// base_url is accepted (trailing slash dropped)."""
    assert RestClient(base_url="http://127.0.0.1:8080/trade-api/v2/").base_url == (
        "http://127.0.0.1:8080/trade-api/v2"
    )


def test_plaintext_to_remote_host_is_refused() -> None:
    """http:// to a non-loopback host is refused unless allow_insecure=True."""
    with pytest.raises(ValueError, match="allow_insecure"):
        RestClient(base_url="http://example.com/trade-api/v2")
    RestClient(base_url="http://example.com/trade-api/v2", allow_insecure=True).close()


def test_key_id_and_key_go_together(rest_key: rsa.RSAPrivateKey) -> None:
    """key_id without private_key (or the reverse) is a ValueError."""
    with pytest.raises(ValueError, match="both"):
        RestClient(KEY_ID)
    with pytest.raises(ValueError, match="both"):
        RestClient(private_key=rest_key)


def test_session_with_verify_false_is_refused() -> None:
    """A session with TLS verification off is refused: verification stays on."""
    session = requests.Session()
    session.verify = False
    with pytest.raises(ValueError, match="verify"):
        RestClient(session=session)
    session.close()


def test_repr_hides_key(client: RestClient, public: RestClient) -> None:
    """repr names the base URL and key id only."""
    assert repr(client) == f"RestClient({BASE!r}, key_id={KEY_ID!r})"
    assert repr(public) == f"RestClient({BASE!r}, unsigned)"
    assert client.signed and not public.signed


# -- signing --------------------------------------------------------------------------------


def test_unsigned_client_sends_no_auth_headers(
    mock: responses.RequestsMock, public: RestClient
) -> None:
    """Without credentials, requests carry no KALSHI-ACCESS-* header."""
    mock.add(responses.GET, f"{BASE}/exchange/status", json={"exchange_active": True})
    assert public.get_exchange_status().exchange_active is True
    sent = mock.calls[0].request.headers
    assert not any(h in sent for h in AUTH_HEADERS)


def test_requests_are_signed_over_full_path(
    mock: responses.RequestsMock, client: RestClient, rest_key: rsa.RSAPrivateKey
) -> None:
    """Signed requests verify with the public key over /trade-api/v2/... and the clock time."""
    status = {"exchange_active": True, "trading_active": False}
    mock.add_callback(
        responses.GET,
        f"{BASE}/exchange/status",
        callback=verifying(rest_key.public_key(), status),
    )
    got = client.get_exchange_status()
    assert (got.exchange_active, got.trading_active, got.raw) == (True, False, status)
    request = mock.calls[0].request
    assert request.headers["KALSHI-ACCESS-TIMESTAMP"] == "1704398400000"
    assert urlsplit(request.url).path == "/trade-api/v2/exchange/status"


def test_orderbook_signature_excludes_query(
    mock: responses.RequestsMock, client: RestClient, rest_key: rsa.RSAPrivateKey
) -> None:
    """The orderbook request with ?depth= is signed over the path alone."""
    body: dict[str, Any] = {"orderbook_fp": {"yes_dollars": [], "no_dollars": []}}
    mock.add_callback(
        responses.GET,
        f"{BASE}/markets/{TICKER}/orderbook",
        callback=verifying(rest_key.public_key(), body),
    )
    client.get_orderbook(TICKER, depth=3)
    request = mock.calls[0].request
    assert urlsplit(request.url).query == "depth=3"  # sent, but not signed (checked above)


def test_request_options(mock: responses.RequestsMock, rest_key: rsa.RSAPrivateKey) -> None:
    """The timeout is passed to requests, TLS verification is not disabled."""
    mock.add(responses.GET, f"{BASE}/exchange/status", json={})
    with RestClient(KEY_ID, rest_key, timeout=2.5) as rest:
        rest.get_exchange_status()
    request: Any = mock.calls[0].request
    kwargs = request.req_kwargs
    assert kwargs["timeout"] == 2.5
    assert kwargs["verify"] is not False


# -- markets --------------------------------------------------------------------------------


def test_get_market_returns_market_object(mock: responses.RequestsMock, public: RestClient) -> None:
    """get_market returns the 'market' object of the response."""
    market = {"ticker": TICKER, "status": "active", "yes_bid_dollars": "0.1500"}
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}", json={"market": market})
    assert public.get_market(TICKER) == market


def test_get_market_without_market_object(mock: responses.RequestsMock, public: RestClient) -> None:
    """A response without a 'market' object is a ProtocolError."""
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}", json={"markets": []})
    with pytest.raises(ProtocolError, match="'market'"):
        public.get_market(TICKER)


def test_empty_ticker_is_refused(public: RestClient) -> None:
    """An empty ticker is a ValueError before any request."""
    with pytest.raises(ValueError, match="ticker"):
        public.get_market("")


def test_get_markets_follows_cursor_across_three_pages(
    mock: responses.RequestsMock, client: RestClient, rest_key: rsa.RSAPrivateKey
) -> None:
    """get_markets follows the cursor over 3 signed pages and returns every market in order."""
    pages = [
        {"markets": [{"ticker": "A"}, {"ticker": "B"}], "cursor": "c1"},
        {"markets": [{"ticker": "C"}], "cursor": "c2"},
        {"markets": [{"ticker": "D"}], "cursor": ""},
    ]
    for page in pages:
        mock.add_callback(
            responses.GET, f"{BASE}/markets", callback=verifying(rest_key.public_key(), page)
        )
    markets = client.get_markets(status="open")
    assert [m["ticker"] for m in markets] == ["A", "B", "C", "D"]
    assert len(mock.calls) == 3
    assert last_query(mock, 0) == {"limit": "1000", "status": "open"}
    assert last_query(mock, 1) == {"limit": "1000", "status": "open", "cursor": "c1"}
    assert last_query(mock, 2) == {"limit": "1000", "status": "open", "cursor": "c2"}


def test_get_markets_filter_encoding(mock: responses.RequestsMock, public: RestClient) -> None:
    """Filters: lists comma-joined, bools lower-case, None dropped, limit overridable."""
    mock.add(responses.GET, f"{BASE}/markets", json={"markets": [], "cursor": None})
    public.get_markets(tickers=["A", "B"], limit=50, mve_filter=None, flag=True, min_close_ts=1)
    assert last_query(mock) == {
        "tickers": "A,B",
        "limit": "50",
        "flag": "true",
        "min_close_ts": "1",
    }


def test_get_markets_null_page_is_empty(mock: responses.RequestsMock, public: RestClient) -> None:
    """A null 'markets' and a missing cursor end pagination with no markets."""
    mock.add(responses.GET, f"{BASE}/markets", json={"markets": None})
    assert public.get_markets() == []


def test_get_markets_repeated_cursor_stops_with_error(
    mock: responses.RequestsMock, public: RestClient
) -> None:
    """A server that repeats an earlier cursor raises ProtocolError instead of looping."""
    for cursor in ("c1", "c2", "c1", "c2"):
        mock.add(responses.GET, f"{BASE}/markets", json={"markets": [{}], "cursor": cursor})
    with pytest.raises(ProtocolError, match="repeated cursor 'c1'"):
        public.get_markets()
    assert len(mock.calls) == 3


def test_get_markets_cursor_echoing_the_start_cursor(
    mock: responses.RequestsMock, public: RestClient
) -> None:
    """A server answering a caller's start cursor with that same cursor is caught at once."""
    mock.add(responses.GET, f"{BASE}/markets", json={"markets": [], "cursor": "same"})
    with pytest.raises(ProtocolError, match="repeated cursor"):
        public.get_markets(cursor="same")
    assert len(mock.calls) == 1


def test_get_markets_bad_shape(mock: responses.RequestsMock, public: RestClient) -> None:
    """A 'markets' that is not a list is a ProtocolError."""
    mock.add(responses.GET, f"{BASE}/markets", json={"markets": {"ticker": "A"}})
    with pytest.raises(ProtocolError, match="not a list"):
        public.get_markets()


# -- orderbook ------------------------------------------------------------------------------


def test_orderbook_current_shape(mock: responses.RequestsMock, public: RestClient) -> None:
    """orderbook_fp dollar/count strings become Decimal levels in an Orderbook."""
    body = {
        "orderbook_fp": {
            "yes_dollars": [["0.1400", "5.00"], ["0.1500", "100.00"]],
            "no_dollars": [["0.8000", "20.50"], ["0.7900", "1.00"]],
        }
    }
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}/orderbook", json=body)
    book = public.get_orderbook(TICKER)
    assert isinstance(book, Orderbook)
    assert book.market_ticker == TICKER
    assert dict(book.yes) == {D("0.1400"): D("5.00"), D("0.1500"): D("100.00")}
    assert dict(book.no) == {D("0.8000"): D("20.50"), D("0.7900"): D("1.00")}
    assert book.best_yes_bid == D("0.15")
    assert book.best_yes_ask == D("0.20")  # 1 - best no bid: REST no side is no-leg priced
    assert book.state == "live" and not book.use_yes_price
    assert all(type(v) is Decimal for v in [*book.yes, *book.yes.values(), *book.no])
    assert last_query(mock) == {}  # depth 0 (all levels) is the server default: not sent


def test_orderbook_null_sides_are_empty(mock: responses.RequestsMock, public: RestClient) -> None:
    """Null or missing sides in orderbook_fp give an empty book side."""
    body = {"orderbook_fp": {"yes_dollars": None}}
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}/orderbook", json=body)
    book = public.get_orderbook(TICKER)
    assert dict(book.yes) == {} and dict(book.no) == {}
    assert book.best_yes_bid is None and book.best_yes_ask is None


def test_orderbook_legacy_prefers_dollar_strings(
    mock: responses.RequestsMock, public: RestClient
) -> None:
    """Legacy 'orderbook' with yes_dollars and cents: the dollar strings are used."""
    body = {
        "orderbook": {
            "yes": [[15, 100]],
            "no": [[80, 20]],
            "yes_dollars": [["0.1500", 100]],
            "no_dollars": [["0.8000", 20]],
        }
    }
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}/orderbook", json=body)
    book = public.get_orderbook(TICKER)
    assert dict(book.yes) == {D("0.15"): D(100)}
    assert dict(book.no) == {D("0.80"): D(20)}


def test_orderbook_legacy_cents_only(mock: responses.RequestsMock, public: RestClient) -> None:
    """Legacy integer cents convert exactly to Decimal dollars; a null side is empty."""
    body = {"orderbook": {"yes": [[15, 100], [1, 3]], "no": None}}
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}/orderbook", json=body)
    book = public.get_orderbook(TICKER)
    assert dict(book.yes) == {D("0.15"): D(100), D("0.01"): D(3)}
    assert dict(book.no) == {}


def test_orderbook_null_book(mock: responses.RequestsMock, public: RestClient) -> None:
    """A null legacy 'orderbook' is an empty book."""
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}/orderbook", json={"orderbook": None})
    assert dict(public.get_orderbook(TICKER).yes) == {}


def test_orderbook_json_numbers_stay_exact(
    mock: responses.RequestsMock, public: RestClient
) -> None:
    """JSON number prices are read as Decimal, never through float."""
    text = '{"orderbook_fp": {"yes_dollars": [[0.1, 0.3]], "no_dollars": []}}'
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}/orderbook", body=text)
    assert dict(public.get_orderbook(TICKER).yes) == {D("0.1"): D("0.3")}


def test_orderbook_depth_param(mock: responses.RequestsMock, public: RestClient) -> None:
    """depth=N is sent as the depth query parameter."""
    body: dict[str, Any] = {"orderbook_fp": {"yes_dollars": [], "no_dollars": []}}
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}/orderbook", json=body)
    public.get_orderbook(TICKER, depth=5)
    assert last_query(mock) == {"depth": "5"}


@pytest.mark.parametrize("depth", [-1, True, 1.5])
def test_orderbook_bad_depth(depth: Any, public: RestClient) -> None:
    """A negative, bool or non-int depth is a ValueError before any request."""
    with pytest.raises(ValueError, match="depth"):
        public.get_orderbook(TICKER, depth=depth)


@pytest.mark.parametrize(
    "body",
    [
        {"orderbook_fp": {"yes_dollars": [["abc", "1"]]}},
        {"orderbook_fp": {"yes_dollars": [["NaN", "1"]]}},
        {"orderbook_fp": {"yes_dollars": [["0.1"]]}},
        {"orderbook_fp": {"yes_dollars": [[True, "1"]]}},
        {"orderbook_fp": {"no_dollars": "0.1"}},
        {"orderbook_fp": ["yes"]},
        {"something_else": {}},
    ],
)
def test_orderbook_bad_shapes(
    body: dict[str, Any], mock: responses.RequestsMock, public: RestClient
) -> None:
    """Malformed orderbook responses raise ProtocolError."""
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}/orderbook", json=body)
    with pytest.raises(ProtocolError):
        public.get_orderbook(TICKER)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures(status: int, mock: responses.RequestsMock, client: RestClient) -> None:
    """401/403 raise AuthenticationError with the status and a key id / clock hint."""
    mock.add(responses.GET, f"{BASE}/exchange/status", status=status, json={"error": "nope"})
    with pytest.raises(AuthenticationError, match="clock") as info:
        client.get_exchange_status()
    assert info.value.status_code == status
    assert "key id" in str(info.value) and "nope" in str(info.value)


def test_auth_failure_unsigned_hint(mock: responses.RequestsMock, public: RestClient) -> None:
    """A 401 to an unsigned client says credentials are needed."""
    mock.add(responses.GET, f"{BASE}/exchange/status", status=401, body="")
    with pytest.raises(AuthenticationError, match="pass key_id and private_key"):
        public.get_exchange_status()


def test_rate_limited(mock: responses.RequestsMock, public: RestClient) -> None:
    """429 raises RateLimitError (an HTTPStatusError) with status and body."""
    mock.add(responses.GET, f"{BASE}/markets", status=429, json={"error": "too many requests"})
    with pytest.raises(RateLimitError) as info:
        public.get_markets()
    assert isinstance(info.value, HTTPStatusError)
    assert info.value.status_code == 429
    assert "too many requests" in info.value.body
    assert "too many requests" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(status: int, mock: responses.RequestsMock, public: RestClient) -> None:
    """5xx raise ExchangeUnavailableError with status and a body excerpt."""
    mock.add(responses.GET, f"{BASE}/exchange/status", status=status, body="<html>down</html>")
    with pytest.raises(ExchangeUnavailableError) as info:
        public.get_exchange_status()
    assert info.value.status_code == status
    assert info.value.body == "<html>down</html>"
    assert "down" in str(info.value)


@pytest.mark.parametrize("status", [400, 404, 409])
def test_other_client_errors(status: int, mock: responses.RequestsMock, public: RestClient) -> None:
    """Other non-2xx raise plain HTTPStatusError with status and body."""
    body = '{"error": {"code": "not_found", "message": "market not found"}}'
    mock.add(responses.GET, f"{BASE}/markets/{TICKER}", status=status, body=body)
    with pytest.raises(HTTPStatusError) as info:
        public.get_market(TICKER)
    assert type(info.value) is HTTPStatusError
    assert info.value.status_code == status and info.value.body == body


def test_long_body_is_excerpted(mock: responses.RequestsMock, public: RestClient) -> None:
    """The error message quotes only an excerpt of a long body."""
    mock.add(responses.GET, f"{BASE}/exchange/status", status=500, body="x" * 10_000)
    with pytest.raises(ExchangeUnavailableError) as info:
        public.get_exchange_status()
    assert len(str(info.value)) < 500
    assert len(info.value.body) == 1000


def test_redirect_is_not_followed(mock: responses.RequestsMock, client: RestClient) -> None:
    """A 3xx is an HTTPStatusError: signed headers are never sent to the redirect target."""
    mock.add(
        responses.GET,
        f"{BASE}/exchange/status",
        status=302,
        headers={"Location": "https://elsewhere.example/steal"},
    )
    with pytest.raises(HTTPStatusError) as info:
        client.get_exchange_status()
    assert info.value.status_code == 302
    assert len(mock.calls) == 1


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (requests.ConnectionError("refused"), KalshiConnectionError),
        (requests.exceptions.SSLError("bad cert"), KalshiConnectionError),
        (requests.exceptions.ChunkedEncodingError("cut"), KalshiConnectionError),
        (requests.Timeout("slow"), KalshiTimeoutError),
        (requests.exceptions.ConnectTimeout("slow connect"), KalshiTimeoutError),
    ],
)
def test_transport_errors(
    raised: Exception,
    expected: type[Exception],
    mock: responses.RequestsMock,
    public: RestClient,
) -> None:
    """requests transport failures map to KalshiConnectionError/KalshiTimeoutError, chained."""
    mock.add(responses.GET, f"{BASE}/exchange/status", body=raised)
    with pytest.raises(expected) as info:
        public.get_exchange_status()
    assert info.value.__cause__ is raised
    assert isinstance(
        info.value, ConnectionError if expected is KalshiConnectionError else TimeoutError
    )


@pytest.mark.parametrize("text", ["<html>maintenance</html>", "", "[1, 2]", "null"])
def test_2xx_that_is_not_a_json_object(
    text: str, mock: responses.RequestsMock, public: RestClient
) -> None:
    """A 2xx whose body is not a JSON object raises ProtocolError with an excerpt."""
    mock.add(responses.GET, f"{BASE}/exchange/status", body=text, status=200)
    with pytest.raises(ProtocolError) as info:
        public.get_exchange_status()
    assert info.value.frame == text


# -- lifecycle ------------------------------------------------------------------------------


def test_close_closes_own_session_and_refuses_use(mock: responses.RequestsMock) -> None:
    """close() is idempotent and later calls raise ClientClosedError."""
    rest = RestClient()
    rest.close()
    rest.close()
    with pytest.raises(ClientClosedError):
        rest.get_exchange_status()
    assert len(mock.calls) == 0


def test_borrowed_session_is_not_closed(mock: responses.RequestsMock) -> None:
    """A session passed in is used and left open by close()/the context manager."""

    class Tracking(requests.Session):
        closed = False

        def close(self) -> None:
            self.closed = True
            super().close()

    session = Tracking()
    mock.add(responses.GET, f"{BASE}/exchange/status", json={})
    with RestClient(session=session) as rest:
        rest.get_exchange_status()
    assert not session.closed
    session.close()


def test_context_manager_closes(mock: responses.RequestsMock) -> None:
    """Leaving the with-block closes the client."""
    with RestClient() as rest:
        pass
    with pytest.raises(ClientClosedError):
        rest.get_exchange_status()
