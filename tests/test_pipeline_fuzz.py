"""Fuzzing the client's whole receive pipeline offline (decode -> seq -> books -> delivery).

The decoder alone is fuzzed in test_protocol.py and the book alone in test_orderbook.py;
here random frames go through a client's ``_on_frame`` (the function the network thread
calls) and through ``client.replay()``: nothing may escape, nothing may be logged as a
crash (``decoder failed`` / ``failed to process``), and the books must stay exactly what
the delivered messages say they are.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kalshi_sync as ks
from kalshi_sync import protocol
from kalshi_sync.errors import ProtocolError
from kalshi_sync.recording import Recorder

URL = "ws://127.0.0.1:9/trade-api/ws/v2"  # never connected: the client stays offline
TICKERS = ["FZ-A", "FZ-B"]
SIDES = ["yes", "no"]


class CrashLog(logging.Handler):
    """Collects ERROR records of kalshi_sync: the pipeline logs its own crashes there."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Only this thread's records: the offline pipeline runs here, and another test's
        # client (other threads) must not be blamed on this one.
        if record.thread == threading.get_ident():
            self.records.append(record)


class Model:
    """The documented book rules, applied to the messages the client delivered.

    A book message that cannot be applied (a delta without market, price, delta or a
    yes/no side on a live book; a snapshot that is not ``applicable``) is delivered but
    puts its book resyncing -- when it names no market, every book of its sid (for a delta,
    every live one).
    """

    def __init__(self) -> None:
        self.books: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}
        self.state: dict[str, str] = {}
        self.sid: dict[str, int | None] = {}
        self.seen: set[tuple[int | None, int | None]] = set()
        self.repeats: list[Any] = []

    def __call__(self, msg: Any) -> None:
        kind = msg.type
        if kind in protocol.SEQUENCED_TYPES and msg.seq is not None and msg.sid is not None:
            key = (msg.sid, msg.seq)
            if key in self.seen:
                self.repeats.append(key)
            self.seen.add(key)
        if kind == "gap":
            for t in msg.market_tickers:
                if t in self.state:
                    self.state[t] = "resyncing"
        elif kind == "orderbook_snapshot" and not msg.applicable:
            if msg.sid is None:
                return
            if msg.market_ticker is not None:
                self.resync([msg.market_ticker])
            else:
                self.resync(t for t, sid in self.sid.items() if sid == msg.sid)
        elif kind == "orderbook_snapshot":
            yes: dict[Decimal, Decimal] = {}
            no: dict[Decimal, Decimal] = {}
            for side, pairs in ((yes, msg.yes), (no, msg.no)):
                for price, count in pairs:
                    if count > 0:
                        side[price] = count
                    else:
                        side.pop(price, None)
            self.books[msg.market_ticker] = (yes, no)
            self.state[msg.market_ticker] = "live"
            self.sid[msg.market_ticker] = msg.sid
        elif kind == "orderbook_delta":
            t = msg.market_ticker
            if t is None:  # only live books can have been corrupted by it
                if msg.sid is not None:
                    self.resync(
                        t
                        for t, sid in self.sid.items()
                        if sid == msg.sid and self.state[t] == "live"
                    )
                return
            if t not in self.books or self.state[t] != "live":
                return
            if self.sid[t] is not None and msg.sid != self.sid[t]:
                return
            if msg.price is None or msg.delta is None or msg.side not in SIDES:
                if msg.sid is not None:
                    self.resync([t])
                return
            levels = self.books[t][0 if msg.side == "yes" else 1]
            count = levels.get(msg.price, Decimal(0)) + msg.delta
            if count > 0:
                levels[msg.price] = count
            else:
                levels.pop(msg.price, None)

    def resync(self, tickers: Any) -> None:
        for t in list(tickers):
            if t in self.state:
                self.state[t] = "resyncing"


def offline_client(key: Any) -> tuple[ks.KalshiClient, Model]:
    """A client wired like replay() does it: never connected, every sid accepted."""
    client = ks.KalshiClient("fuzz", key, url=URL, delivery="inline")
    client._pipeline.offline = True
    client._state = "offline"
    model = Model()
    client.on("*", model)
    return client, model


def check_books(client: ks.KalshiClient, model: Model) -> None:
    assert set(client._books.tickers()) == set(model.books)
    for t, (yes, no) in model.books.items():
        book = client.orderbook(t)
        assert book.state == model.state[t]
        assert dict(book.yes) == yes and dict(book.no) == no
        for levels in (book.yes, book.no):
            assert all(isinstance(p, Decimal) and c > 0 for p, c in levels.items())


@pytest.fixture(scope="module")
def rsa_key(key_pair: tuple[bytes, object]) -> Any:
    from kalshi_sync.auth import load_private_key

    return load_private_key(key_pair[0])


# -- strategies ---------------------------------------------------------------------------

