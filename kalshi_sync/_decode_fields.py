"""Field getters for the WebSocket decoders (:mod:`kalshi_sync._decoders`): how one wire field
becomes one model attribute. Decimals with the legacy-unit fallback (:func:`_dec`,
:func:`_dollars`, :func:`_contracts`), typed scalars that are strict only for key fields,
string lists, the envelope integers, the payload, nested lists (price ranges, RFQ legs), and
:class:`_Key`, which marks a field whose absence is named in a message's ``missing``. Every
getter takes the ``msg`` object and returns the value or None; a field that fails validation
raises :class:`_Invalid`. No I/O, no state, no threads.

Missing is not invalid: a field that is absent, ``null`` or ``""`` decodes to None, and a
message is never refused for it. A key field of the wrong JSON type is still
:class:`_Invalid`; an optional informational scalar of the wrong type is None and its value
stays in ``.raw``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from kalshi_sync.models import Message, MveLeg, PriceRange

_Body = dict[str, Any]
_Getter = Callable[[_Body], Any]
_Field = tuple[str, _Getter]
_Decoder = Callable[[_Body, str], Message]

# Decimal exponents of the legacy integer units (docs/protocol.md, 'Fixed-point values').
_CENTS = -2
_CENTI_CENTS = -4


class _Invalid(Exception):
    """A field failed validation. decode() re-raises it as ProtocolError carrying the frame."""


def _kind(value: Any) -> str:
    return type(value).__name__


# --- field conversion ----------------------------------------------------------------------


def _to_decimal(value: Any, key: str, exp: int) -> Decimal | None:
    """``value`` (decimal string or JSON number) as a Decimal times 10**exp; ``""`` -> None."""
    kind = type(value)
    if kind is str:
        if not value:
            return None  # the wire sends "" for "no value yet" (ticker price before a trade)
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise _Invalid(f"field {key!r} is not a decimal string: {value[:40]!r}") from None
    elif kind is int:
        number = Decimal(value)
    elif kind is float:
        # Drift: a JSON float where a string or int is expected. repr() is the shortest text
        # that round-trips, so 0.1 becomes Decimal("0.1") and not the binary expansion.
        number = Decimal(repr(value))
    else:
        raise _Invalid(f"field {key!r} must be a decimal string or a number, got {_kind(value)}")
    if not number.is_finite():
        raise _Invalid(f"field {key!r} is not a finite number: {value!r}")
    # scaleb shifts the exponent only: exact, no context rounding.
    return number.scaleb(exp) if exp else number


def _dec(key: str, legacy: str | None = None, exp: int = 0) -> _Getter:
    """Getter for a Decimal from ``key``, or when absent from the ``legacy`` field in 10**exp.
    Absent, null and ``""`` are None; any other non-number is :class:`_Invalid` (a guessed
    number is worse than none)."""

    def get(body: _Body) -> Decimal | None:
        number: Decimal | None
        value = body.get(key)
        if type(value) is str and value:
            # Inline fast path for the current form; _to_decimal handles the rest and errors.
            try:
                fast: Decimal | None = Decimal(value)
            except InvalidOperation:
                fast = None
            ok = fast is not None and fast.is_finite()
            number = fast if ok else _to_decimal(value, key, 0)
        elif value is not None:
            number = _to_decimal(value, key, 0)
        elif legacy is not None and body.get(legacy) is not None:
            number = _to_decimal(body[legacy], legacy, exp)
        else:
            number = None
        return number

    return get


def _typed(kind: type, what: str) -> Callable[..., _Getter]:
    def factory(key: str, *, strict: bool = False) -> _Getter:
        def get(body: _Body) -> Any:
            value = body.get(key)
            if type(value) is kind:
                return value
            if strict and value is not None:
                raise _Invalid(f"field {key!r} must be {what}, got {_kind(value)}")
            return None  # optional and drifted: the value stays in .raw

        return get

    return factory


def _str(key: str, *, strict: bool = False) -> _Getter:
    """Getter for a string; ``""`` is None like an absent key. ``strict``: another JSON type
    is :class:`_Invalid` (key fields), else None with the value left in ``.raw``."""

    def get(body: _Body) -> str | None:
        value = body.get(key)
        if type(value) is str:
            return value or None
        if strict and value is not None:
            raise _Invalid(f"field {key!r} must be a string, got {_kind(value)}")
        return None

    return get


_int = _typed(int, "an integer")
_bool = _typed(bool, "a boolean")
_obj = _typed(dict, "an object")


def _absent(value: Any) -> bool:
    """Missing in the wire's sense: absent, null or ``""`` (never an error)."""
    return value is None or value == ""


