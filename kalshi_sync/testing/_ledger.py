"""Positions and balances of the fake exchange's accounts (pure, exact Decimal).

An account is ``(owner, subaccount)``. Buying ``c`` contracts on a leg at leg price ``x``
costs ``x·c`` plus the fee. A YES and a NO contract held together are worth exactly $1, so
the exchange nets them at once: buying NO while long YES closes YES contracts, pays $1 per
closed pair back to the balance, and realizes ``1 - x - cost_of_the_closed_contract`` per
pair. Positions are therefore one signed number (+ YES, - NO), as on Kalshi.

The cost of what is held is tracked in FIFO lots so that closing part of a position takes an
exact cost off (an average cost would need division and rounding). Realized P&L excludes
fees; fees are counted in ``fees_paid`` (lifetime) and ``position_fee_cost`` (since flat).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ._orders import ONE, ZERO, Leg, PositionState

__all__ = ["DEFAULT_BALANCE", "Ledger"]

DEFAULT_BALANCE = Decimal("1000.00")
"""Dollars an account starts with (set another amount with ``Ledger.set_balance``)."""

Account = tuple[str, int]


@dataclass
class _Book:
    """Mutable position state behind a :class:`PositionState`."""

    state: PositionState
    leg: Leg = "yes"  # the leg of the contracts in ``lots`` (meaningless when flat)
    lots: deque[tuple[Decimal, Decimal]] = field(default_factory=deque)  # (count, leg price)


class Ledger:
    """Balances and positions per account. Not thread-safe (the server holds its lock)."""

    def __init__(self, default_balance: Decimal = DEFAULT_BALANCE) -> None:
        self._default_balance = default_balance
        self._balances: dict[Account, Decimal] = {}
        self._updated_ms: dict[Account, int] = {}
        self._positions: dict[tuple[str, int, str], _Book] = {}

    # ---- reads ----------------------------------------------------------------------

    def balance(self, owner: str, subaccount: int = 0) -> Decimal:
        return self._balances.get((owner, subaccount), self._default_balance)

    def balance_updated_ms(self, owner: str, subaccount: int = 0) -> int:
        return self._updated_ms.get((owner, subaccount), 0)

    def position(self, owner: str, subaccount: int, ticker: str) -> PositionState:
        book = self._positions.get((owner, subaccount, ticker))
        return book.state if book is not None else PositionState(owner, subaccount, ticker)

    def positions(self, owner: str, subaccount: int | None = None) -> list[PositionState]:
        """Every market the account ever traded (also flat ones), in first-trade order."""
        return [
            book.state
            for (o, s, _), book in self._positions.items()
            if o == owner and (subaccount is None or s == subaccount)
        ]

    def subaccounts(self, owner: str) -> list[int]:
        subs = {s for (o, s) in self._balances if o == owner}
        subs.update(s for (o, s, _) in self._positions if o == owner)
        return sorted(subs | {0})

    # ---- writes ---------------------------------------------------------------------

    def set_balance(self, owner: str, amount: Decimal, subaccount: int = 0) -> None:
        self._balances[(owner, subaccount)] = amount

    def apply_fill(
        self,
        owner: str,
        subaccount: int,
        ticker: str,
        leg: Leg,
        price: Decimal,
        count: Decimal,
        fee: Decimal,
        ts_ms: int,
    ) -> PositionState:
        """Book a purchase of ``count`` contracts on ``leg`` at leg price ``price``."""
        account = (owner, subaccount)
        key = (owner, subaccount, ticker)
        book = self._positions.get(key)
        if book is None:
            book = self._positions[key] = _Book(PositionState(owner, subaccount, ticker))
        balance = self.balance(owner, subaccount) - price * count - fee
        realized = ZERO
        left = count
        if book.lots and book.leg != leg:
            # Close opposite contracts first: each closed pair pays $1 back.
            while left > 0 and book.lots:
                lot_count, lot_price = book.lots[0]
                take = min(left, lot_count)
                if take == lot_count:
                    book.lots.popleft()
                else:
                    book.lots[0] = (lot_count - take, lot_price)
                realized += take * (ONE - price - lot_price)
                balance += take
                left -= take
        if left > 0:
            book.leg = leg
            book.lots.append((left, price))
        held = sum((c for c, _ in book.lots), ZERO)
        state = book.state
        fee_cost = state.position_fee_cost + fee if held else ZERO
        book.state = replace(
            state,
            position=held if book.leg == "yes" else -held,
            position_cost=sum((c * p for c, p in book.lots), ZERO),
            realized_pnl=state.realized_pnl + realized,
            fees_paid=state.fees_paid + fee,
            position_fee_cost=fee_cost,
            volume=state.volume + count,
            total_traded=state.total_traded + price * count,
            last_updated_ts_ms=ts_ms,
        )
        self._balances[account] = balance
        self._updated_ms[account] = ts_ms
        return book.state
