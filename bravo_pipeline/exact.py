"""Exact decimal arithmetic for money: sums that raise rather than round."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Context, Decimal, Inexact, localcontext

EXACT = Context(prec=1_000, traps=[Inexact])  # wide enough for any numeric; raises rather than rounds


def exact_sum(values: Iterable[str | Decimal | None]) -> Decimal:
    """The exact sum of decimal strings or Decimals (nulls skipped); raises rather than round."""
    with localcontext(EXACT):
        total = Decimal(0)
        for value in values:
            if value is not None:
                total += Decimal(value)
        return total
