"""The report (gym_churn.report) from hand-built stage outputs shaped like the committed files:
summary first, a marketer's part of at most about 1,000 words in the contract's words, the
campaign's figures as computed, numbers formatted for a reader, degenerate comparisons left out
with the reason, two-valued text labels kept, one self-contained HTML page."""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gym_churn.analysis.tenure import COLUMNS as TENURE_COLUMNS
from gym_churn.analysis.tenure import early_churn
from gym_churn.contract.spec import Contract
from gym_churn.report import fmt
from gym_churn.report.content import ReportInputs
from gym_churn.report.render import build_html, build_report, figure_refs
from gym_churn.scoring.campaign import Economics, budget_contacts, optimal_row, profit_curve
from gym_churn.segments.profiles import wilson

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


# --- helpers ---------------------------------------------------------------------------------

APPENDIX_MD = "## For data scientists"


def marketer_md(report: str) -> str:
    return report.split(APPENDIX_MD)[0]


def marketer_text(page: str) -> str:
    """The words of the HTML page's marketer part (tags, images and styles removed)."""
    part = page[page.index('id="marketer"') : page.index('id="appendix"')]
    part = re.sub(r"<img[^>]*>", " ", part)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", part))


def _with(inputs: ReportInputs, feature: str, **cells: Any) -> ReportInputs:
    drivers = inputs.drivers.copy()
    for key, value in cells.items():
        drivers.loc[drivers["feature"] == feature, key] = value
    return dataclasses.replace(inputs, drivers=drivers)


@pytest.fixture(scope="module")
def gym_html(gym_inputs) -> str:
    return build_html(gym_inputs)


@pytest.fixture(scope="module")
def other_html(other_inputs) -> str:
    return build_html(other_inputs)


# --- shape -----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["gym", "other"])
def test_the_summary_comes_first_and_the_marketer_part_is_short(request, which) -> None:
    page = request.getfixturevalue(f"{which}_html")
    body = page[page.index("<body>") :]
    assert body.index('id="summary"') < body.index("<h2")  # the summary holds the first h2
    assert body.index('id="summary"') < body.index('id="contact"') < body.index('id="appendix"')
    words = len(marketer_text(page).split())
    assert 100 < words <= 1000, words
    md = request.getfixturevalue(f"{which}_report")
    assert re.match(r"In short: (one thing|two things|three things) to do", md.split("\n## ")[1])


@pytest.mark.parametrize("which", ["gym", "other"])
def test_the_summary_gives_money_whom_and_cost_for_each_action(request, which) -> None:
    md = request.getfixturevalue(f"{which}_report")
    summary = md.split("## In short: ")[1].split("\n## ")[0]
    actions = re.findall(r"^\d\. .*$", summary, flags=re.MULTILINE)
    assert 2 <= len(actions) <= 3
    for action in actions:
        for part in ("Money:", "Who:", "Cost:"):
            assert part in action, action
    assert "The one caveat:" in summary


def test_the_page_is_self_contained(gym_inputs, tmp_path) -> None:
    png = tmp_path / "fig.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n fake")
    refs = figure_refs({"tenure_risk": png, "roc": tmp_path / "absent.png"}, tmp_path)
    page = build_html(gym_inputs, refs)
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert sources
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page
    md = build_report(gym_inputs, refs)
    assert "![share who left by membership lifetime](fig.png)" in md


# --- the campaign ----------------------------------------------------------------------------


def test_the_campaign_states_the_list_sent_its_cost_and_three_returns(gym_inputs, gym_report):
    m, eco = gym_inputs.campaign, ECONOMICS
    sent = m["listed"] - m["held_out"]
    text = marketer_md(gym_report)
    assert (
        f"{m['listed']:,} members, riskiest first: {sent:,} to contact and {m['held_out']:,}"
        in text
    )
    cost = sent * eco["offer_cost"]
    assert f"Contacting costs {cost:,.0f} EUR" in text
    # 225 contacted at 0.8: 225 * 0.8 * rate * 100 - 2,250
    for rate, money in ((10, "a loss of 450 EUR"), (30, "3,150 EUR"), (50, "6,750 EUR")):
        assert re.search(rf"{money} if (the offer|it) keeps {rate}%", text), (rate, money)
    assert "of those who would leave" in text
    assert "Do not contact the 25 held-out members" in text


def test_the_budget_is_reconciled_with_the_best_share(gym_inputs) -> None:
    inputs = dataclasses.replace(
        gym_inputs, economics={**ECONOMICS, "budget": 1000.0},
        campaign={**gym_inputs.campaign, "listed": 100, "held_out": 10,
                  "budget_contact_share": 0.1},
    )  # fmt: skip
    text = marketer_md(build_report(inputs))
    assert "1,000 EUR pays for 100 offers, 10% of the 1,000 members" in text
    assert "The most return would come from contacting the riskiest 250 (25%): 3,500 EUR" in text
    assert "1,600 EUR more budget would return about" in text


