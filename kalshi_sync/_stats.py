"""The shape of :meth:`KalshiClient.stats`: one TypedDict, so callers get key and type checks.

Declarations only; the client fills it from its connection, sequence checker, pipeline and
delivery counters.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["ClientStats"]


class ClientStats(TypedDict):
    """Counters since the client was created; every key is always present.

    Counts are totals since construction (they survive reconnects) unless said otherwise.

    - ``messages``: frames received; ``by_type``: the same per wire ``type``.
    - ``reconnects``: times the network thread went back to connecting after a drop or a
      failed attempt; ``connection_attempts``: every attempt, successful or not.
    - ``gaps``: sequence gaps seen; ``duplicates``: frames dropped as duplicate or older than
      the last seq of their sid; ``resyncs``: book resyncs started.
    - ``drops``: messages dropped by the bounded delivery queue (oldest first);
      ``overflows``: overflow episodes (one ``overflow`` event each).
    - ``decode_errors``: frames that did not decode (ProtocolError); ``partial_messages``:
      messages delivered although a key field was missing (``msg.missing``);
      ``unknown_sid``: frames for a sid no subscription owns (e.g. just after unsubscribe).
    - ``callback_errors``: exceptions raised by user callbacks; ``delivered``: messages and
      events taken from the queue and handed to their callbacks; ``queue_depth``: messages
      waiting for delivery now.
    - ``latency_ms_p50`` / ``latency_ms_p99``: server-queue-to-callback latency (now minus
      the envelope's ``sending_ts_ms`` as callbacks are about to run; whole ms, wall clocks)
      over the last ``latency_samples`` messages that carried it; None before the first.
    - ``last_message_age``: seconds since the last frame (monotonic), None before any.
    - ``connected``: a connection is open now.
    - ``fills_recovered``: fills delivered by recovery after a reconnect (``.recovered``);
      ``fills_deduplicated``: fills not delivered because they already were (a live copy
      of a recovered fill, the REST copy of a live one).
    """

    messages: int
    by_type: dict[str, int]
    reconnects: int
    connection_attempts: int
    gaps: int
    duplicates: int
    resyncs: int
    drops: int
    overflows: int
    decode_errors: int
    partial_messages: int
    unknown_sid: int
    callback_errors: int
    delivered: int
    queue_depth: int
    latency_ms_p50: int | None
    latency_ms_p99: int | None
    latency_samples: int
    last_message_age: float | None
    connected: bool
    fills_recovered: int
    fills_deduplicated: int
