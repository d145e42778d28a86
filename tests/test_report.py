"""The report is built from metrics only: every figure it shows comes from its inputs."""

from __future__ import annotations

import pytest

from gym_churn.report import build_report, recommendations


def _profile(group_ratio: float = 1.9) -> dict:
    return {
        "members": 1000,
        "churn_rate": 0.25,
        "scored_members_roc_auc": 0.97,
        "at_risk_share": 0.22,
        "churned_visit_drop": 0.3,
        "importance": {"Group_visits": 0.01},
        "findings": {
            "partner_share": 0.48,
            "partner_churn_ratio": 1.7,
            "promo_friends_churn_ratio": 2.0,
            "group_visits_churn_ratio": group_ratio,
            "churned_visit_drop": 0.3,
            "age_band_low": 27,
            "age_band_high": 31,
            "age_band_share": 0.55,
            "age_median": 29,
        },
        "drivers": {
            "Group_visits": {
                "kind": "binary",
                "share": 0.4,
                "churn_rate_with": 0.15,
                "churn_rate_without": 0.15 * group_ratio,
                "churn_ratio_without_vs_with": group_ratio,
            },
            "Contract_period": {"kind": "numeric", "mean_churned": 1.7, "mean_retained": 5.7},
        },
        "segments": [
            {
                "id": 0,
                "name": "Loyal",
                "size": 600,
                "share": 0.6,
                "churn_rate": 0.05,
                "portrait": "p0",
                "traits": [],
            },
            {
                "id": 1,
                "name": "Fading",
                "size": 400,
                "share": 0.4,
                "churn_rate": 0.55,
                "portrait": "p1",
                "traits": [],
            },
        ],
    }


EVALUATE = {
    "roc_auc": 0.98765, "baseline_logreg_roc_auc": 0.97, "threshold": 0.45, "recall": 0.9,
    "precision": 0.93, "top_decile_lift": 3.6, "f1": 0.91,
}  # fmt: skip
CLUSTER = {"k": 2, "algorithm": "kmeans", "stability_ari": 0.95, "silhouette": 0.2}


def test_recommendations_target_risky_segments_and_grow_traits() -> None:
    recs = recommendations(_profile())
    assert "segment 1 (Fading)" in recs[0]
    assert not any("segment 0" in r for r in recs)
    assert any("`Group_visits`" in r and "1.9×" in r for r in recs)
    assert any("longer contracts" in r for r in recs)


def test_weak_trait_is_not_recommended() -> None:
    assert not any("Group_visits" in r for r in recommendations(_profile(group_ratio=1.05)))


@pytest.mark.parametrize("value", ["0.988", "55.0%", "Fading", "Loyal", "3.60×"])
def test_report_shows_pipeline_numbers(value: str) -> None:
    text = build_report(EVALUATE, CLUSTER, _profile(), {"roc": "../plots/roc.png"})
    assert value in text
    assert "![roc](../plots/roc.png)" in text
    assert "nan" not in text.lower()