def test_the_list_returns_come_from_the_list_itself(gym_inputs) -> None:
    lst = pd.DataFrame({"member_row": range(1, 5), "churn_probability": [0.9, 0.8, 0.7, 0.6],
                        "group": ["contact", "contact", "holdout", "contact"]})  # fmt: skip
    inputs = dataclasses.replace(
        gym_inputs, campaign_list=lst,
        campaign={**gym_inputs.campaign, "listed": 4, "held_out": 1},
    )  # fmt: skip
    text = marketer_md(build_report(inputs))
    # (0.9 + 0.8 + 0.6) * 0.3 * 100 - 3 * 10 = 39
    assert "39 EUR if it keeps 30% (the assumption)" in text


def test_nothing_worth_sending_says_so(gym_contract) -> None:
    eco = {**ECONOMICS, "offer_cost": 90.0}
    inputs = _inputs(gym_contract, GYM_ADJUSTED, EARLY, _audit([], [], 0), [])
    inputs = dataclasses.replace(inputs, **_campaign(eco))
    text = build_report(inputs)
    assert "Send no retention offer this month" in text
    assert "the list is empty" in text


def test_how_to_find_the_listed_people(gym_report, other_report) -> None:
    assert "position in the exported file (1 = the first row under the header)" in gym_report
    assert "starts with the export's ID (`customer_id`)" in other_report
    assert "member_row" not in marketer_md(gym_report)


# --- words -----------------------------------------------------------------------------------

GYM_ONLY = ("club", "gym", "member", "fitness")


@pytest.mark.parametrize("form", ["md", "html"])
def test_the_other_report_has_no_gym_word(other_inputs, form) -> None:
    text = (build_report if form == "md" else build_html)(other_inputs)
    for word in GYM_ONLY:
        assert not re.search(word, text, flags=re.IGNORECASE), word
    assert "customers" in text
    assert "company" in text


def test_the_population_words_come_from_the_contract(other_contract, other_inputs) -> None:
    con = other_contract.model_copy(update={"population": other_contract.population.model_copy(
        update={"one": "employee", "many": "employees", "actor": "firm"})})  # fmt: skip
    text = build_report(dataclasses.replace(other_inputs, contract=con))
    assert "Employees who may leave" in text
    assert "customer" not in text.lower().replace("customer_id", "")
    assert "firm" in text


@pytest.mark.parametrize("which", ["gym", "other"])
def test_no_raw_column_name_outside_the_appendix(request, which) -> None:
    contract = request.getfixturevalue(f"{which}_contract")
    text = marketer_md(request.getfixturevalue(f"{which}_report"))
    for col in contract.model_features:
        if col.lower() not in str(contract.words(col).label).lower():  # not also a word
            assert not re.search(rf"\b{col}\b", text), col


def test_two_valued_text_labels_are_kept(other_inputs, other_report) -> None:
    # 'senior' is declared N/Y: its rows and comparisons say N and Y, never 0/1 or "without"
    appendix = other_report.split(APPENDIX_MD)[1]
    block = appendix.split("**senior (seniors)**")[1].split("**")[0]
    assert "| N |" in block
    assert "| Y |" in block
    assert "seniors: N vs seniors: Y" in appendix
    assert "without vs with" not in other_report


def test_rule_segments_in_plain_words(gym_contract) -> None:
    from gym_churn.report.content import plain_rule

    rule = "contract length 1 month, age <= 29 years, membership lifetime <= 1 month"
    assert plain_rule(gym_contract, rule) == (
        "contract length 1 month, younger (age 29 years or less), newcomers (membership "
        "lifetime 1 month or less)"
    )
    assert plain_rule(gym_contract, "not attend group classes") == "not 'attend group classes'"
    assert plain_rule(gym_contract, "everyone") == "all other members"


def test_a_lever_no_existing_person_can_change_is_not_suggested(gym_inputs, gym_report) -> None:
    text = marketer_md(gym_report)
    # Promo_friends is changeable: false in the bundled contract
    assert "cannot change this: use it when recruiting" in text
    assert not re.search(r"Test moving members from self-joined", text)


