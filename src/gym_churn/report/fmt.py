"""How the report writes numbers: thousands separators, no scientific notation, money with
its currency, percentages with the decimals needed to tell them apart (12.5%, 27%)."""

from __future__ import annotations

import math
from typing import Any


def missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def num(x: float, decimals: int | None = None) -> str:
    """1080 -> "1,080"; 1.18 -> "1.18"; 1160.4 -> "1,160"; never "1.16e+03"."""
    if missing(x):
        return "–"
    x = float(x)
    if decimals is None:
        size = abs(x)
        if x.is_integer() or size >= 100:
            decimals = 0
        elif size >= 10:
            decimals = 1
        else:
            decimals = 2
    text = f"{x:,.{decimals}f}"
    if decimals and "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def count(n: float) -> str:
    return f"{round(float(n)):,}"


def pct(x: float, decimals: int | None = None) -> str:
    """0.125 -> "12.5%"; 0.27 -> "27%"; 0.26525 -> "26.5%"; 0.004 -> "0.4%"."""
    if missing(x):
        return "–"
    value = 100 * float(x)
    if decimals is None:
        if abs(value - round(value)) < 1e-9:
            decimals = 0
        elif abs(value) < 1:
            decimals = 2 if abs(value - round(value, 1)) > 1e-9 else 1
        else:
            decimals = 1
    return f"{value:,.{decimals}f}%"


def money(x: float, currency: str) -> str:
    """18204.4 -> "18,204 EUR"; a negative amount keeps its sign."""
    return f"{num(round(float(x)))} {currency}".strip()


def times(x: float, decimals: int = 1) -> str:
    """4.13 -> "4.1×"."""
    return "–" if missing(x) else f"{float(x):,.{decimals}f}×"


def ratio_ci(x: float, low: float, high: float) -> str:
    """A ratio with its 95% CI, "4.13 (3.02 to 5.65)", or a dash where undefined."""
    if missing(x):
        return "–"
    return f"{float(x):,.2f} ({float(low):,.2f} to {float(high):,.2f})"


def pct_ci(low: float, high: float) -> str:
    return f"{pct(low)} to {pct(high)}"
