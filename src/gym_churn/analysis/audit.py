"""An audit of the data and the model: what looks too good to be true. Pure functions.

- Each model feature's single-feature ROC-AUC (how well its value alone ranks churners).
- Ranges that hold one class only: the lowest and highest values of a feature where every
  member has the same label. A strong real signal can make the common outcome certain (no
  member with ten years of tenure leaves); it rarely makes the rare outcome certain for a
  large share of members. A feature measured after, or because of, the outcome does. So a
  feature is flagged when its tails in which every member has the *rarer* label hold at
  least a set share of all members.
- Rows that break the contract's counted relations (anomalies kept in the data, not refused).

Flagging uses the training split only: it decides what the supervised segments and the
"without" cross-validation leave out, so it must not see the test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from gym_churn.contract.spec import Contract


def single_feature_auc(x: pd.Series, y: pd.Series) -> float:
    """ROC-AUC of the feature's value as a churn score, in whichever direction ranks better
    (0.5 = no information, 1 = perfect); gaps left out."""
    keep = x.notna()
    if keep.sum() == 0 or y[keep].nunique() < 2:
        return float("nan")
    auc = roc_auc_score(y[keep], x[keep].astype(float))
    return float(max(auc, 1 - auc))


@dataclass(frozen=True)
class PureTail:
    """The run of lowest (or highest) values in which every member has the same label."""

    side: str  # "low" | "high"
    label: int  # the one label members in the tail have
    members: int
    bound: float  # the tail is x <= bound (low) or x >= bound (high)


def pure_tails(x: pd.Series, y: pd.Series) -> list[PureTail]:
    """Both one-class tails of `x`, counted by whole values (members sharing a value are all
    in or all out). An empty tail is left out."""
    keep = x.notna()
    # members per (value, label), values ascending: counted with bincount, as pd.crosstab
    # would count them at a tenth of its cost (an audit of 15 features spent 0.3 s there)
    values, codes = np.unique(x[keep].to_numpy(dtype=float), return_inverse=True)
    churned = np.bincount(codes, weights=y[keep].to_numpy() == 1, minlength=len(values))
    churned = churned.astype(int)
    stayed = np.bincount(codes, minlength=len(values)) - churned
    counts = pd.DataFrame({0: stayed, 1: churned}, index=values)
    out = []
    for side, table in (("low", counts), ("high", counts.iloc[::-1])):
        pure = (table[0] == 0) | (table[1] == 0)
        label = 1 if table.iloc[0][0] == 0 else 0
        same = pure & (table[1 - label] == 0)
        run = int(np.argmin(same.to_numpy())) if not same.all() else len(same)
        if run:
            tail = table.iloc[:run]
            out.append(PureTail(side, label, int(tail.to_numpy().sum()), float(tail.index[-1])))
    return out


def flag_features(
    members: pd.DataFrame, contract: Contract, min_pure_share: float
) -> tuple[pd.DataFrame, list[str]]:
    """Per model feature: single-feature ROC-AUC and its one-class tails; and the raw columns
    flagged because a feature made from them has tails of the rarer label holding at least
    `min_pure_share` of members."""
    y = members[contract.target.column]
    rarer = int(y.mean() < 0.5)  # the label fewer members have
    rows = []
    for col in contract.model_features:
        if contract.kind(col) == "categorical":
            auc = single_feature_auc(
                members[col].map(y.groupby(members[col]).mean()).astype(float), y
            )
            tails: list[PureTail] = []
        else:
            auc = single_feature_auc(members[col], y)
            tails = pure_tails(members[col], y)
        share = sum(t.members for t in tails if t.label == rarer) / len(members)
        sources = contract.sources(col) if col in contract.engineered else [col]
        low = next((t for t in tails if t.side == "low"), None)
        high = next((t for t in tails if t.side == "high"), None)
        rows.append(
            {
                "feature": col,
                "made_from": " + ".join(sources),
                "single_feature_roc_auc": auc,
                "rarer_label_certain_share": share,
                "low_tail_members": low.members if low else 0,
                "low_tail_upto": low.bound if low else np.nan,
                "low_tail_label": low.label if low else np.nan,
                "high_tail_members": high.members if high else 0,
                "high_tail_from": high.bound if high else np.nan,
                "high_tail_label": high.label if high else np.nan,
                "flagged": share >= min_pure_share,
            }
        )
    table = pd.DataFrame(rows)
    return table, flagged_columns(table, contract)


def flagged_columns(table: pd.DataFrame, contract: Contract) -> list[str]:
    """The raw columns an audit table (flag_features's, or reports/audit.csv) flags: those
    each flagged feature is made from, in the table's order, each once."""
    out: list[str] = []
    for col in table.loc[table["flagged"].astype(bool), "feature"]:
        sources = contract.sources(col) if col in contract.engineered else [col]
        out += [s for s in sources if s not in out]
    return out


def anomalies(members: pd.DataFrame, contract: Contract) -> list[dict[str, Any]]:
    """Rows breaking each counted (not enforced) relation of the contract."""
    out = []
    for rel in contract.relations:
        if rel.enforce:
            continue
        used = contract.names_in(rel.rule, contract.raw_features)
        judged = members[used].notna().all(axis=1)
        holds = members.eval(rel.rule, engine="python").astype(bool)
        broken = judged & ~holds
        out.append(
            {
                "name": rel.name or rel.rule,
                "rule": rel.rule,
                "note": rel.note,
                "rows": int(broken.sum()),
                "share": float(broken.mean()),
            }
        )
    return out
