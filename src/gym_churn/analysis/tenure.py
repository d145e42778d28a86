"""The monthly churn rate at each month since joining (churn by tenure). Pure functions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.segments.profiles import wilson

COLUMNS = ["tenure", "members", "churned", "churn_rate", "low", "high", "share_of_churners",
           "cumulative_share_of_churners"]  # fmt: skip


def churn_by_tenure(members: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """One row per whole month of tenure (the contract's tenure column, rounded down): members,
    churned, churn rate with its Wilson 95% CI, and the share (and running share) of all
    churners. Empty when the contract names no tenure column."""
    col, target = contract.tenure, contract.target.column
    if col is None:
        return pd.DataFrame(columns=COLUMNS)
    known = members[members[col].notna()]
    months = np.floor(known[col].astype(float)).astype(int)
    grouped = known[target].groupby(months)
    table = pd.DataFrame({"members": grouped.size(), "churned": grouped.sum()})
    table.index.name = "tenure"
    table = table.reset_index()
    table["churn_rate"] = table["churned"] / table["members"]
    ci = [wilson(int(c), int(n)) for c, n in zip(table["churned"], table["members"], strict=True)]
    table["low"], table["high"] = [lo for lo, _ in ci], [hi for _, hi in ci]
    total = max(int(table["churned"].sum()), 1)
    table["share_of_churners"] = table["churned"] / total
    table["cumulative_share_of_churners"] = table["share_of_churners"].cumsum()
    return table[COLUMNS]


def early_churn(table: pd.DataFrame, early_months: int) -> dict[str, Any]:
    """How many of the churners left in their first `early_months` months (tenure below it),
    as a share with its Wilson 95% CI, beside the share of all members who are that early
    (`members_share`): the table is one snapshot of members by tenure, not a cohort followed
    over time, so the churners' share means something only next to the members' share."""
    if table.empty:
        return {"early_months": early_months, "churned_early": 0, "churned": 0,
                "share": float("nan"), "low": float("nan"), "high": float("nan"),
                "members_early": 0, "members": 0, "members_share": float("nan")}  # fmt: skip
    is_early = table["tenure"] < early_months
    early = int(table.loc[is_early, "churned"].sum())
    total = int(table["churned"].sum())
    members_early, members = int(table.loc[is_early, "members"].sum()), int(table["members"].sum())
    low, high = wilson(early, total)
    share = early / total if total else float("nan")
    return {"early_months": early_months, "churned_early": early, "churned": total,
            "share": share, "low": low, "high": high, "members_early": members_early,
            "members": members,
            "members_share": members_early / members if members else float("nan")}  # fmt: skip