def _str_tuple(body: _Body, key: str) -> tuple[str, ...] | None:
    value = body.get(key)
    if _absent(value):
        return None
    if type(value) is list and all(type(item) is str for item in value):
        return tuple(value)
    raise _Invalid(f"field {key!r} must be a list of strings")


def _str_tuple_getter(key: str) -> _Getter:
    return lambda body: _str_tuple(body, key) or ()


def _strs(*keys: str) -> tuple[_Field, ...]:
    return tuple((key, _str(key)) for key in keys)


def _ints(*keys: str) -> tuple[_Field, ...]:
    return tuple((key, _int(key)) for key in keys)


def _dollars(name: str, legacy_exp: int = _CENTS) -> _Field:
    """``name`` from ``name_dollars``, else the legacy integer ``name`` in 10**legacy_exp $."""
    return name, _dec(f"{name}_dollars", name, legacy_exp)


def _contracts(name: str) -> _Field:
    """``name`` from ``name_fp``, else the legacy integer ``name`` (whole contracts)."""
    return name, _dec(f"{name}_fp", name, 0)


class _Key(NamedTuple):
    """A key field: decoded like any other, and named in ``missing`` when it comes out None."""

    name: str
    get: _Getter


def _key(field: _Field) -> _Key:
    return _Key(*field)


def _key_str(name: str, key: str | None = None) -> _Key:
    """A string key field, strict about its JSON type."""
    return _Key(name, _str(key or name, strict=True))


def _plain_dec(name: str) -> _Field:
    """A Decimal field with no unit suffix (``fee_cost``, ``settlement_value``...): same unit
    whether the wire sends a string or a number."""
    return name, _dec(name)


def _envelope_int(env: _Body, key: str) -> int | None:
    value = env.get(key)
    if value is None or type(value) is int:
        return value
    raise _Invalid(f"envelope {key!r} must be an integer, got {_kind(value)}")


def _sending_ts_ms(env: _Body) -> int | None:
    """The envelope's ``sending_ts_ms``: informational, so a drifted type is None (the value
    stays in ``.raw``) rather than the loss of the whole frame."""
    value = env.get("sending_ts_ms")
    return value if type(value) is int else None


def _payload(env: _Body) -> _Body:
    """``msg`` as an object; absent or null is ``{}`` (every field missing, the message still
    decodes and says so in ``missing``); any other JSON type is :class:`_Invalid`."""
    body = env.get("msg")
    if type(body) is dict:
        return body
    if body is None:
        return {}
    raise _Invalid(f"'msg' must be an object, got {_kind(body)}")


_optional_payload = _payload  # control replies: ``msg`` may be absent or ``{}`` too


def _first_str(*keys: str) -> _Getter:
    """The first of ``keys`` that holds a non-empty string: for fields the server renamed."""

    def get(body: _Body) -> str | None:
        for key in keys:
            value = body.get(key)
            if type(value) is str and value:
                return value
        return None

    return get


# --- nested structures ---------------------------------------------------------------------


def _price_ranges(body: _Body) -> tuple[PriceRange, ...] | None:
    ranges = body.get("price_ranges")
    if _absent(ranges):
        return None
    if type(ranges) is not list or not all(type(item) is dict for item in ranges):
        raise _Invalid("field 'price_ranges' must be a list of objects")
    get_start, get_end, get_step = (_dec(k) for k in ("start", "end", "step"))
    return tuple(PriceRange(start=get_start(r), end=get_end(r), step=get_step(r)) for r in ranges)


_LEG_FIELDS: tuple[_Field, ...] = (
    *_strs("event_ticker", "market_ticker", "side"),
    ("yes_settlement_value", _dec("yes_settlement_value_dollars")),
)


def _mve_legs(body: _Body) -> tuple[MveLeg, ...] | None:
    legs = body.get("mve_selected_legs")
    if _absent(legs):
        return None
    if type(legs) is not list or not all(type(item) is dict for item in legs):
        raise _Invalid("field 'mve_selected_legs' must be a list of objects")
    return tuple(MveLeg(**{name: get(leg) for name, get in _LEG_FIELDS}) for leg in legs)