def test_no_levers_declared_promises_no_change(other_contract, other_inputs) -> None:
    feats = {n: f.model_copy(update={"role": "attribute"}) if f.role == "lever" else f
             for n, f in other_contract.features.items()}  # fmt: skip
    con = other_contract.model_copy(update={"features": feats})
    drivers = other_inputs.drivers.assign(role=lambda d: d["role"].replace("lever", "attribute"))
    text = build_report(dataclasses.replace(other_inputs, contract=con, drivers=drivers))
    assert "names nothing the company can change" in text
    assert "could offer" not in text


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.125, "12.5%"), (0.27, "27%"), (0.26525, "26.5%"), (0.004, "0.4%"), (1.0, "100%")],
)
def test_percentages_show_the_decimals_needed(value, text) -> None:
    assert fmt.pct(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1080, "1,080"), (1160.4, "1,160"), (1.18, "1.18"), (0.963, "0.96"), (1e-5, "0"),
     (12345678.9, "12,345,679"), (29.0, "29")],
)  # fmt: skip
def test_numbers_have_separators_and_no_scientific_notation(value, text) -> None:
    assert fmt.num(value) == text


def test_money_has_its_currency() -> None:
    assert fmt.money(18204.37, "EUR") == "18,204 EUR"


@pytest.mark.parametrize("which", ["gym", "other"])
def test_no_scientific_notation_nan_or_raw_ratio_formats(request, which) -> None:
    text = request.getfixturevalue(f"{which}_report")
    assert not re.search(r"\d[eE][+-]?\d", text)
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
    marketer = re.sub(r"`[^`]*`", "", marketer_md(text))
    assert not re.search(r"(?<![.\d])\d{4,}\b", marketer), "a number without separators"


def test_a_degenerate_comparison_is_left_out_with_the_reason(other_inputs) -> None:
    inputs = _with(other_inputs, "calls",
                   compared="<= 0 (80% of members) vs >= 0 (80%), lower vs upper quartile",
                   n_low=800, n_high=800)  # fmt: skip
    text = build_report(inputs)
    assert "0 vs 0" not in text
    assert re.search(r"calls \(most values are 0: no lower and upper group\)", text)


def test_a_one_value_interval_is_left_out(other_inputs) -> None:
    inputs = _with(other_inputs, "calls", marginal_low=1.0, marginal_high=1.0)
    text = marketer_md(build_report(inputs))
    assert "calls (its interval is one value: the two sides are alike)" in text
    assert "1.00 (1.00 to 1.00)" not in text


def test_a_one_value_interval_of_a_median_is_not_shown(gym_report) -> None:
    assert "29 to 29" not in gym_report
    assert "none: every resample gives the same value" in gym_report


def test_jargon_waits_for_the_data_scientists(gym_report) -> None:
    marketer = marketer_md(gym_report).lower()
    for word in ("roc-auc", "brier", "ece", "silhouette", "95% ci", "low side", "high side",
                 "model reliance", "as members are"):  # fmt: skip
        assert word not in marketer, word


# ---------------------------------------------------------------- replay and measured effect


REPLAY = {"mode": "replay", "members": 1000, "replay_listed": 250, "replay_listed_churned": 190,
          "replay_listed_churn_rate": 0.76, "replay_listed_churn_low": 0.703,
          "replay_listed_churn_high": 0.808, "replay_unlisted": 750,
          "replay_unlisted_churned": 15, "replay_unlisted_churn_rate": 0.02,
          "replay_unlisted_churn_low": 0.012, "replay_unlisted_churn_high": 0.033}  # fmt: skip


@pytest.mark.parametrize("render", [build_report, build_html])
def test_a_replay_is_titled_as_such_and_never_called_this_months_list(gym_inputs, render):
    # issue 24: every outcome known (the bundled export) -> a replay on the test members,
    # with how many of the listed and of the unlisted then left; never "this month's list"
    inputs = dataclasses.replace(
        gym_inputs, campaign={**gym_inputs.campaign, "holdout_power": 0.62},
        campaign_details=REPLAY,
    )  # fmt: skip
    page = html_lib.unescape(re.sub(r"<[^>]+>", " ", render(inputs)))
    text = " ".join(page.split())
    assert "this month" not in text.lower()
    assert "Whom the campaign would have contacted: a replay" in text
    assert "Not a list to send:" in text
    assert "190 of the 250 listed (76%, likely 70.3% to 80.8%)" in text
    assert "15 of the 750 unlisted (2%, likely 1.2% to 3.3%)" in text
    assert "with 62% probability (short of the 80% aimed at" in text
    assert "Do not contact the" not in text.split("Whom the campaign")[0]  # no hold-out action


