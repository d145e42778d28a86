"""Stratified train/test split (gym_churn.splitting)."""

from __future__ import annotations

import pandas as pd
import pytest

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.errors import DataValidationError
from gym_churn.splitting import (
    out_of_time_split,
    snapshots,
    split_members,
    split_unknown,
    stratified_split,
)
from tests.conftest import PANEL_CONTRACT, make_other, make_panel

SOURCE = "data/processed/members.csv"


def _members(churned: int, stayed: int) -> pd.DataFrame:
    n = churned + stayed
    return pd.DataFrame(
        {
            "member_row": range(1, n + 1),
            "Age": range(20, 20 + n),
            "Churn": [1] * churned + [0] * stayed,
        }
    ).sample(frac=1, random_state=0)  # classes interleaved, as in an export


@pytest.mark.parametrize(
    ("churned", "stayed", "test_size", "test_churned", "test_stayed"),
    [
        (1061, 2939, 0.2, 212, 588),  # the bundled export
        (10, 90, 0.25, 2, 22),  # 2.5 rounds to 2 (half to even), 22.5 to 22
        (3, 3, 0.5, 2, 2),  # 1.5 rounds to 2
    ],
)
def test_each_class_keeps_its_share(
    churned: int, stayed: int, test_size: float, test_churned: int, test_stayed: int
) -> None:
    members = _members(churned, stayed)
    train, test = stratified_split(members, "Churn", test_size, seed=42, source=SOURCE)
    assert (test["Churn"] == 1).sum() == test_churned
    assert (test["Churn"] == 0).sum() == test_stayed
    # disjoint and complete, every column kept
    assert set(train["member_row"]).isdisjoint(test["member_row"])
    assert len(train) + len(test) == len(members)
    assert list(train.columns) == list(test.columns) == list(members.columns)


def test_parts_keep_the_members_order() -> None:
    members = _members(30, 70).sort_values("member_row")
    train, test = stratified_split(members, "Churn", 0.3, seed=1, source=SOURCE)
    assert train["member_row"].is_monotonic_increasing
    assert test["member_row"].is_monotonic_increasing


def test_seeded_and_input_untouched() -> None:
    members = _members(30, 70)
    before = members.copy()
    first = stratified_split(members, "Churn", 0.3, seed=7, source=SOURCE)[1]
    again = stratified_split(members, "Churn", 0.3, seed=7, source=SOURCE)[1]
    other = stratified_split(members, "Churn", 0.3, seed=8, source=SOURCE)[1]
    pd.testing.assert_frame_equal(first, again)
    assert set(first["member_row"]) != set(other["member_row"])
    pd.testing.assert_frame_equal(members, before)


@pytest.mark.parametrize(
    ("churned", "stayed", "test_size", "message"),
    [
        (2, 98, 0.1, "1: 2 train, 0 test"),  # too few churners to test on
        (1, 99, 0.6, "1: 0 train, 1 test"),  # the only churner held out: nothing to learn
    ],
)
def test_class_missing_on_one_side_is_refused(
    churned: int, stayed: int, test_size: float, message: str
) -> None:
    with pytest.raises(DataValidationError, match="Churn: test_size") as err:
        stratified_split(_members(churned, stayed), "Churn", test_size, seed=0, source=SOURCE)
    assert message in str(err.value)


def test_another_export_splits_on_its_own_target_and_keeps_its_ids(other_contract) -> None:
    members = check_export(make_other(60), other_contract, source="other.csv").members
    target = other_contract.target.column

    train, test = stratified_split(members, target, 0.2, seed=0, source="other.csv")

    counts = members[target].value_counts()
    assert test[target].value_counts().to_dict() == {c: round(0.2 * n) for c, n in counts.items()}
    assert set(train[other_contract.key]).isdisjoint(test[other_contract.key])
    assert set(train[other_contract.key]) | set(test[other_contract.key]) == set(
        members[other_contract.key]
    )


# ------------------------------------------------------------------ snapshots (issue 24)

PANEL = parse_contract(PANEL_CONTRACT)


