"""Out-of-time backtest over a panel's snapshots (gym_churn.evaluation.backtest)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.evaluation.backtest import COLUMNS, backtest, backtest_months, backtest_summary
from gym_churn.evaluation.metrics import expected_calibration_error, top_share_lift
from gym_churn.features import add_features
from gym_churn.models.estimators import build_model
from gym_churn.splitting import split_unknown
from tests.conftest import PANEL_CONTRACT, make_other, make_panel

PANEL = parse_contract(PANEL_CONTRACT)


def _labelled(members: int = 40, months: int = 6) -> pd.DataFrame:
    checked = check_export(make_panel(members, months), PANEL, source="panel.csv")
    return split_unknown(add_features(checked.members, PANEL), PANEL)[0]


def _model():
    return build_model("logreg", {"C": 1.0, "max_iter": 500}, PANEL, seed=0)


@pytest.mark.parametrize(
    ("snapshots", "months", "expected"),
    [
        pytest.param(["a", "b", "c", "d", "e"], 3, ["c", "d", "e"], id="last-three"),
        pytest.param(["a", "b", "c"], 3, ["b", "c"], id="the-first-has-nothing-before"),
        pytest.param(["a"], 3, [], id="one-snapshot"),
        pytest.param(["b", "a", "b", "a"], 1, ["b"], id="unordered"),
    ],
)
def test_the_months_tested_are_the_last_with_an_earlier_month(snapshots, months, expected):
    assert backtest_months(pd.Series(snapshots), months) == expected


def test_each_month_is_scored_by_a_model_of_the_earlier_months_only():
    members = _labelled(months=6)  # 5 labelled months

    table = backtest(members, _model(), PANEL, months=3, n_bins=10)

    assert list(table.columns) == COLUMNS
    assert table["snapshot"].tolist() == ["2024-03", "2024-04", "2024-05"]
    counts = members["month"].value_counts().sort_index()
    assert table["members"].tolist() == counts.loc[table["snapshot"]].tolist()
    # trained on every row before the month, and nothing else
    assert table["train_rows"].tolist() == [counts.loc[: m].sum() - counts[m]
                                            for m in table["snapshot"]]  # fmt: skip
    # the last month's figures, recomputed by hand from a model fitted on the rest
    last = members["month"] == "2024-05"
    X = members.drop(columns=["customer_id", "month", "left"])
    model = _model().fit(X[~last], members.loc[~last, "left"])
    proba = model.predict_proba(X[last])[:, 1]
    y = members.loc[last, "left"].to_numpy()
    row = table.iloc[-1]
    assert row["churn_rate"] == pytest.approx(y.mean())
    assert row["top_decile_lift"] == pytest.approx(top_share_lift(y, proba, 0.1))
    assert row["ece"] == pytest.approx(expected_calibration_error(y, proba, 10))
    assert 0 <= row["roc_auc"] <= 1


@pytest.mark.parametrize(
    ("contract", "months"),
    [
        pytest.param(PANEL, 2, id="one-labelled-month"),
        pytest.param(PANEL.model_copy(update={"snapshot": None}), 6, id="no-snapshot"),
    ],
)
def test_without_an_earlier_month_nothing_is_tested(contract, months):
    table = backtest(_labelled(months=months), _model(), contract, months=3, n_bins=10)

    assert table.empty
    assert list(table.columns) == COLUMNS
    assert backtest_summary(table) == {"backtest_months": 0}


def test_the_summary_gives_the_mean_and_the_worst_month():
    table = pd.DataFrame(
        {"snapshot": ["a", "b", "c"], "members": [10, 10, 10], "train_rows": [5, 15, 25],
         "churn_rate": [0.2, 0.3, 0.4], "roc_auc": [0.8, 0.6, np.nan],
         "top_decile_lift": [2.0, 1.5, np.nan], "ece": [0.05, 0.1, 0.02]}
    )  # fmt: skip

    summary = backtest_summary(table)

    assert summary["backtest_months"] == 3
    assert summary["backtest_roc_auc_mean"] == pytest.approx(0.7)
    assert summary["backtest_roc_auc_worst"] == pytest.approx(0.6)
    assert summary["backtest_top_decile_lift_worst"] == pytest.approx(1.5)
    assert summary["backtest_ece_worst"] == pytest.approx(0.1)
    assert summary["backtest_churn_rate_mean"] == pytest.approx(0.3)
    json.dumps(summary, allow_nan=False)  # strict JSON: a month without a figure is left out


def test_a_month_of_one_class_has_no_roc_auc():
    members = _labelled(months=5)
    members.loc[members["month"] == "2024-04", "left"] = 0

    table = backtest(members, _model(), PANEL, months=1, n_bins=10)

    assert table["snapshot"].tolist() == ["2024-04"]
    assert np.isnan(table["roc_auc"].iloc[0])
    assert "backtest_roc_auc_mean" not in backtest_summary(table)


def test_the_bundled_kind_of_export_is_not_backtested():
    contract = parse_contract({**PANEL_CONTRACT, "snapshot": None})
    members = check_export(make_other(), contract, source="other.csv").members
    assert backtest(members, _model(), contract, months=3, n_bins=10).empty


@pytest.mark.parametrize(
    ("horizon", "tested", "first_cut"),
    [
        (1, ["2024-03", "2024-04", "2024-05"], "2024-03"),
        (2, ["2024-03", "2024-04", "2024-05"], "2024-02"),
        (3, ["2024-04", "2024-05"], "2024-02"),  # 2024-03 would learn from nothing
    ],
)
def test_a_longer_horizon_leaves_the_months_before_out_of_each_fit(horizon, tested, first_cut):
    contract = parse_contract(
        {**PANEL_CONTRACT, "target": {**PANEL_CONTRACT["target"], "horizon": horizon}}
    )
    members = _labelled(months=6)  # labelled 2024-01 .. 2024-05
    counts = members["month"].value_counts().sort_index()

    table = backtest(members, _model(), contract, months=3, n_bins=10)

    assert table["snapshot"].tolist() == tested
    # the first month tested learns from the snapshots before `first_cut` only
    assert table["train_rows"].iloc[0] == counts[counts.index < first_cut].sum()
