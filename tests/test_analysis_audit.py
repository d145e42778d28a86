"""The audit (gym_churn.analysis.audit): single-feature ROC-AUC, one-class tails, flagged
features, counted anomalies and the contract without the flagged columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gym_churn.analysis.audit import (
    PureTail,
    anomalies,
    flag_features,
    flagged_columns,
    pure_tails,
    single_feature_auc,
)
from gym_churn.contract.spec import parse_contract, without_columns
from gym_churn.features import add_features
from tests.conftest import make_members

TARGET = "churn"
AUDIT_CONTRACT = parse_contract(
    {
        "target": {"column": TARGET, "positive": [1], "negative": [0]},
        "features": {
            "leaky": {"kind": "numeric", "role": "behaviour"},
            "honest": {"kind": "numeric", "role": "tenure"},
            "base": {"kind": "numeric"},
            "shifted": {"kind": "numeric"},
            "plan": {"kind": "categorical", "values": ["a", "b", "c"]},
        },
        "engineered": {"gap": {"expr": "shifted - base"}},
    },
    source="audit.yaml",
)


def _members(n: int = 800, seed: int = 0, churn_share: float = 0.25) -> pd.DataFrame:
    """`leaky`: the label plus noise outside a band (60% of churners, and only they, below
    -1). `honest`: churners sit low, but only stayers reach the top (the common label is
    certain there). `gap` (= shifted - base) holds the same leak as `leaky`; neither column it
    is made from does on its own."""
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < churn_share).astype(int)
    rare = int(y.mean() < 0.5)
    marked = (y == rare) & (rng.uniform(size=n) < 0.6)
    base = rng.uniform(0, 100, n)
    frame = pd.DataFrame(
        {
            "leaky": np.where(marked, rng.uniform(-2, -1, n), rng.uniform(0, 10, n)),
            "honest": np.where(y == 1, rng.uniform(0, 5, n), rng.uniform(0, 10, n)),
            "base": base,
            "shifted": base + np.where(marked, -5.0, rng.uniform(0, 1, n)),
            "plan": rng.choice(["a", "b", "c"], n),
            TARGET: y,
        }
    )
    return add_features(frame, AUDIT_CONTRACT)


# ---------------------------------------------------------------- single-feature ROC-AUC


def test_single_feature_auc_is_direction_free() -> None:
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = pd.Series([1, 1, 0, 1, 0, 0])

    up, down = single_feature_auc(x, y), single_feature_auc(-x, y)

    assert up == pytest.approx(8 / 9)  # 8 of the 9 churner/stayer pairs ranked one way
    assert down == pytest.approx(up)


def test_single_feature_auc_perfect_none_and_gaps() -> None:
    y = pd.Series([0, 0, 1, 1])

    assert single_feature_auc(pd.Series([4.0, 3.0, 2.0, 1.0]), y) == 1.0
    assert single_feature_auc(pd.Series([1.0, 1.0, 1.0, 1.0]), y) == 0.5
    # gaps are left out: the two known values rank perfectly
    assert single_feature_auc(pd.Series([np.nan, 1.0, 5.0, np.nan]), y) == 1.0
    # one class left: undefined
    assert np.isnan(single_feature_auc(pd.Series([np.nan, np.nan, 5.0, 6.0]), y))


# ---------------------------------------------------------------- one-class tails


def test_pure_tails_low_and_high() -> None:
    x = pd.Series([1, 1, 2, 3, 4, 5, 5])
    y = pd.Series([1, 1, 0, 1, 0, 0, 0])

    tails = pure_tails(x, y)

    assert tails == [PureTail("low", 1, 2, 1.0), PureTail("high", 0, 3, 4.0)]


def test_members_sharing_a_boundary_value_are_all_out_when_it_is_mixed() -> None:
    x = pd.Series([1, 2, 2, 3])
    y = pd.Series([1, 1, 0, 0])

    assert pure_tails(x, y) == [PureTail("low", 1, 1, 1.0), PureTail("high", 0, 1, 3.0)]


def test_members_sharing_a_boundary_value_are_all_in_when_it_is_pure() -> None:
    x = pd.Series([1, 2, 2, 3])
    y = pd.Series([1, 1, 1, 0])

    assert pure_tails(x, y) == [PureTail("low", 1, 3, 2.0), PureTail("high", 0, 1, 3.0)]


def test_no_tail_when_both_ends_are_mixed() -> None:
    x = pd.Series([1.0, 1.0, 2.0, np.nan, 3.0, 3.0])
    y = pd.Series([0, 1, 1, 1, 0, 1])

    assert pure_tails(x, y) == []


def test_a_gap_is_in_no_tail() -> None:
    x = pd.Series([np.nan, 1.0, 2.0, 3.0])
    y = pd.Series([0, 1, 0, 0])

    assert pure_tails(x, y) == [PureTail("low", 1, 1, 1.0), PureTail("high", 0, 2, 2.0)]


# ---------------------------------------------------------------- flagged features


@pytest.fixture(scope="module")
def flagged_table() -> tuple[pd.DataFrame, list[str]]:
    return flag_features(_members(), AUDIT_CONTRACT, min_pure_share=0.05)


def test_a_feature_that_makes_the_rarer_label_certain_is_flagged(flagged_table) -> None:
    table, flagged = flagged_table
    leaky = table.set_index("feature").loc["leaky"]

    assert "leaky" in flagged
    assert leaky["flagged"]
    assert leaky["low_tail_label"] == 1  # churners, the rarer label
    assert leaky["low_tail_upto"] < -1
    assert leaky["rarer_label_certain_share"] >= 0.1  # ~60% of ~25% of members


def test_a_strong_honest_feature_is_not_flagged(flagged_table) -> None:
    table, flagged = flagged_table
    honest = table.set_index("feature").loc["honest"]

    assert honest["single_feature_roc_auc"] > 0.7  # strong ...
    assert honest["high_tail_label"] == 0  # ... and its certain tail is the common label
    assert honest["high_tail_members"] > 0.3 * 800
    assert honest["rarer_label_certain_share"] < 0.05
    assert not honest["flagged"]
    assert "honest" not in flagged


def test_an_engineered_feature_flags_the_columns_it_is_made_from(flagged_table) -> None:
    table, flagged = flagged_table
    rows = table.set_index("feature")

    assert rows.loc["gap", "flagged"]
    assert rows.loc["gap", "made_from"] == "shifted + base"
    assert not rows.loc["base", "flagged"]
    assert not rows.loc["shifted", "flagged"]
    assert sorted(flagged) == ["base", "leaky", "shifted"]  # raw columns only, once each


def test_the_flagged_columns_are_read_back_from_the_written_table(flagged_table, tmp_path) -> None:
    # profile reads them from reports/audit.csv, not from a model's metrics
    from gym_churn.io import read_table, write_table

    table, flagged = flagged_table
    write_table(table, tmp_path / "audit.csv")

    assert flagged_columns(read_table(tmp_path / "audit.csv"), AUDIT_CONTRACT) == flagged
    assert flagged_columns(table.assign(flagged=False), AUDIT_CONTRACT) == []


def test_the_table_has_a_row_per_model_feature(flagged_table) -> None:
    table, _ = flagged_table

    assert table["feature"].tolist() == AUDIT_CONTRACT.model_features
    plan = table.set_index("feature").loc["plan"]
    assert plan["low_tail_members"] == 0  # a category has no ordered tails
    assert plan["high_tail_members"] == 0
    assert 0.5 <= plan["single_feature_roc_auc"] <= 1


def test_the_share_threshold_decides(flagged_table) -> None:
    table, _ = flagged_table
    share = table.set_index("feature").loc["leaky", "rarer_label_certain_share"]

    _, above = flag_features(_members(), AUDIT_CONTRACT, min_pure_share=share + 0.01)
    _, at = flag_features(_members(), AUDIT_CONTRACT, min_pure_share=share)

    assert "leaky" not in above
    assert "leaky" in at


def test_when_churners_are_most_members_a_certain_tail_of_stayers_is_flagged() -> None:
    members = _members(churn_share=0.75)
    assert members[TARGET].mean() > 0.5

    table, flagged = flag_features(members, AUDIT_CONTRACT, min_pure_share=0.05)

    assert "leaky" in flagged
    assert table.set_index("feature").loc["leaky", "low_tail_label"] == 0


# ---------------------------------------------------------------- anomalies


ANOMALY_CONTRACT = parse_contract(
    {
        "target": {"column": TARGET, "positive": [1], "negative": [0]},
        "features": {
            "used": {"kind": "integer", "min": 0},
            "tenure": {"kind": "integer", "missing": "keep", "role": "tenure"},
        },
        "relations": [
            {"rule": "used >= 0", "name": "used_not_negative"},  # enforced: not counted
            {"rule": "tenure >= used", "name": "tenure_covers_used", "enforce": False,
             "note": "a tenure shorter than the months used"},
        ],
    },
    source="anomaly.yaml",
)  # fmt: skip


def test_anomalies_count_rows_breaking_counted_relations_only() -> None:
    members = pd.DataFrame(
        {
            "used": [1, 5, 3, 4, -2, -3, 2, 6],
            "tenure": [2.0, 1.0, 2.0, np.nan, 0.0, 0.0, 2.0, 6.0],
            TARGET: [0, 1, 0, 1, 0, 0, 1, 0],
        }
    )
    # tenure < used: rows 1 and 2; row 3 has a gap (not judged); rows 4 and 5 break only
    # the enforced rule, which is not counted here

    found = anomalies(members, ANOMALY_CONTRACT)

    assert found == [
        {
            "name": "tenure_covers_used",
            "rule": "tenure >= used",
            "note": "a tenure shorter than the months used",
            "rows": 2,
            "share": pytest.approx(2 / 8),
        }
    ]


def test_no_counted_relation_no_anomalies() -> None:
    members = pd.DataFrame({"used": [1, -1], "tenure": [0.0, 0.0], TARGET: [0, 1]})
    enforced_only = ANOMALY_CONTRACT.model_copy(
        update={"relations": ANOMALY_CONTRACT.relations[:1]}
    )

    assert anomalies(members, enforced_only) == []


def test_anomalies_on_the_gym_contract(gym_contract) -> None:
    members = make_members(40, seed=1)
    members.loc[[0, 1, 2], ["Contract_period", "Month_to_end_contract", "Lifetime"]] = [12, 1, 3]

    found = anomalies(members, gym_contract)

    counted = [r for r in gym_contract.relations if not r.enforce]
    assert [a["rule"] for a in found] == [r.rule for r in counted]
    used = members["Contract_period"] - members["Month_to_end_contract"]
    assert found[0]["rows"] == int((members["Lifetime"] < used).sum()) >= 3


# ---------------------------------------------------------------- without the flagged columns


def test_without_columns_drops_them_and_what_is_made_from_them(gym_contract) -> None:
    reduced = without_columns(gym_contract, ["Avg_class_frequency_current_month"])

    assert "Avg_class_frequency_current_month" not in reduced.features
    assert "freq_change" not in reduced.engineered  # made from the dropped column
    assert "contract_months_used" in reduced.engineered
    assert "Avg_class_frequency_total" in reduced.features
    assert len(reduced.raw_features) == len(gym_contract.raw_features) - 1
    assert reduced.relations == []
    assert reduced.findings == []
    # the original is untouched
    assert "freq_change" in gym_contract.engineered


def test_without_columns_on_the_audit_contract() -> None:
    reduced = without_columns(AUDIT_CONTRACT, ["base", "leaky"])

    assert reduced.model_features == ["honest", "shifted", "plan"]
