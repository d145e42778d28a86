"""Two-valued text columns back in their own words for per-member tables people read.

Inside the pipeline a flag is 0/1 (absent/present, as the contract lists its values); a
column the export wrote as `Female`/`Male` or `No`/`Yes` goes back to those labels in the
scored table, and the target to its declared labels. Pure functions.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gym_churn.contract.spec import Contract


def _text(values: list[Any] | None) -> bool:
    """Labels that are words (Female/Male, No/Yes) or true/false, not the numbers 0/1."""
    return bool(values) and all(isinstance(v, str | bool) for v in values or [])


def binary_labels(contract: Contract) -> dict[str, tuple[Any, Any]]:
    """Flag -> (label of 0, label of 1), for the flags declared with text or true/false."""
    return {
        col: (f.allowed[0], f.allowed[1])
        for col, f in contract.features.items()
        if f.kind == "binary" and f.allowed is not None and _text(f.allowed)
    }


def with_labels(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """`frame` with each text-declared flag (and a text-declared target) shown by its labels;
    a gap stays a gap, other columns are untouched."""
    out = frame.copy()
    for col, (absent, present) in binary_labels(contract).items():
        if col in out:
            out[col] = out[col].map({0: absent, 1: present})
    t = contract.target
    if t.column in out and _text([t.positive[0], t.negative[0]]):
        out[t.column] = out[t.column].map({1: t.positive[0], 0: t.negative[0]})
    return out