decimal_texts = st.one_of(
    st.decimals(min_value=-2, max_value=2, places=4, allow_nan=False).map(str),
    st.sampled_from(["0.5", "0.50", "1", "0", "-0", "1e2", "NaN", "Infinity", "", "abc", "0x1"]),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
levels = st.lists(st.tuples(decimal_texts, decimal_texts).map(list), max_size=4)
delta_msgs = st.fixed_dictionaries(
    {
        "market_ticker": st.sampled_from(TICKERS),
        "price_dollars": decimal_texts,
        "delta_fp": decimal_texts,
        "side": st.sampled_from([*SIDES, "maybe"]),
    },
    optional={"market_id": st.text(max_size=4), "ts_ms": st.integers(0, 2**45)},
)
snapshot_msgs = st.fixed_dictionaries(
    {"market_ticker": st.sampled_from(TICKERS)},
    optional={"yes_dollars_fp": levels, "no_dollars_fp": levels},
)
small_ints = st.integers(0, 6) | st.sampled_from([-1, 2**63, None, "1", 1.5])
envelopes = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("orderbook_delta"),
            "sid": small_ints,
            "seq": small_ints,
            "msg": delta_msgs,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("orderbook_snapshot"),
            "sid": small_ints,
            "seq": small_ints,
            "msg": snapshot_msgs,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["ok", "subscribed", "unsubscribed", "error", "ticker", "trade", "zzz", ""]
            ),
            "sid": small_ints,
            "seq": small_ints,
            "id": small_ints,
            "msg": json_values,
        }
    ),
    st.dictionaries(st.sampled_from(["type", "sid", "seq", "msg", "id"]), json_values),
)


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # json can write big ints and NaN, like a bad server


frames = st.one_of(
    st.binary(max_size=120),
    json_values.map(encode),
    envelopes.map(encode),
    envelopes.map(lambda e: json.dumps(e)[: len(json.dumps(e)) // 2].encode()),  # truncated
)


# -- properties ---------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames, max_size=40))
def test_random_frames_through_the_pipeline_never_raise_nor_corrupt_books(rsa_key, batch):
    """Random frames through _on_frame: nothing escapes or logs a crash; books always equal
    the documented rules applied to what was delivered, and no seq is delivered twice."""
    client, model = offline_client(rsa_key)
    crashes = CrashLog()
    logger = logging.getLogger("kalshi_sync")
    logger.addHandler(crashes)
    try:
        for data in batch:
            client._on_frame(data)
            check_books(client, model)
        assert not crashes.records, [r.getMessage() for r in crashes.records]
        assert not model.repeats
        stats = client.stats()
        assert stats["messages"] == len(batch)
    finally:
        logger.removeHandler(crashes)
        client.close()


def _valid_stream(ops: list[tuple[str, str, str, str]]) -> tuple[list[bytes], dict[str, Any]]:
    """Snapshot + deltas on sid 1 with consecutive seqs, and the book they must produce."""
    yes: dict[Decimal, Decimal] = {Decimal("0.42"): Decimal("3")}
    no: dict[Decimal, Decimal] = {}
    out = [
        encode(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 1,
                "msg": {"market_ticker": "FZ-A", "yes_dollars_fp": [["0.42", "3"]]},
            }
        )
    ]
    for seq, (side, price, delta, _) in enumerate(ops, start=2):
        out.append(
            encode(
                {
                    "type": "orderbook_delta",
                    "sid": 1,
                    "seq": seq,
                    "msg": {
                        "market_ticker": "FZ-A",
                        "price_dollars": price,
                        "delta_fp": delta,
                        "side": side,
                    },
                }
            )
        )
        levels = yes if side == "yes" else no
        count = levels.get(Decimal(price), Decimal(0)) + Decimal(delta)
        if count > 0:
            levels[Decimal(price)] = count
        else:
            levels.pop(Decimal(price), None)
    return out, {"yes": yes, "no": no}


def _harmless(data: bytes) -> bool:
    """Junk that cannot legitimately touch sid 1 / FZ-A (a decodable frame on them could)."""
    try:
        msg = protocol.decode(data)
    except ProtocolError:
        return True
    return msg.sid != 1 and getattr(msg, "market_ticker", None) != "FZ-A"


valid_ops = st.lists(
    st.tuples(
        st.sampled_from(SIDES),
        st.sampled_from(["0.40", "0.42", "0.50", "0.61"]),
        st.sampled_from(["1", "2.5", "-1", "-3", "10"]),
        st.just(""),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_ops, st.lists(frames.filter(_harmless), max_size=25), st.randoms())
def test_junk_interleaved_with_a_recorded_stream_leaves_the_book_exact(rsa_key, ops, junk, rnd):
    """A recording of a valid stream with junk frames mixed in, fed through replay():
    the book is exactly the valid stream's book, live, and every valid frame delivered."""
    stream, expected = _valid_stream(ops)
    mixed = list(stream)
    for j in junk:
        mixed.insert(rnd.randint(0, len(mixed)), j)
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        with Recorder(path) as rec:
            for i, data in enumerate(mixed):
                rec.write(data, i)
        client = ks.KalshiClient("fuzz", rsa_key, url=URL)
        got: list[Any] = []
        client.on("orderbook_delta", got.append)
        try:
            assert client.replay(path) == len(mixed)
            book = client.orderbook("FZ-A")
            assert book.state == "live"
            assert dict(book.yes) == expected["yes"] and dict(book.no) == expected["no"]
            mine = [m.seq for m in got if m.sid == 1 and m.market_ticker == "FZ-A"]
            assert mine == list(range(2, len(ops) + 2))
        finally:
            client.close()
    finally:
        os.unlink(path)