def _panel(members: int = 20, months: int = 4) -> pd.DataFrame:
    return check_export(make_panel(members, months), PANEL, source=SOURCE).members


def test_unknown_outcomes_are_set_apart_and_the_rest_gets_an_integer_target():
    labelled, to_score = split_unknown(_panel(months=4), PANEL)

    assert len(labelled) == 60
    assert len(to_score) == 20
    assert labelled["left"].dtype == "int64"
    assert "left" not in to_score.columns
    assert set(to_score["month"]) == {"2024-04"}
    assert set(labelled["month"]) == {"2024-01", "2024-02", "2024-03"}


def test_an_export_without_unknown_outcomes_passes_through_unchanged():
    members = check_export(make_other(), parse_contract(PANEL_CONTRACT | {"snapshot": None}),
                           source=SOURCE).members  # fmt: skip
    labelled, to_score = split_unknown(members, PANEL)
    assert labelled is members
    assert to_score.empty
    assert "left" not in to_score.columns


def test_out_of_time_the_test_split_is_the_latest_labelled_month():
    labelled, _ = split_unknown(_panel(months=4), PANEL)

    train, test = split_members(labelled, PANEL, 0.2, seed=0, source=SOURCE)

    assert set(test["month"]) == {"2024-03"}
    assert train["month"].max() < test["month"].min()
    assert len(train) + len(test) == len(labelled)


def test_one_labelled_snapshot_is_split_as_before():
    labelled, _ = split_unknown(_panel(months=2), PANEL)
    assert set(labelled["month"]) == {"2024-01"}

    train, test = split_members(labelled, PANEL, 0.2, seed=3, source=SOURCE)
    expected = stratified_split(labelled, "left", 0.2, 3, source=SOURCE)

    pd.testing.assert_frame_equal(train, expected[0])
    pd.testing.assert_frame_equal(test, expected[1])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(["2024-10", "2024-02", "2023-12"], ["2023-12", "2024-02", "2024-10"],
                     id="year-month"),
        pytest.param([202410, 202402, 202312], [202312, 202402, 202410], id="numbers"),
    ],
)  # fmt: skip
def test_snapshots_sort_earliest_first(values, expected):
    assert snapshots(pd.Series(values * 2)) == expected


def test_a_latest_month_of_one_class_is_refused_naming_it():
    labelled, _ = split_unknown(_panel(months=4), PANEL)
    labelled.loc[labelled["month"] == "2024-03", "left"] = 0

    with pytest.raises(DataValidationError, match=r"two_classes fails in the test split.*2024-03"):
        out_of_time_split(labelled, "month", "left", source=SOURCE)


@pytest.mark.parametrize(
    ("horizon", "train_months"),
    [
        pytest.param(1, {"2024-01", "2024-02", "2024-03", "2024-04"}, id="next-month"),
        pytest.param(2, {"2024-01", "2024-02", "2024-03"}, id="two-months"),
        pytest.param(3, {"2024-01", "2024-02"}, id="three-months"),
    ],
)
def test_outcomes_not_known_at_the_test_month_are_left_out_of_training(horizon, train_months):
    contract = parse_contract({**PANEL_CONTRACT, "target": {**PANEL_CONTRACT["target"],
                                                             "horizon": horizon}})  # fmt: skip
    labelled, _ = split_unknown(_panel(months=6), contract)

    train, test = split_members(labelled, contract, 0.2, seed=0, source=SOURCE)

    assert set(test["month"]) == {"2024-05"}
    assert set(train["month"]) == train_months


def test_too_few_months_for_the_horizon_fall_back_to_the_stratified_split():
    contract = parse_contract({**PANEL_CONTRACT, "target": {**PANEL_CONTRACT["target"],
                                                             "horizon": 3}})  # fmt: skip
    labelled, _ = split_unknown(_panel(months=3), contract)  # 2 labelled months

    _, test = split_members(labelled, contract, 0.2, seed=0, source=SOURCE)

    assert set(test["month"]) == {"2024-01", "2024-02"}
