"""Out-of-time backtest over a panel's snapshots (issue 24). Pure functions.

For each of the last N labelled snapshots, the model spec train kept is fitted on every
earlier snapshot and scores that one, as it would have been used that month: ROC-AUC,
top-decile lift, calibration (ECE) and churn rate per month, and the mean and worst month.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.splitting import snapshots

if TYPE_CHECKING:
    from sklearn.base import ClassifierMixin

log = logging.getLogger(__name__)

COLUMNS = ["snapshot", "members", "train_rows", "churn_rate", "roc_auc", "top_decile_lift", "ece"]


def backtest_months(values: pd.Series, months: int, gap: int = 0) -> list:
    """The snapshots to test: the last `months` of those with an earlier one to learn from
    (`gap` snapshots before it left out: outcomes not known yet then)."""
    return snapshots(values)[1 + gap :][-months:]


def backtest(
    members: pd.DataFrame, model: ClassifierMixin, contract: Contract, months: int, n_bins: int
) -> pd.DataFrame:
    """One row per tested snapshot (COLUMNS, earliest first): the unfitted `model` fitted on
    the labelled `members` of every earlier snapshot (but the last target.horizon - 1, whose
    outcome was not known yet that month), scored on that snapshot's.

    Empty (the columns only) without a snapshot column or with fewer than two snapshots. A
    month of one class has no ROC-AUC or lift (NaN in the table; left out of the summary)."""
    snapshot = contract.snapshot
    if snapshot is None:
        return pd.DataFrame(columns=COLUMNS)
    # scikit-learn only where a month is tested: an export without snapshots (most) pays
    # none of its start-up in this stage's process
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score

    from gym_churn.evaluation.metrics import expected_calibration_error, top_share_lift
    from gym_churn.models.selection import split_xy

    gap = contract.target.horizon - 1
    order = snapshots(members[snapshot])
    rows = []
    for month in backtest_months(members[snapshot], months, gap):
        cut = order[order.index(month) - gap]  # train on the snapshots before this one
        before, during = members[members[snapshot] < cut], members[members[snapshot] == month]
        X_train, y_train = split_xy(before, contract)
        X_test, y_test = split_xy(during, contract)
        if y_train.nunique() < 2:  # nothing to learn yet: no row, the month is not tested
            log.warning("snapshot %r: every earlier row has one label; not tested", month)
            continue
        proba = clone(model).fit(X_train, y_train).predict_proba(X_test)[:, 1]
        y = y_test.to_numpy()
        both = len(np.unique(y)) == 2
        rows.append(
            {
                "snapshot": month,
                "members": len(during),
                "train_rows": len(before),
                "churn_rate": float(y.mean()),
                "roc_auc": float(roc_auc_score(y, proba)) if both else np.nan,
                "top_decile_lift": top_share_lift(y, proba, 0.1) if y.any() else np.nan,
                "ece": expected_calibration_error(y, proba, n_bins),
            }
        )
        log.info("backtest %s: %s", month, {k: v for k, v in rows[-1].items() if k != "snapshot"})
    return pd.DataFrame(rows, columns=COLUMNS)


def backtest_summary(table: pd.DataFrame) -> dict[str, Any]:
    """The headline figures: months tested, and the mean and worst month of ROC-AUC, lift and
    ECE (worst: lowest ROC-AUC and lift, highest ECE), and the mean churn rate. Figures no
    month has are left out (strict JSON has no NaN)."""
    out: dict[str, Any] = {"backtest_months": len(table)}
    worst = {"roc_auc": "min", "top_decile_lift": "min", "ece": "max"}
    for column, how in worst.items():
        values = table[column].dropna()
        if len(values):
            out[f"backtest_{column}_mean"] = float(values.mean())
            out[f"backtest_{column}_worst"] = float(getattr(values, how)())
    if len(table):
        out["backtest_churn_rate_mean"] = float(table["churn_rate"].mean())
    return out
