"""The report is built from metrics and the data contract's words only: every number it shows
comes from its inputs, no dataset's wording is written in the code, declared findings appear
only when declared, and only levers whose churn ratio is clearly above 1 are recommended."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.features import add_features
from gym_churn.io import read_json, write_json
from gym_churn.report import build_report, recommendations
from gym_churn.segments import profiles as prof
from tests.conftest import OTHER_CONTRACT, make_members, make_other

# Words that only the gym contract (its columns, labels and findings) uses.
GYM_WORDS = (
    "Partner", "partner", "visits", "gym", "club", "Group_visits", "group classes", "Lifetime",
    "Contract_period", "contract length", "friend", "Promo", "Near_Location", "Age",
)  # fmt: skip
EVALUATE = {
    "roc_auc": 0.98765, "pr_auc": 0.9, "f1": 0.91, "precision": 0.93, "recall": 0.9,
    "accuracy": 0.95, "brier": 0.05, "log_loss": 0.2, "ece": 0.02, "top_decile_lift": 3.6,
    "threshold": 0.45, "cv_roc_auc_mean": 0.97, "cv_roc_auc_std": 0.01,
    "baseline_logreg_roc_auc": 0.9612,
}  # fmt: skip
CLUSTER = {"k": 2, "algorithm": "kmeans", "stability_ari": 0.95, "silhouette": 0.2}
SUMMARY = {
    "model": "hist_gradient_boosting",
    "model_setting": "auto",
    "cv_folds": 5,
    "candidates": [
        {"model": "hist_gradient_boosting", "hyperparameters": {"max_iter": 60},
         "cv_roc_auc_mean": 0.9712, "cv_roc_auc_std": 0.0041},
        {"model": "logreg", "hyperparameters": {"C": 0.1},
         "cv_roc_auc_mean": 0.9603, "cv_roc_auc_std": 0.0052},
    ],
}  # fmt: skip
FIGURES = {"roc": "../plots/roc.png", "segments": "../plots/segments.png"}


def _profile(members: pd.DataFrame, contract, labels: np.ndarray) -> dict:
    """profile.json as the profile stage writes it, from the real functions."""
    y = members[contract.target.column]
    matrix = prof.profile_matrix(members, contract)
    profiles = prof.segment_profiles(matrix, labels, y)
    low, high = prof.wilson(int(y.sum()), len(y))
    return {
        "churn_rate": float(y.mean()),
        "churn_rate_low": low,
        "churn_rate_high": high,
        "members": len(members),
        "scored_members_roc_auc": 0.9345,
        "at_risk_share": 0.2216,
        "findings": prof.findings(members, contract, resamples=30, seed=0),
        "drivers": prof.churn_drivers(members, contract),
        "importance": dict.fromkeys(contract.model_features, 0.0123),
        "segments": prof.portraits(profiles, matrix, contract, n_traits=3),
    }


@pytest.fixture(scope="module")
def gym_members(gym_contract) -> pd.DataFrame:
    """400 members: group-class goers (a lever) and locals (an attribute) churn far less."""
    frame = make_members(400, seed=3)
    rng = np.random.default_rng(3)
    risk = 0.6 - 0.4 * frame["Group_visits"] - 0.4 * frame["Near_Location"]
    frame["Churn"] = (rng.uniform(size=len(frame)) < risk.clip(0.05)).astype(int)
    return add_features(frame, gym_contract)


@pytest.fixture(scope="module")
def gym_profile(gym_contract, gym_members) -> dict:
    labels = (gym_members["Lifetime"] < 6).astype(int).to_numpy()
    return _profile(gym_members, gym_contract, labels)


@pytest.fixture(scope="module")
def other_profile(other_contract) -> dict:
    members = add_features(
        check_export(make_other(120, seed=4), other_contract, source="o.csv").members,
        other_contract,
    )
    labels = (members["plan"] == "basic").astype(int).to_numpy()
    profile = _profile(members, other_contract, labels)
    profile["importance"]["plan"] = 0.0456
    return profile


# ---------------------------------------------------------------- recommendations


def _driver(ratio: float, low: float, high: float, share: float = 0.4) -> dict:
    with_rate = 0.15
    without_rate = with_rate * ratio if np.isfinite(ratio) else 0.2
    return {
        "kind": "binary",
        "share": share,
        "with": {"n": 400, "churned": 60, "churn_rate": with_rate, "low": 0.1, "high": 0.2},
        "without": {"n": 600, "churned": round(600 * without_rate),
                    "churn_rate": without_rate, "low": 0.2, "high": 0.35},
        "ratio_without_vs_with": ratio,
        "ratio_low": low,
        "ratio_high": high,
    }  # fmt: skip


def _hand_profile() -> dict:
    segment = {"share": 0.5, "portrait": "p", "traits": []}
    return {
        "members": 1000,
        "churn_rate": 0.25,
        "segments": [
            {**segment, "id": 0, "name": "Loyal", "size": 600, "churn_rate": 0.05,
             "churn_low": 0.03, "churn_high": 0.07},
            {**segment, "id": 1, "name": "Fading", "size": 400, "churn_rate": 0.55,
             "churn_low": 0.5, "churn_high": 0.6},
            {**segment, "id": 2, "name": "Unsure", "size": 20, "churn_rate": 0.35,
             "churn_low": 0.18, "churn_high": 0.56},  # above the base, but not surely
        ],
        "drivers": {
            "Group_visits": _driver(1.9, 1.5, 2.4),  # lever, CI above 1: recommended
            "Partner": _driver(1.7, 0.9, 3.0),  # lever, CI includes 1: not
            "Promo_friends": _driver(1.05, 1.01, 1.1),  # lever, too small a difference
            "Near_Location": _driver(3.0, 2.0, 4.5),  # attribute: never, however strong
            "Phone": _driver(float("nan"), float("nan"), float("nan")),  # undefined
            "Avg_class_frequency_total": {"kind": "numeric", "mean_churned": 1.0,
                                          "mean_retained": 2.0},
        },
    }  # fmt: skip


def test_recommendations_name_surely_risky_segments_and_clear_levers(gym_contract) -> None:
    recs = recommendations(_hand_profile(), gym_contract)

    assert len(recs) == 2
    assert recs[0].startswith("**Segment 1 (Fading)** has 55.0% churned")
    assert "Segment 0" not in " ".join(recs)
    assert "Segment 2" not in " ".join(recs)  # its CI reaches below the base rate
    assert recs[1].startswith("**Test growing 'attend group classes'**")
    assert "1.90× as often (95% CI 1.50 to 2.40" in recs[1]
    assert "hold-out" in recs[1]


def test_recommendations_never_name_an_attribute(gym_contract) -> None:
    profile = _hand_profile()
    assert gym_contract.role("Near_Location") == "attribute"
    assert gym_contract.role("Partner") == "lever"

    text = " ".join(recommendations(profile, gym_contract))

    for col in ("Near_Location", "Partner", "Promo_friends", "Phone"):
        assert gym_contract.words(col).label not in text, col


def test_recommended_levers_come_from_the_drivers(gym_contract, gym_profile) -> None:
    drivers = gym_profile["drivers"]
    # as built: both group classes and living nearby go with far less churn
    assert drivers["Group_visits"]["ratio_low"] > 1.2
    assert drivers["Near_Location"]["ratio_low"] > 1.2

    text = " ".join(recommendations(gym_profile, gym_contract))

    named = set(re.findall(r"Test growing '([^']+)'", text))
    levers = {gym_contract.words(c).label for c in gym_contract.with_role("lever")}
    assert "attend group classes" in named
    assert named <= levers
    assert "live or work nearby" not in text


def test_a_lever_with_a_category_is_not_recommended(other_contract, other_profile) -> None:
    # plan is the other export's only lever, a category: no flag to "grow"
    recs = recommendations(other_profile, other_contract)
    assert not any("Test growing" in r for r in recs)


# ---------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def gym_report(gym_contract, gym_profile) -> str:
    return build_report(EVALUATE, CLUSTER, gym_profile, SUMMARY, gym_contract, FIGURES)


@pytest.fixture(scope="module")
def other_report(other_contract, other_profile) -> str:
    return build_report(EVALUATE, CLUSTER, other_profile, SUMMARY, other_contract, FIGURES)


@pytest.mark.parametrize(
    "value",
    [
        "0.988",  # test ROC-AUC
        "0.961",  # baseline
        "3.60×",  # lift
        "0.45",  # threshold
        "0.934",  # scored members' ROC-AUC
        "22.2% of members are flagged at risk",
        "0.9712 ± 0.0041",  # a candidate's CV ROC-AUC
        "train.model: auto",
        "5-fold cross-validation",
        "| `baseline_logreg_roc_auc` | 0.9612 |",
        "![roc](../plots/roc.png)",
        "![segments](../plots/segments.png)",
        "Silhouette 0.200, stability",
    ],
)
def test_report_shows_pipeline_numbers(gym_report: str, value: str) -> None:
    assert value in gym_report


def test_report_shows_every_segment_and_its_portrait(gym_report, gym_profile) -> None:
    for seg in gym_profile["segments"]:
        assert f"**{seg['id']}. {seg['name']}** — {seg['portrait']}" in gym_report
    assert f"{gym_profile['members']} members" in gym_report
    assert not re.search(r"\bnan\b", gym_report.lower())


def test_gym_report_uses_the_contract_words(gym_contract, gym_report) -> None:
    assert gym_report.startswith(f"# Member churn report: {gym_contract.name}")
    assert gym_contract.description.split()[0] in gym_report
    assert "attend group classes (`Group_visits`)" in gym_report
    assert "keyed by `member_row`" in gym_report


def test_declared_findings_table_appears_when_findings_are_declared(
    gym_contract, gym_report, gym_profile
) -> None:
    assert "Findings declared in the data contract" in gym_report
    for claim in (f.claim for f in gym_contract.findings):
        assert f"| {claim} |" in gym_report
    share = gym_profile["findings"][0]
    assert f"| {share['claim']} | {share['value']:.1%} |" in gym_report


def test_other_report_has_no_gym_wording(other_report: str) -> None:
    for word in GYM_WORDS:
        assert word not in other_report, word
    assert "Findings declared" not in other_report  # the contract declares none
    assert "# Member churn report: other export" in other_report
    assert "keyed by `customer_id`" in other_report
    # words where the contract has them, the lever's role, its own model reliance
    assert "**plan (`plan`)** (lever; model reliance 0.0456)" in other_report
    assert "region (`region`)" in other_report  # the column name otherwise
    assert not re.search(r"\bnan\b", other_report.lower())


def test_report_takes_the_outcome_words_from_the_contract(other_profile) -> None:
    contract = parse_contract(
        {**OTHER_CONTRACT, "target": {**OTHER_CONTRACT["target"], "label": "cancelled",
                                      "negative_label": "renewed"}},
        source="other.yaml",
    )  # fmt: skip

    text = build_report(EVALUATE, CLUSTER, other_profile, SUMMARY, contract, {})

    assert "of whom cancelled" in text
    assert "mean, renewed" in text
    assert "![" not in text  # no figures given, none linked


def test_report_from_the_metrics_as_written(tmp_path, gym_contract, gym_profile) -> None:
    # the profile stage builds the report from profile.json as written (rounded, NaN kept)
    profile = copy.deepcopy(gym_profile)
    profile["drivers"]["Phone"] = _driver(float("nan"), float("nan"), float("nan"))
    write_json(profile, tmp_path / "profile.json")

    text = build_report(
        EVALUATE, CLUSTER, read_json(tmp_path / "profile.json"), SUMMARY, gym_contract, FIGURES
    )

    phone = next(line for line in text.splitlines() if "(`Phone`)" in line)
    assert phone.split(" | ")[4] == "–"  # no ratio without churn among members with it
    assert text == build_report(EVALUATE, CLUSTER, profile, SUMMARY, gym_contract, FIGURES)