def test_a_list_of_members_still_here_is_this_months(gym_inputs, gym_report) -> None:
    assert "Whom to contact this month" in gym_report
    assert "replay" not in gym_report.lower()


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
    text = " ".join(build_report(inputs).split())
    assert "if it keeps 45% (as the last campaign measured)" in text
    assert "if the offer keeps 20% of those who would leave" in text  # the measured band
    assert "`data/campaigns/2026-11.csv`" in text
    assert "kept 12 percentage points of leaving (likely between 4 and 20)" in text
    assert "so this list uses the measured rate" in text
    unused = dataclasses.replace(
        inputs,
        campaign={**inputs.campaign, "success_rate_source": 0, "success_rate": 0.3},
        campaign_details={**details, "success_rate_low": 0.1, "success_rate_high": 0.5},
    )
    text = " ".join(build_report(unused).split())
    assert "so this list keeps the assumed success rate" in text
    assert "if it keeps 30% (the assumption)" in text


def test_the_caveat_says_the_list_comes_from_the_model_without_the_flagged(gym_inputs) -> None:
    inputs = dataclasses.replace(
        gym_inputs,
        summary={**gym_inputs.summary, "excluded_features": GYM_FLAGGED},
        evaluate={**gym_inputs.evaluate, "roc_auc": 0.9914, "listing_model_roc_auc": 0.949},
    )
    text = " ".join(build_report(inputs).split())
    assert "The list comes from a model without them" in text
    assert "(a score of 0.95 against 0.99 with them; 1 is perfect)" in text
    known = dataclasses.replace(inputs, summary={**inputs.summary, "excluded_features": []})
    assert "the contract says they are recorded before the outcome" in " ".join(
        build_report(known).split()
    )


@pytest.mark.parametrize("build", [build_report, build_html])
def test_compiled_templates_are_reused_and_render_the_same(gym_inputs, build) -> None:
    from gym_churn.report import render as render_module

    render_module._environment.cache_clear()
    first = build(gym_inputs)  # compiles, or reads what an earlier run compiled
    cache = render_module._environment(build is build_html).bytecode_cache
    kept = list(Path(cache.directory).glob(cache.pattern % "*"))
    render_module._environment.cache_clear()
    second = build(gym_inputs)  # a fresh environment: the templates come from the cache

    assert kept  # the compiled templates were written
    assert second == first


def test_the_profit_figure_uses_the_rates_and_shares_the_campaign_used(gym_inputs) -> None:
    from gym_churn.report.figures import profit_figure

    details = {"success_rate": 0.45, "success_rate_low": 0.2, "success_rate_high": 0.6,
               "best_contact_share": 0.27, "budget_contact_share": 0.4}  # fmt: skip
    drawn = {}

    class Recorder:
        def profit_figure(self, curve, best, budget_share, eco):
            drawn.update(curve=curve, best=best, budget_share=budget_share, eco=eco)
            return "figure"

    inputs = dataclasses.replace(gym_inputs, campaign_details=details)
    assert profit_figure(inputs, Recorder()) == "figure"
    # the measured rate and band the list used, not the params' assumption
    eco = drawn["eco"]
    assert (eco.success_rate, eco.success_rate_low, eco.success_rate_high) == (0.45, 0.2, 0.6)
    assert (eco.offer_cost, eco.member_value) == (10.0, 100.0)
    assert drawn["best"]["contact_share"] == 0.27
    assert drawn["budget_share"] == 0.4
    assert drawn["curve"] is gym_inputs.curve


def test_the_drivers_get_each_groups_model_reliance(other_contract) -> None:
    from gym_churn.report.content import with_reliance

    groups = list(other_contract.groups)
    reliance = pd.DataFrame(
        {"group": groups, "importance": [0.01 * (i + 1) for i in range(len(groups))]}
    )
    drivers = pd.DataFrame({"feature": [*other_contract.raw_features, "not_a_column"]})

    rows = with_reliance(drivers, reliance.iloc[1:], other_contract).set_index("feature")

    # fee, tenure_months and fee_per_month are one group, keyed by fee
    assert rows.loc["tenure_months", "reliance"] == rows.loc["fee", "reliance"]
    assert rows.loc["fee", "reliance"] == pytest.approx(0.01 * (groups.index("fee") + 1))
    assert rows.loc["calls", "reliance"] == pytest.approx(0.01 * (groups.index("calls") + 1))
    # a group evaluate did not measure, or a feature of no group: a gap
    assert np.isnan(rows.loc[other_contract.groups[groups[0]][0], "reliance"])
    assert np.isnan(rows.loc["not_a_column", "reliance"])


def test_the_report_renders_without_a_folder_for_compiled_templates(gym_inputs, monkeypatch):
    from gym_churn.report import render as render_module

    expected = build_report(gym_inputs)

    def no_folder(*args, **kwargs):
        raise RuntimeError("Cannot determine safe temp directory")

    monkeypatch.setattr(render_module, "FileSystemBytecodeCache", no_folder)
    render_module._environment.cache_clear()
    try:
        assert render_module._environment(False).bytecode_cache is None
        assert build_report(gym_inputs) == expected
    finally:
        render_module._environment.cache_clear()
