"""Does a new export look like the members the model was trained on? Pure.

For each raw column, the export's distribution is compared with the training base's by the
population stability index, PSI = sum over bins of (export share - base share) *
ln(export share / base share): numbers in the base's decile bins, flags and categories by
level, missing values as a bin of their own. Levels the base never held are listed. A PSI
above the threshold (0.2 by convention is a shift worth acting on) is a sign the model needs
retraining.

Counts add up chunk by chunk, so an export streamed in chunks is checked whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract, level_text

# Shares are floored here before the logarithm: an empty bin would make PSI infinite.
FLOOR = 1e-4


def _is_levels(contract: Contract, column: str) -> bool:
    return contract.features[column].kind in ("binary", "categorical")


def _level_counts(values: pd.Series) -> dict[str, int]:
    """Members per level, keyed by the level's text; gaps left out. Counted per distinct
    cell first: turning cells into text one by one is slow on large chunks."""
    out: dict[str, int] = {}
    for value, n in values.value_counts(dropna=True).items():
        key = str(level_text(value))
        out[key] = out.get(key, 0) + int(n)
    return out


def reference(members: pd.DataFrame, contract: Contract, bins: int) -> dict[str, Any]:
    """The training base's distribution of every raw column, JSON-ready: decile cut points
    and bin shares for numbers, level shares for flags and categories."""
    out: dict[str, Any] = {}
    for col in contract.raw_features:
        values = members[col]
        if _is_levels(contract, col):
            seen = sorted(_level_counts(values).items(), key=lambda kv: -kv[1])
            out[col] = {
                "levels": [k for k, _ in seen],
                "shares": [n / max(len(values), 1) for _, n in seen],
                "missing": float(values.isna().mean()),
            }
        else:
            numbers = values.astype(float)
            cuts = np.unique(np.nanquantile(numbers, np.linspace(0, 1, bins + 1)[1:-1]))
            binned = np.searchsorted(cuts, numbers[numbers.notna()], side="right")
            counts = np.bincount(binned, minlength=len(cuts) + 1)
            out[col] = {
                "cuts": cuts.tolist(),
                "shares": (counts / max(len(numbers), 1)).tolist(),
                "missing": float(numbers.isna().mean()),
            }
    return out


def counts(
    ref: dict[str, Any], members: pd.DataFrame, raw: pd.DataFrame | None = None
) -> dict[str, dict[str, Any]]:
    """One chunk's counts in the reference's bins (and of levels it never held). Categories
    are counted in `raw` (the export's rows as read, one per member, in the members' order)
    when given: scoring turns a level the model never saw into a gap, and the check must
    still see it."""
    out: dict[str, dict[str, Any]] = {}
    for col, spec in ref.items():
        values = members[col]
        if "levels" in spec:
            if raw is not None and col in raw and values.dtype == object:
                cells = pd.Series(raw[col].to_numpy(), index=values.index)
                values = cells.where(cells.astype(str).str.strip() != "")
            seen = _level_counts(values)
            out[col] = {
                "bins": np.array([seen.get(level, 0) for level in spec["levels"]]),
                "new": {k: v for k, v in seen.items() if k not in spec["levels"]},
                "missing": int(values.isna().sum()),
            }
        else:
            numbers = values.to_numpy(dtype=float, na_value=np.nan)
            gap = np.isnan(numbers)
            binned = np.searchsorted(np.asarray(spec["cuts"]), numbers[~gap], side="right")
            out[col] = {
                "bins": np.bincount(binned, minlength=len(spec["cuts"]) + 1),
                "new": {},
                "missing": int(gap.sum()),
            }
    return out


def add_counts(a: dict[str, dict[str, Any]] | None, b: dict[str, dict[str, Any]]) -> dict:
    """Counts of two chunks together (a may be None: nothing counted yet)."""
    if a is None:
        return b
    out = {}
    for col in b:
        new = dict(a[col]["new"])
        for k, v in b[col]["new"].items():
            new[k] = new.get(k, 0) + v
        out[col] = {
            "bins": a[col]["bins"] + b[col]["bins"],
            "new": new,
            "missing": a[col]["missing"] + b[col]["missing"],
        }
    return out


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_table(
    ref: dict[str, Any], counted: dict[str, dict[str, Any]], contract: Contract, threshold: float
) -> pd.DataFrame:
    """One row per raw column: PSI against the training base, levels the base never held,
    and whether it drifted (PSI above `threshold`, or any new level)."""
    rows = []
    for col, spec in ref.items():
        c = counted[col]
        new_total = sum(c["new"].values())
        total = int(c["bins"].sum()) + c["missing"] + new_total
        # new levels count as one extra bin the base held none of
        expected = [*spec["shares"], spec["missing"], 0.0]
        actual = np.array([*c["bins"], c["missing"], new_total]) / max(total, 1)
        value = psi(np.asarray(expected), actual)
        rows.append(
            {
                "feature": col,
                "label": contract.words(col).label,
                "psi": value,
                "new_levels": ", ".join(sorted(c["new"])),
                "members": total,
                "drifted": bool(value > threshold or new_total > 0),
            }
        )
    return pd.DataFrame(rows)
