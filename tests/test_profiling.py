"""Churn drivers, segment profiles and generated portraits on fixtures with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gym_churn import profiling as prof
from gym_churn.columns import FEATURES


def test_binary_drivers_hand_computed() -> None:
    members = pd.DataFrame({"Partner": [1, 1, 1, 1, 0, 0, 0, 0], "Churn": [0, 0, 0, 1, 1, 1, 0, 0]})
    d = prof.binary_drivers(members, ["Partner"], "Churn")["Partner"]
    assert d["share"] == pytest.approx(0.5)
    assert d["churn_rate_with"] == pytest.approx(0.25)
    assert d["churn_rate_without"] == pytest.approx(0.5)
    assert d["churn_ratio_without_vs_with"] == pytest.approx(2.0)


def test_binary_driver_without_any_churn_with_trait_has_no_ratio() -> None:
    members = pd.DataFrame({"Phone": [1, 1, 0, 0], "Churn": [0, 0, 1, 0]})
    assert (
        prof.binary_drivers(members, ["Phone"], "Churn")["Phone"]["churn_ratio_without_vs_with"]
        is None
    )


def test_numeric_drivers_and_visit_drop() -> None:
    members = pd.DataFrame(
        {
            "Avg_class_frequency_total": [2.0, 4.0, 1.0],
            "Avg_class_frequency_current_month": [1.0, 2.0, 1.0],
            "Churn": [1, 1, 0],
        }
    )
    d = prof.numeric_drivers(members, ["Avg_class_frequency_total"], "Churn")
    assert d["Avg_class_frequency_total"]["mean_churned"] == pytest.approx(3.0)
    assert d["Avg_class_frequency_total"]["mean_retained"] == pytest.approx(1.0)
    # churners: current mean 1.5, lifetime mean 3.0 -> 50% drop
    assert prof.churned_visit_drop(members, "Churn") == pytest.approx(0.5)


@pytest.fixture
def members() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({col: rng.integers(0, 2, n) for col in FEATURES})
    frame["Contract_period"] = rng.choice([1, 6, 12], n)
    frame["Age"] = rng.integers(18, 40, n)
    frame["Lifetime"] = rng.integers(0, 20, n)
    for col in ("Avg_additional_charges_total", "Avg_class_frequency_total",
                "Avg_class_frequency_current_month"):  # fmt: skip
        frame[col] = rng.gamma(2.0, 1.0, n)
    frame["Month_to_end_contract"] = frame["Contract_period"]
    # segment 1 = newcomers on monthly contracts, who all churn
    seg = np.zeros(n, dtype=int)
    seg[:50] = 1
    frame.loc[:49, "Contract_period"] = 1
    frame.loc[:49, "Month_to_end_contract"] = 1
    frame.loc[:49, "Lifetime"] = 0
    frame["Churn"] = (seg == 1).astype(int)
    return frame.assign(_seg=seg)


def test_segment_profiles(members: pd.DataFrame) -> None:
    labels = members.pop("_seg").to_numpy()
    profiles = prof.segment_profiles(members, labels, ["Lifetime", "Partner"], "Churn")
    assert profiles["size"].tolist() == [150, 50]
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["churn_rate"].tolist() == [0.0, 1.0]
    assert profiles.loc[1, "Lifetime"] == 0


def test_portraits_are_generated_from_distinctive_traits(members: pd.DataFrame) -> None:
    labels = members.pop("_seg").to_numpy()
    profiles = prof.segment_profiles(members, labels, list(FEATURES), "Churn")
    result = prof.portraits(profiles, members, "Churn", n_traits=3)
    churner = result[1]
    top = [t["feature"] for t in churner["traits"]]
    assert set(top[:2]) <= {"Contract_period", "Month_to_end_contract", "Lifetime"}
    assert all(t["standardised_difference"] < 0 for t in churner["traits"][:2])
    low_words = {prof.VOCABULARY[c].low.lower() for c in top[:2]}
    assert all(word in churner["name"].lower() for word in low_words)
    assert "100.0%" in churner["portrait"]
    assert "50 members" in churner["portrait"]
    assert len({p["name"] for p in result}) == len(result)
    assert "segment 1" not in churner["name"].lower()


def test_standardised_differences_zero_for_whole_base(members: pd.DataFrame) -> None:
    members.pop("_seg")
    one = prof.segment_profiles(members, np.zeros(len(members), dtype=int), ["Age"], "Churn")
    z = prof.standardised_differences(one, members, ["Age"])
    assert z.loc[0, "Age"] == pytest.approx(0.0)


@pytest.mark.parametrize("n", [10, 37, 1000])
def test_risk_deciles_balanced_and_ordered(n: int) -> None:
    proba = np.random.default_rng(n).random(n)
    deciles = prof.risk_deciles(proba)
    assert deciles.min() == 1
    assert deciles.max() == 10
    counts = np.bincount(deciles)[1:]
    assert counts.max() - counts.min() <= 1
    order = np.argsort(proba)
    assert np.all(np.diff(deciles[order]) >= 0)


def test_study_findings_age_band(members: pd.DataFrame) -> None:
    members.pop("_seg")
    drivers = prof.churn_drivers(members, "Churn")
    findings = prof.study_findings(drivers, members, 0.3, [20, 25])
    expected = ((members["Age"] >= 20) & (members["Age"] <= 25)).mean()
    assert findings["age_band_share"] == pytest.approx(expected)
    assert findings["churned_visit_drop"] == 0.3
    assert set(drivers) == set(FEATURES)
