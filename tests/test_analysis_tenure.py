"""Churn by tenure (gym_churn.analysis.tenure): monthly churn rates with Wilson CIs, the
running share of churners, and the share of churners who left early."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gym_churn.analysis.tenure import COLUMNS, churn_by_tenure, early_churn
from gym_churn.contract.spec import parse_contract
from gym_churn.segments.profiles import wilson
from tests.conftest import OTHER_CONTRACT, make_members

TENURE_CONTRACT = parse_contract(
    {
        "target": {"column": "churn", "positive": [1], "negative": [0]},
        "features": {
            "months": {"kind": "numeric", "min": 0, "missing": "keep", "role": "tenure"},
            "plan": {"kind": "binary", "values": [0, 1], "role": "lever"},
        },
    },
    source="tenure.yaml",
)


def _members(months: list[float], churn: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"months": months, "plan": 0, "churn": churn})


@pytest.fixture
def hand_table() -> pd.DataFrame:
    # month 0: 4 members, 3 churned; month 1: 2, 1; month 3: 4, 0; month 5: 2, 2
    months = [0, 0, 0, 0, 1, 1, 3, 3, 3, 3, 5, 5]
    churn = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1]
    return churn_by_tenure(_members(months, churn), TENURE_CONTRACT)


def test_churn_by_tenure_hand_example(hand_table) -> None:
    assert list(hand_table.columns) == COLUMNS
    assert hand_table["tenure"].tolist() == [0, 1, 3, 5]  # months nobody is in are absent
    assert hand_table["members"].tolist() == [4, 2, 4, 2]
    assert hand_table["churned"].tolist() == [3, 1, 0, 2]
    assert hand_table["churn_rate"].tolist() == pytest.approx([0.75, 0.5, 0.0, 1.0])
    assert hand_table["share_of_churners"].tolist() == pytest.approx([0.5, 1 / 6, 0.0, 1 / 3])
    assert hand_table["cumulative_share_of_churners"].tolist() == pytest.approx(
        [0.5, 4 / 6, 4 / 6, 1.0]
    )


def test_each_rate_has_its_wilson_ci(hand_table) -> None:
    for row in hand_table.itertuples():
        assert (row.low, row.high) == pytest.approx(wilson(row.churned, row.members))
        assert row.low <= row.churn_rate <= row.high
    assert hand_table.loc[2, "low"] == 0.0  # nobody churned at month 3
    assert hand_table.loc[3, "high"] == pytest.approx(1.0)


def test_fractional_tenure_is_rounded_down_and_gaps_left_out() -> None:
    members = _members([0.2, 0.99, 1.0, 1.7, 2.5, np.nan], [1, 0, 1, 1, 0, 1])

    table = churn_by_tenure(members, TENURE_CONTRACT)

    assert table["tenure"].tolist() == [0, 1, 2]
    assert table["members"].tolist() == [2, 2, 1]
    assert table["churned"].tolist() == [1, 2, 0]
    assert table["cumulative_share_of_churners"].iloc[-1] == pytest.approx(1.0)


def test_the_running_share_of_churners_ends_at_one_on_gym_members(gym_contract) -> None:
    members = make_members(200, seed=4)

    table = churn_by_tenure(members, gym_contract)

    assert table["members"].sum() == 200
    assert table["churned"].sum() == members["Churn"].sum()
    assert table["cumulative_share_of_churners"].iloc[-1] == pytest.approx(1.0)
    assert table["cumulative_share_of_churners"].is_monotonic_increasing


def test_no_tenure_column_gives_an_empty_table() -> None:
    spec = {**OTHER_CONTRACT, "features": dict(OTHER_CONTRACT["features"])}
    spec["features"]["tenure_months"] = {**spec["features"]["tenure_months"], "role": "behaviour"}
    contract = parse_contract(spec, source="no_tenure.yaml")
    assert contract.tenure is None

    table = churn_by_tenure(pd.DataFrame({"tenure_months": [1, 2], "left": [0, 1]}), contract)

    assert table.empty
    assert list(table.columns) == COLUMNS
    early = early_churn(table, 2)
    assert early["churned"] == 0
    assert np.isnan(early["share"])


def test_early_churn_share_and_ci(hand_table) -> None:
    early = early_churn(hand_table, 2)  # months 0 and 1: 4 of 6 churners

    assert early["early_months"] == 2
    assert (early["churned_early"], early["churned"]) == (4, 6)
    assert early["share"] == pytest.approx(4 / 6)
    assert (early["low"], early["high"]) == pytest.approx(wilson(4, 6))
    assert early["low"] < early["share"] < early["high"]
    # beside it, the members who are that early: 6 of 12 (a snapshot, not a cohort)
    assert (early["members_early"], early["members"]) == (6, 12)
    assert early["members_share"] == pytest.approx(0.5)


@pytest.mark.parametrize(("months", "early"), [(1, 3), (3, 4), (4, 4), (6, 6)])
def test_early_means_tenure_below_the_months(hand_table, months, early) -> None:
    assert early_churn(hand_table, months)["churned_early"] == early


def test_early_churn_without_churners() -> None:
    table = churn_by_tenure(_members([0, 1, 2], [0, 0, 0]), TENURE_CONTRACT)

    early = early_churn(table, 2)

    assert (early["churned_early"], early["churned"]) == (0, 0)
    assert np.isnan(early["share"])
    assert table["share_of_churners"].tolist() == [0.0, 0.0, 0.0]
