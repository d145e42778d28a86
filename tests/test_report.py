"""The report (gym_churn.report) from hand-built stage outputs shaped like the committed files:
the early-tenure lead only when most churners leave early, recommendations only for levers
whose adjusted CI excludes 1, targeting by risk, the audit's flags and figures, the contract's
words only, and the jargon last."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gym_churn.analysis.tenure import COLUMNS as TENURE_COLUMNS
from gym_churn.analysis.tenure import early_churn
from gym_churn.contract.spec import Contract, parse_contract
from gym_churn.report import (
    ReportInputs,
    build_report,
    early_lead,
    recommendations,
    reversed_levers,
)
from gym_churn.scoring.campaign import Economics, budget_contacts, optimal_row, profit_curve
from gym_churn.segments.profiles import wilson
from tests.conftest import OTHER_CONTRACT

EVALUATE = {
    "roc_auc": 0.98765, "top_decile_lift": 3.612, "ece": 0.0234, "brier": 0.0311, "f1": 0.91,
    "cv_roc_auc_mean": 0.9871, "baseline_logreg_roc_auc": 0.9612, "pr_auc": 0.97,
    "precision": 0.8876, "recall": 0.9321, "accuracy": 0.95, "log_loss": 0.1052,
    "flagged_share": 0.27, "threshold": 0.3707, "cv_roc_auc_std": 0.0035, "test_rows": 800,
}  # fmt: skip
CLUSTER = {"k": 2, "silhouette": 0.1587, "stability_ari": 0.9175, "churn_rate_span": 0.5}
DRIVERS_METRICS = {"churn_rate": 0.26525, "churn_rate_low": 0.2518, "churn_rate_high": 0.2792,
                   "levers_tested": 4, "levers_with_evidence": 3,
                   "familywise_confidence": 0.9875}  # fmt: skip
PROFILE = {"kmeans_nmi_with_churn": 0.1195, "rule_nmi_with_churn": 0.2554, "rule_segments": 2}
SCORE = {"scored_members_roc_auc": 0.9897, "at_risk_share": 0.2645}
SUMMARY = {
    "model": "hist_gradient_boosting",
    "model_setting": "auto",
    "cv_folds": 5,
    "candidates": [
        {"model": "hist_gradient_boosting", "hyperparameters": {"max_iter": 60},
         "cv_roc_auc_mean": 0.9895, "cv_roc_auc_std": 0.0035},
        {"model": "logreg", "hyperparameters": {"C": 1.0},
         "cv_roc_auc_mean": 0.9770, "cv_roc_auc_std": 0.0054},
    ],
}  # fmt: skip
FIGURES = {"roc": "![roc](../plots/roc.png)", "tenure": "![tenure](../plots/tenure.png)"}
SCORED = "data/scored/members_scored.csv"
DATA_SCIENCE = "## For data scientists"
JARGON = ("brier", "ece", "log_loss", "silhouette")

# Gym: adjusted (ratio, low, high) per feature; the rest get no association (1, 0.9, 1.1).
GYM_ADJUSTED = {
    "Contract_period": (4.86, 1.87, 19.24),  # lever, evidence
    "Group_visits": (1.26, 1.16, 1.37),  # lever, evidence
    "Promo_friends": (0.70, 0.55, 0.85),  # lever, CI excludes 1 but below it: not recommended
    "Partner": (1.01, 0.93, 1.09),  # lever, no evidence
    "Age": (1.81, 1.63, 2.05),  # attribute: never recommended, however strong
    "Near_Location": (1.70, 1.40, 2.10),  # attribute
    "Lifetime": (9.35, 7.05, 12.37),  # tenure
}
OTHER_ADJUSTED = {
    "plan": (2.24, 1.85, 3.09),  # the only lever, a category: evidence
    "region": (1.62, 1.10, 2.51),  # attribute
    "calls": (0.27, 0.21, 0.35),  # behaviour
}


def _compared(contract: Contract, col: str) -> str:
    spec = contract.features[col]
    if spec.kind == "binary":
        return "without vs with"
    if spec.kind == "categorical":
        return f"'{spec.levels[0]}' vs '{spec.levels[1]}' (riskiest vs safest)"
    if spec.allowed:
        return f"{spec.allowed[0]} vs {spec.allowed[-1]}"
    return "lower quartile (<= 2) vs upper (>= 7)"


def _drivers(contract: Contract, adjusted: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """reports/drivers.csv: marginal ratios a bit above the adjusted ones; a lever whose CI
    excludes 1 has evidence (after the family-wise correction: its interval a bit wider)."""
    rows = []
    for i, col in enumerate(contract.raw_features):
        ratio, low, high = adjusted.get(col, (1.0, 0.9, 1.1))
        lever = contract.role(col) == "lever"
        evidence = lever and (low > 1 or high < 1)
        rows.append({
            "feature": col, "marginal_ratio": ratio * 1.5, "marginal_low": ratio * 1.3,
            "marginal_high": ratio * 1.7, "adjusted_ratio": ratio, "adjusted_low": low,
            "adjusted_high": high, "reliance": 0.001 * i, "label": contract.words(col).label,
            "role": contract.role(col), "compared": _compared(contract, col), "n_low": 400,
            "n_high": 600, "status": "estimated", "separated_from": np.nan,
            "adjusted_for": "the rest", "not_adjusted_for": np.nan, "tied_by": np.nan,
            "p_value": 0.001 if evidence else 0.5,
            "p_holm": (0.004 if evidence else 0.9) if lever else np.nan,
            "familywise_low": low * 0.95 if lever else np.nan,
            "familywise_high": high * 1.05 if lever else np.nan,
            "lever_evidence": evidence, "reliance_group": col,
        })  # fmt: skip
    return pd.DataFrame(rows)


def _levels(contract: Contract) -> pd.DataFrame:
    """reports/churn_by_level.csv for the flags and categories."""
    rows = []
    for col in contract.raw_features:
        spec = contract.features[col]
        if spec.kind not in ("binary", "categorical"):
            continue
        levels = spec.levels if spec.kind == "categorical" else [0, 1]
        for j, level in enumerate(levels[:2]):
            n, churned = 500 + 100 * j, 150 - 50 * j
            low, high = wilson(churned, n)
            rows.append({"feature": col, "label": contract.words(col).label, "level": level,
                         "share": n / 1100, "n": n, "churned": churned,
                         "churn_rate": churned / n, "low": low, "high": high})  # fmt: skip
    return pd.DataFrame(rows)


def _tenure(churned: list[int], members: int = 200) -> pd.DataFrame:
    """plots/drivers/tenure.csv: `churned[m]` of `members` churned at month m."""
    total = sum(churned)
    rows, running = [], 0
    for month, c in enumerate(churned):
        running += c
        low, high = wilson(c, members)
        rows.append([month, members, c, c / members, low, high, c / total, running / total])
    return pd.DataFrame(rows, columns=TENURE_COLUMNS)


EARLY = [160, 90, 20, 10, 5, 3, 2, 1, 1]  # 250 of 292 churners in months 0 and 1
LATE = [10, 20, 30, 40, 40, 40, 40, 40, 30]  # 30 of 290


def _rules(contract: Contract) -> pd.DataFrame:
    """reports/rule_segments.csv: two rules in the contract's words."""
    col = contract.raw_features[0]
    label = contract.words(col).label
    rows = []
    for i, (rule, n, churned) in enumerate(((f"not {label}", 600, 300), (label, 400, 40)), 1):
        low, high = wilson(churned, n)
        rows.append({"id": i, "leaf": i + 2, "rule": rule, "members": n, "churned": churned,
                     "churn_rate": churned / n, "low": low, "high": high, "share": n / 1000,
                     "share_of_churners": churned / 340, "held_out_members": n // 5,
                     "held_out_churned": churned // 5})  # fmt: skip
    return pd.DataFrame(rows)


def _portraits(findings: list[dict[str, Any]]) -> dict[str, Any]:
    portraits = [
        {"id": i, "name": name, "size": size, "share": size / 1000, "churn_rate": rate,
         "churn_low": rate - 0.02, "churn_high": rate + 0.02, "traits": [],
         "portrait": f"{size} members; {rate:.1%} left."}
        for i, (name, size, rate) in enumerate((("Steady", 600, 0.05), ("Drifting", 400, 0.5)))
    ]  # fmt: skip
    return {"portraits": portraits, "findings": findings}


GYM_FINDINGS = [
    {"claim": "Partner employees are just under half of members", "measure": "share",
     "value": 0.48675, "low": 0.471281, "high": 0.502245, "n": 4000},
    {"claim": "…and churn about 1.7× less", "measure": "churn_ratio", "value": 1.720647,
     "low": 1.542387, "high": 1.919509, "n": 4000},
    {"claim": "Members are about 29", "measure": "median", "value": 29.0, "low": 29.0,
     "high": 29.0, "n": 4000},
]  # fmt: skip


def _audit(flagged: list[str], detail: list[dict[str, Any]], anomaly_rows: int) -> dict:
    return {
        "flagged_count": len(flagged),
        "cv_roc_auc": 0.989465,
        "cv_roc_auc_without_flagged": 0.948954 if flagged else 0.989465,
        "max_single_feature_roc_auc": 0.877109,
        "anomaly_rows": anomaly_rows,
        "flagged_features": flagged,
        "flagged_detail": detail,
        "anomalies": [
            {"name": "counted", "rule": "x >= y", "note": "a shorter x than y",
             "rows": anomaly_rows, "share": anomaly_rows / 4000}
        ],
    }  # fmt: skip


def _detail(feature: str, made_from: str) -> dict[str, Any]:
    return {
        "feature": feature, "made_from": made_from, "single_feature_roc_auc": 0.824,
        "rarer_label_certain_share": 0.154, "low_tail_members": 452, "low_tail_upto": -0.3889,
        "low_tail_label": 1.0, "high_tail_members": 42, "high_tail_from": 0.3985,
        "high_tail_label": 1.0, "flagged": True,
    }  # fmt: skip


def _inputs(
    contract: Contract,
    adjusted: dict[str, tuple[float, float, float]],
    tenure: list[int],
    audit: dict[str, Any],
    findings: list[dict[str, Any]],
) -> ReportInputs:
    table = _tenure(tenure)
    return ReportInputs(
        contract=contract,
        evaluate=EVALUATE,
        cluster=CLUSTER,
        audit=audit,
        drivers_metrics=DRIVERS_METRICS,
        profile=PROFILE,
        score=SCORE,
        summary=SUMMARY,
        drivers=_drivers(contract, adjusted),
        levels=_levels(contract),
        tenure=table,
        early=early_churn(table, 2),
        rules=_rules(contract),
        portraits=_portraits(findings),
        figures=FIGURES,
        scored_path=SCORED,
        **_campaign(ECONOMICS),
    )


ECONOMICS = {"offer_cost": 10.0, "member_value": 100.0, "success_rate": 0.3,
             "success_rate_low": 0.1, "success_rate_high": 0.5, "budget": 5000.0,
             "min_effect_points": 15.0, "power": 0.8, "holdout_max_share": 0.5}  # fmt: skip
CAMPAIGN_LIST = "reports/campaign.csv"


def _campaign(economics: dict[str, Any]) -> dict[str, Any]:
    """What the campaign stage would write for 1,000 members, a quarter of them risky."""
    eco = Economics(
        *(
            economics[k]
            for k in (
                "offer_cost",
                "member_value",
                "success_rate",
                "success_rate_low",
                "success_rate_high",
            )
        )
    )
    proba = np.r_[np.full(250, 0.8), np.full(750, 0.02)]
    curve = profit_curve(proba, eco)
    best = optimal_row(curve)
    affordable = budget_contacts(economics["budget"], economics["offer_cost"], len(proba))
    listed = int(min(best["contacted"], affordable))
    metrics = {"best_contact_share": float(best["contact_share"]),
               "best_expected_profit": float(best["profit"]),
               "budget_contact_share": affordable / len(proba), "listed": listed,
               "held_out": listed // 10}  # fmt: skip
    return {"campaign": metrics, "curve": curve, "economics": economics,
            "campaign_path": CAMPAIGN_LIST}  # fmt: skip


GYM_FLAGGED = ["Avg_class_frequency_current_month", "Avg_class_frequency_total"]


@pytest.fixture(scope="module")
def gym_inputs(gym_contract) -> ReportInputs:
    audit = _audit(GYM_FLAGGED, [_detail("freq_change", " + ".join(GYM_FLAGGED))], 137)
    return _inputs(gym_contract, GYM_ADJUSTED, EARLY, audit, GYM_FINDINGS)


@pytest.fixture(scope="module")
def gym_report(gym_inputs) -> str:
    return build_report(gym_inputs)


@pytest.fixture(scope="module")
def other_inputs(other_contract) -> ReportInputs:
    audit = _audit(["fee"], [_detail("fee_per_month", "fee + tenure_months")], 0)
    return _inputs(other_contract, OTHER_ADJUSTED, LATE, audit, [])


@pytest.fixture(scope="module")
def other_report(other_inputs) -> str:
    return build_report(other_inputs)


def test_the_campaign_section_quotes_the_computed_targeting(gym_report) -> None:
    text = _section(gym_report, "Whom to contact this month")
    # 250 members at 0.8: each returns 0.8 * 0.3 * 100 - 10 = 14; the rest lose money
    assert "contacting the riskiest 25% of members (250 of 1,000)" in text
    assert "expected to return 3,500 more than the offers cost" in text
    assert "at 10% nothing is worth contacting" in text  # 0.8 * 0.1 * 100 < 10
    assert "at 50% the best share is 25% (expected 7,500)" in text
    assert f"`{CAMPAIGN_LIST}`" in text
    assert "**25 of them, picked at random, are marked\n`holdout`: do not contact them.**" in text
    assert "95% CI" in text


def test_the_campaign_section_says_when_nothing_pays(gym_contract) -> None:
    cheap = {**ECONOMICS, "success_rate_low": 0.01, "success_rate": 0.02}
    inputs = _inputs(gym_contract, GYM_ADJUSTED, EARLY, _audit([], [], 0), [])
    inputs = dataclasses.replace(inputs, **_campaign(cheap))
    text = _section(build_report(inputs), "Whom to contact this month")
    assert "at 2% success no share of members returns more than the offers cost" in text
    assert "at 1% nothing is worth contacting" in text


# ---------------------------------------------------------------- replay and measured effect


REPLAY = {"mode": "replay", "members": 1000, "replay_listed": 250, "replay_listed_churned": 190,
          "replay_listed_churn_rate": 0.76, "replay_listed_churn_low": 0.703,
          "replay_listed_churn_high": 0.808, "replay_unlisted": 750,
          "replay_unlisted_churned": 15, "replay_unlisted_churn_rate": 0.02,
          "replay_unlisted_churn_low": 0.012, "replay_unlisted_churn_high": 0.033}  # fmt: skip


def test_a_replay_is_titled_as_such_and_never_called_this_months_list(gym_inputs) -> None:
    inputs = dataclasses.replace(
        gym_inputs, campaign={**gym_inputs.campaign, "holdout_power": 0.62},
        campaign_details=REPLAY,
    )  # fmt: skip
    report = build_report(inputs)
    text = _section(report, "Whom the campaign would have contacted: a replay on the test members")
    assert "this month" not in report.lower()
    assert "not a list to send" in text
    assert "190 of 250 listed members (76.0%, 95% CI 70.3% to 80.8%)" in text
    assert "15 of 750 unlisted members (2.0%, 95% CI 1.2% to 3.3%)" in text
    assert "with 62% probability, short of the 80% aimed at" in text
    assert "do not contact them" not in text


def test_the_list_says_when_it_uses_the_measured_success_rate(gym_inputs) -> None:
    measured = {"success_rate_source": 1, "success_rate": 0.45, "holdout_power": 0.85,
                "measured_kept_points": 12.0, "measured_success_rate": 0.45}  # fmt: skip
    details = {"mode": "current", "success_rate_low": 0.2, "success_rate_high": 0.6,
               "measured_kept_points_low": 4.0, "measured_kept_points_high": 20.0,
               "measured_held_out": 100, "measured_contacted": 400,
               "measured_success_rate_low": 0.2, "measured_success_rate_high": 0.6,
               "measured_list": "data/campaigns/2026-11.csv"}  # fmt: skip
    inputs = dataclasses.replace(
        gym_inputs, campaign={**gym_inputs.campaign, **measured}, campaign_details=details
    )
    text = _section(build_report(inputs), "Whom to contact this month")
    assert "measured by the last campaign to keep 45% (95% CI 20% to 60%)" in text
    assert "`data/campaigns/2026-11.csv`" in text
    assert "kept 12.0 percentage points of churn (95% CI 4.0 to 20.0)" in text
    assert "uses the measured rate and its CI" in text
    assert "with 85% probability." in text

    shown = {**measured, "success_rate_source": 0, "success_rate": 0.3}
    details = {**details, "measured_kept_points_low": -4.0}
    inputs = dataclasses.replace(inputs, campaign={**gym_inputs.campaign, **shown},
                                 campaign_details=details)  # fmt: skip
    text = _section(build_report(inputs), "Whom to contact this month")
    assert "assumed to keep 30%" in text
    assert "keeps the assumed success rate" in text


def _section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


# ---------------------------------------------------------------- early tenure


def test_early_tenure_leads_when_most_churners_leave_early(gym_inputs, gym_report) -> None:
    assert gym_inputs.early["share"] == pytest.approx(250 / 292)

    lead = early_lead(gym_inputs)

    assert lead is not None
    assert lead.startswith("**Most members who leave do so early.** 85.6% of the 292 members")
    assert "membership lifetime below 2 months" in lead
    assert "80.0% at 0, 45.0% at 1" in lead  # the monthly rates, from the tenure table
    # beside the churners' share, the members' share that early: one snapshot, not a cohort
    e = gym_inputs.early
    assert f"while {e['members_share']:.1%} of all {e['members']:,} members are that early" in lead
    assert "not a group followed over time" in lead
    assert gym_report.index(lead) < gym_report.index("## What to do")
    recs, _ = recommendations(gym_inputs)
    assert recs[0].startswith("**Put retention effort into the first 2 months (onboarding).**")


def test_no_early_lead_when_churners_leave_later(gym_inputs) -> None:
    late = _tenure(LATE)
    inputs = dataclasses.replace(gym_inputs, tenure=late, early=early_churn(late, 2))
    assert inputs.early["share"] < 0.5

    assert early_lead(inputs) is None
    text = build_report(inputs)
    assert "do so early" not in text
    assert "onboarding" not in text


@pytest.mark.parametrize(("churned", "leads"), [([50, 50, 100], True), ([50, 49, 101], False)])
def test_the_early_lead_starts_at_half_the_churners(gym_inputs, churned, leads) -> None:
    table = _tenure(churned)
    inputs = dataclasses.replace(gym_inputs, tenure=table, early=early_churn(table, 2))

    assert (early_lead(inputs) is not None) is leads


def test_no_early_lead_without_a_tenure_column(other_inputs) -> None:
    spec = {**OTHER_CONTRACT, "features": dict(OTHER_CONTRACT["features"])}
    spec["features"]["tenure_months"] = {**spec["features"]["tenure_months"], "role": "behaviour"}
    no_tenure = parse_contract(spec, source="no_tenure.yaml")
    table = _tenure(EARLY)
    inputs = dataclasses.replace(
        other_inputs, contract=no_tenure, tenure=table, early=early_churn(table, 2)
    )

    assert early_lead(inputs) is None


# ---------------------------------------------------------------- recommendations


def _tested(recs: list[str]) -> list[str]:
    return re.findall(r"\*\*Test '([^']+)'", " ".join(recs))


def test_only_levers_with_evidence_above_one_are_recommended(gym_contract, gym_inputs) -> None:
    recs, _ = recommendations(gym_inputs)

    # riskier side first by the adjusted ratio; 'joined via a friend' (0.70, CI 0.55 to 0.85)
    # and partner employees (CI 0.93 to 1.09) are not
    assert _tested(recs) == ["contract length", "attend group classes"]
    contract_rec = next(r for r in recs if r.startswith("**Test 'contract length'"))
    assert "4.86× as often" in contract_rec
    assert "(95% CI 1.87 to 19.24; members as they are: 7.29×)" in contract_rec
    assert "hold-out" in contract_rec


def test_levers_without_evidence_are_listed_as_not_recommended(gym_inputs, gym_report) -> None:
    _, skipped = recommendations(gym_inputs)

    assert any(s.startswith("'partner-company employees': 1.52× as members are") for s in skipped)
    assert "1.01× (95% CI 0.93 to 1.09) after accounting for the rest" in " ".join(skipped)
    not_recommended = gym_report[gym_report.index("Not recommended") :]
    assert "'partner-company employees'" in not_recommended.split("\n\n")[0]


def test_an_attribute_is_never_recommended(gym_contract, gym_inputs) -> None:
    recs, skipped = recommendations(gym_inputs)
    text = " ".join(recs + skipped)

    for col in gym_contract.with_role("attribute", "tenure", "behaviour"):
        assert f"'{gym_contract.words(col).label}'" not in text, col


def test_targeting_is_by_risk_not_by_segment(gym_inputs, gym_report, other_report) -> None:
    recs, _ = recommendations(gym_inputs)

    assert recs[-1].startswith("**Target members by their risk, not by segment.**")
    assert f"(`{SCORED}`)" in recs[-1]
    assert "3.61× as many of the members who churned" in recs[-1]
    for text in (gym_report, other_report):
        assert not re.search(r"target (rule )?segments? \d", text, re.IGNORECASE)
        assert "Target members by their risk" in text


def test_a_category_lever_with_evidence_is_recommended(other_inputs) -> None:
    recs, skipped = recommendations(other_inputs)

    assert _tested(recs) == ["plan"]
    assert "('basic' vs 'plus' (riskiest vs safest))" in recs[0]
    assert skipped == []
    assert len(recs) == 2  # no early lead: most churners leave later


def test_no_lever_with_evidence_recommends_targeting_only(gym_inputs) -> None:
    none = {c: (1.2, 0.8, 1.6) for c in ("Contract_period", "Group_visits", "Partner")}
    late = _tenure(LATE)
    inputs = dataclasses.replace(
        gym_inputs,
        drivers=_drivers(gym_inputs.contract, {**GYM_ADJUSTED, **none}),
        tenure=late,
        early=early_churn(late, 2),
    )

    recs, skipped = recommendations(inputs)

    assert len(recs) == 1
    assert recs[0].startswith("**Target members by their risk")
    # every lever is either without evidence or goes with more churn ('joined via a friend')
    assert len(skipped) == 3
    assert [r.split("'")[1] for r in reversed_levers(inputs)] == ["joined via a friend"]


def _with(inputs: ReportInputs, feature: str, **cells: Any) -> ReportInputs:
    """The inputs with some drivers.csv cells of one feature replaced."""
    drivers = inputs.drivers.astype({k: object for k in cells if isinstance(cells[k], str)})
    for key, value in cells.items():
        drivers.loc[drivers["feature"] == feature, key] = value
    return dataclasses.replace(inputs, drivers=drivers)


def test_a_lever_the_data_cannot_separate_gets_no_adjusted_figure(gym_inputs) -> None:
    apart = "Month_to_end_contract"
    inputs = _with(
        gym_inputs, "Contract_period", adjusted_ratio=np.nan, adjusted_low=np.nan,
        adjusted_high=np.nan, p_holm=np.nan, familywise_low=np.nan, familywise_high=np.nan,
        lever_evidence=False, status=f"not estimated: cannot be separated from {apart}",
        separated_from=apart,
    )  # fmt: skip

    recs, skipped = recommendations(inputs)

    assert "contract length" not in _tested(recs)
    entry = next(s for s in skipped if s.startswith("'contract length'"))
    assert entry.startswith("'contract length': 7.29× as members are (1 vs 12)")
    assert "cannot be separated from 'months left on contract', so no adjusted figure" in entry
    table = _section(build_report(inputs), "What goes with churn")
    assert "| not estimated: cannot be separated from 'months left on contract' |" in table


def test_a_ci_excluding_one_is_not_enough_without_the_correction(gym_inputs) -> None:
    inputs = _with(gym_inputs, "Group_visits", lever_evidence=False, familywise_low=0.98)

    recs, skipped = recommendations(inputs)

    assert "attend group classes" not in _tested(recs)
    entry = next(s for s in skipped if s.startswith("'attend group classes'"))
    assert entry.endswith(
        "its 95% CI excludes 1, but not after the correction (98.75% CI 0.98 to 1.44, "
        "corrected for testing 4 levers)"
    )


def test_recommended_levers_state_the_correction_and_self_selection(gym_inputs, gym_report):
    recs, _ = recommendations(gym_inputs)

    rec = next(r for r in recs if r.startswith("**Test 'attend group classes'"))
    assert "(98.75% CI 1.10 to 1.44, corrected for testing 4 levers)" in rec
    assert "differ in ways no column records" in rec
    legend = _section(gym_report, "What goes with churn")
    assert "Holm's method, family-wise error 5%" in legend
    assert "| 1.26 (1.16 to 1.37) * |" in legend
    assert "| 1.81 (1.63 to 2.05) |" in legend  # an attribute is not judged as a lever


def test_tied_columns_are_named_with_what_ties_them(gym_inputs) -> None:
    tie = "contract_months_used"
    inputs = _with(gym_inputs, "Contract_period", not_adjusted_for="Month_to_end_contract",
                   tied_by=tie)  # fmt: skip
    inputs = _with(inputs, "Month_to_end_contract", not_adjusted_for="Contract_period",
                   tied_by=tie)  # fmt: skip
    # the flagged visit columns are tied too, but neither estimated nor adjusted for
    inputs = _with(inputs, GYM_FLAGGED[0], not_adjusted_for=GYM_FLAGGED[1], tied_by="freq_change")

    text = _section(build_report(inputs), "What goes with churn")

    assert text.count("are not adjusted for each other") == 1
    assert (
        "- 'contract length' and 'months left on contract' are not adjusted for each other: the "
        "contract makes 'months used of the contract' from both"
    ) in text


# ---------------------------------------------------------------- before you trust the numbers


def test_the_audit_states_the_flagged_columns_and_both_cv_figures(gym_report) -> None:
    audit = _section(gym_report, "Before you trust the numbers")

    assert "'change in weekly visits, last month vs lifetime' behaves like the outcome" in audit
    assert "at or below -0.389 (452 members) or at or above 0.399 (42 members)" in audit
    assert "with 'visits last month', 'lifetime visits' the model's cross-validated" in audit
    assert "ROC-AUC is 0.989; without them 0.949" in audit
    summary = gym_report[: gym_report.index("## What to do")]
    assert "Read the score with care: it leans on 'visits last month', 'lifetime visits'" in summary


def test_the_anomaly_sentence_appears_only_with_rows(gym_report, other_report) -> None:
    gym_audit = _section(gym_report, "Before you trust the numbers")
    other_audit = _section(other_report, "Before you trust the numbers")

    assert "**137 rows (3.4%) break 'a shorter x than y'** (`x >= y`)" in gym_audit
    assert "break '" not in other_audit
    assert "rows (" not in other_audit


def test_nothing_flagged_says_so(other_inputs) -> None:
    clean = dataclasses.replace(other_inputs, audit=_audit([], [], 0))

    text = build_report(clean)
    audit = _section(text, "Before you trust the numbers")

    assert "Nothing in the data looks too good to be true for who churned." in audit
    assert "Read the score with care" not in text
    assert "without them" not in text


# ---------------------------------------------------------------- numbers and words


@pytest.mark.parametrize(
    "shown",
    [
        "26.5% of members churned (95% CI 25.2% to 27.9%)",
        "on 800 held-out members, the riskiest 10% hold 3.61×",
        "it finds 93.2% of those who churned, with 88.8% of the members",
        "keyed by `member_row`",
        "| 1 | not of gender 1 | 600 | 50.0% (46.0% to 54.0%; n = 120) | 88.2% |",
        "rules 0.26, portraits\n0.12",
        "**1. Drifting** — 400 members; 50.0% left.",
        "| Partner employees are just under half of members | 48.7% | 47.1% to 50.2% | 4,000 |",
        "| …and churn about 1.7× less | 1.72 | 1.54 to 1.92 | 4,000 |",
        "| `roc_auc` | 0.9877 |",
        "0.9895 ± 0.0035",
        "silhouette 0.159,",
        "![roc](../plots/roc.png)",
        "![tenure](../plots/tenure.png)",
        "| 0 | 200 | 80.0% |",
    ],
)
def test_the_gym_report_shows_the_inputs(gym_report, shown) -> None:
    assert shown in gym_report


def test_the_gym_report_uses_the_contract_words(gym_contract, gym_report) -> None:
    assert gym_report.startswith(f"# Member churn report: {gym_contract.name}\n")
    assert f"About this data: {gym_contract.description}" in gym_report
    assert "| membership lifetime (months) | members |" in gym_report
    assert "Fixed traits ('of gender 1', 'live or work nearby'" in gym_report


def test_the_other_report_has_none_of_the_gym_words(other_contract, other_report) -> None:
    for word in ("Partner", "partner", "visits", "friend", "Lifetime", "lifetime"):
        assert word not in other_report, word
    assert other_report.startswith("# Member churn report: other export\n")
    assert "keyed by `customer_id`" in other_report
    assert "Fixed traits ('region', 'seniors')" in other_report
    assert "Declared findings" not in other_report  # the contract declares none


def test_the_outcome_words_come_from_the_contract(other_inputs) -> None:
    contract = parse_contract(
        {**OTHER_CONTRACT, "target": {**OTHER_CONTRACT["target"], "label": "cancelled"}},
        source="other.yaml",
    )

    text = build_report(dataclasses.replace(other_inputs, contract=contract))

    assert "26.5% of members cancelled" in text
    assert "churned" not in text[: text.index(DATA_SCIENCE)]


@pytest.mark.parametrize("report", ["gym_report", "other_report"])
def test_jargon_waits_for_the_data_scientists(request, report) -> None:
    text = request.getfixturevalue(report)
    start = text.index(DATA_SCIENCE)

    for word in JARGON:
        found = [m.start() for m in re.finditer(rf"\b{word}\b", text, re.IGNORECASE)]
        assert found, word
        assert min(found) > start, word


@pytest.mark.parametrize("report", ["gym_report", "other_report"])
def test_no_nan_in_the_report(request, report) -> None:
    text = request.getfixturevalue(report)

    assert not re.search(r"\bnan\b", text, re.IGNORECASE)


def test_an_undefined_ratio_is_not_shown_as_nan(gym_inputs) -> None:
    # nobody with a phone number on file churned in a small export: the marginal ratio is
    # undefined (the drivers stage writes it as an empty cell, read back as NaN)
    drivers = gym_inputs.drivers.copy()
    phone = drivers["feature"] == "Phone"
    drivers.loc[phone, ["marginal_ratio", "marginal_low", "marginal_high"]] = np.nan

    text = build_report(dataclasses.replace(gym_inputs, drivers=drivers))

    assert not re.search(r"\bnan\b", text, re.IGNORECASE)


def test_a_lever_going_with_more_churn_is_not_called_unproven(gym_inputs, gym_report) -> None:
    # 'joined via a friend': adjusted 0.70 (95% CI 0.55 to 0.85) -- members with it churn
    # more, clearly; "the evidence does not hold" would tell a marketer the opposite
    paragraph = next(p for p in gym_report.split("\n\n") if p.startswith("Not recommended"))

    assert "'partner-company employees'" in paragraph
    assert "'joined via a friend'" not in paragraph


@pytest.mark.parametrize(("lift", "said"), [(3.612, False), (3.7736, True)])
def test_a_lift_at_its_ceiling_is_called_the_most_possible(gym_inputs, lift, said) -> None:
    evaluate = {**gym_inputs.evaluate, "top_decile_lift": lift, "top_decile_lift_max": 3.7736}

    report = build_report(dataclasses.replace(gym_inputs, evaluate=evaluate))

    assert ("the most possible: every one of them left" in report) is said


def test_a_one_value_interval_of_a_median_is_not_shown(gym_report) -> None:
    row = next(line for line in gym_report.splitlines() if "Members are about 29" in line)

    assert (
        row == "| Members are about 29 | 29 | none: every resample gives the same value | 4,000 |"
    )
    assert "29.00 to 29.00" not in gym_report


def test_figures_a_stage_left_out_are_not_quoted(gym_inputs) -> None:
    # strict JSON: the audit and cluster stages leave out what is undefined on an export
    audit = {k: v for k, v in gym_inputs.audit.items() if k != "max_single_feature_roc_auc"}
    cluster = {k: v for k, v in gym_inputs.cluster.items() if k != "silhouette"}

    report = build_report(dataclasses.replace(gym_inputs, audit=audit, cluster=cluster))

    assert "best single-feature ROC-AUC" not in report
    assert "silhouette" not in report
    assert "Portraits: stability (mean" in report


# ------------------------------------------------------------------ snapshots (issue 24)

BACKTEST = {
    "backtest_months": 3, "backtest_roc_auc_mean": 0.781, "backtest_roc_auc_worst": 0.727,
    "backtest_top_decile_lift_mean": 1.77, "backtest_top_decile_lift_worst": 1.65,
    "backtest_ece_mean": 0.085, "backtest_ece_worst": 0.088, "backtest_churn_rate_mean": 0.53,
}  # fmt: skip


def _panel(inputs: ReportInputs, backtest: dict[str, Any]) -> str:
    contract = inputs.contract.model_copy(update={"snapshot": "month"})
    return build_report(dataclasses.replace(inputs, contract=contract, backtest=backtest))


def test_a_panel_report_gives_the_backtests_mean_and_worst_month(other_inputs) -> None:
    report = _panel(other_inputs, BACKTEST)
    assert "Out of time: the test split is the latest labelled `month`" in report
    assert "Backtest over the last 3 labelled months" in report
    assert "ROC-AUC 0.781 (worst month 0.727)" in report
    assert "top-decile lift 1.77 (worst month 1.65)" in report
    assert "ECE 0.085 (worst month 0.088)" in report


def test_a_panel_of_one_labelled_month_says_it_needs_more_months(other_inputs) -> None:
    report = _panel(other_inputs, {"backtest_months": 0})
    assert "No out-of-time check" in report
    assert "it needs more months" in report
    assert "Backtest over" not in report


def test_without_a_snapshot_column_the_report_is_as_before(other_inputs) -> None:
    report = build_report(other_inputs)
    assert report == build_report(dataclasses.replace(other_inputs, backtest=BACKTEST))
    assert "out-of-time" not in report.lower()


def test_an_attribute_a_lever_moves_is_not_called_fixed(gym_inputs) -> None:
    # months left on a contract is contract length minus months used: a renewal resets it
    inputs = _with(gym_inputs, "Month_to_end_contract", not_adjusted_for="Contract_period",
                   tied_by="contract_months_used")  # fmt: skip

    todo = _section(build_report(inputs), "What to do")
    fixed = todo.split("Fixed traits (")[1].split(")")[0]

    assert "'months left on contract'" not in fixed
    assert "'age'" in fixed
    assert (
        "Months left on contract is not fixed: it moves with 'contract length', so it is "
        "described, never recommended on its own."
    ) in todo
    # without the tie it is listed with the fixed traits, as any attribute
    plain = _section(build_report(gym_inputs), "What to do")
    assert "'months left on contract'" in plain.split("Fixed traits (")[1].split(")")[0]
