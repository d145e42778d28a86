"""The report a marketer reads, on the bundled export and on two exports from other fields
(issue 26): `gym-churn init` with no edit to the draft, then the real `dvc repro`.

Each report has none of the gym words unless its contract declares them, no raw column name
outside the data-science part, no number in scientific notation, its two-valued text labels
kept (in the report and in the scored table), no degenerate "0 vs 0" comparison, a marketer
part of at most about 1,000 words after a summary, and campaign figures that match
metrics/campaign.json and the list itself."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gym_churn.contract.spec import parse_contract
from gym_churn.report import fmt
from tests.e2e_helpers import PROJECT, copy_project, lighten, run

GYM_WORDS = ("club", "gym", "member", "fitness")
APPENDIX_MD = "## For data scientists"
MAX_WORDS = 1000


# --- two exports from other fields, seeded -----------------------------------------------


def hr_export(rows: int = 1200, seed: int = 7) -> pd.DataFrame:
    """Employees: an ID, Female/Male and Yes/No text columns, eleven text columns in all,
    incomes in the thousands, a Yes/No target."""
    rng = np.random.default_rng(seed)
    overtime = rng.random(rows) < 0.3
    years = rng.integers(0, 30, rows)
    income = rng.lognormal(8.3, 0.45, rows).round(0)
    travel = rng.choice(
        ["Non-Travel", "Travel_Rarely", "Travel_Frequently"], rows, p=[0.2, 0.6, 0.2]
    )
    logit = (
        -1.6
        + 1.3 * overtime
        - 0.07 * years
        - (income - 4000) / 4000
        + (travel == "Travel_Frequently")
    )
    left = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "EmployeeNumber": [f"E{i:05d}" for i in range(rows)],
        "Age": rng.integers(19, 60, rows),
        "Gender": rng.choice(["Female", "Male"], rows),
        "OverTime": np.where(overtime, "Yes", "No"),
        "BusinessTravel": travel,
        "Department": rng.choice(["Sales", "Research & Development", "Human Resources"], rows),
        "EducationField": rng.choice(["Life Sciences", "Medical", "Marketing", "Other"], rows),
        "JobRole": rng.choice(["Sales Executive", "Research Scientist", "Manager"], rows),
        "MaritalStatus": rng.choice(["Single", "Married", "Divorced"], rows),
        "PerformanceRating": rng.choice(["Excellent", "Outstanding"], rows),
        "WorksRemotely": rng.choice(["No", "Yes"], rows),
        "StockOptions": rng.choice(["None", "Some"], rows),
        "Over18": rng.choice(["Y", "N"], rows, p=[0.97, 0.03]),
        "MonthlyIncome": income,
        "YearsAtCompany": years,
        "Attrition": np.where(left, "Yes", "No"),
    })  # fmt: skip


def loans_export(rows: int = 1200, seed: int = 11) -> pd.DataFrame:
    """Bank customers: no ID, blanks, a mostly-zero amount, a Yes/No text flag, a menu of
    terms, amounts in the tens of thousands, a true/false target."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.8, 0.5, rows).round(-2)
    amount = rng.lognormal(9.5, 0.6, rows).round(-2)
    late = np.where(rng.random(rows) < 0.12, rng.integers(20, 400, rows), 0)
    cosigner = rng.random(rows) < 0.25
    term = rng.choice([36, 60], rows)
    logit = -1.2 + amount / income * 2 + late / 150 - 0.8 * cosigner + (term == 60) * 0.4
    closed = rng.random(rows) < 1 / (1 + np.exp(-logit))
    income_blank = np.where(rng.random(rows) < 0.08, np.nan, income)
    return pd.DataFrame({
        "annual_income": income_blank,
        "loan_amount": amount,
        "late_fees_paid": late,
        "has_cosigner": np.where(cosigner, "Yes", "No"),
        "term_months": term,
        "purpose": rng.choice(["car", "home", "education", "other"], rows),
        "credit_score": rng.integers(450, 850, rows),
        "sex": rng.choice(["Female", "Male"], rows),
        "closed_account": np.where(closed, "true", "false"),
    })  # fmt: skip


# --- the checks, on any repository with a report --------------------------------------------


def _marketer_html(page: str) -> str:
    part = page[page.index('id="marketer"') : page.index('id="appendix"')]
    part = re.sub(r"<img[^>]*>", " ", part)
    return html.unescape(re.sub(r"<[^>]+>", " ", part))


def _page_text(page: str) -> str:
    """The whole page's text: no tags, no embedded image bytes, no style sheet."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.DOTALL)
    page = re.sub(r"<img[^>]*>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def check_report(repo: Path, contract_path: Path) -> None:
    contract = parse_contract(yaml.safe_load(contract_path.read_text()))
    md = (repo / "reports/report.md").read_text()
    page = (repo / "reports/report.html").read_text()
    declared = " ".join([
        contract.population.one, contract.population.many, contract.population.actor,
        contract.name, contract.description or "",
    ]).lower()  # fmt: skip
    for text in (md, _page_text(page)):
        for word in GYM_WORDS:
            if word not in declared:
                assert not re.search(word, text, flags=re.IGNORECASE), word
        assert not re.search(r"\d\.?\d*[eE][+-]?\d", text), "scientific notation"
        assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
        assert not re.search(r"\b0 vs 0\b", text)
        assert "1.00 (1.00 to 1.00)" not in text
        # a comparison whose two sides name the same bound ("<= 0 ... vs ... >= 0")
        assert not re.search(r"\(\S+ ([\d.,]+)\S* or less\) vs \S+ \(\S+ \1\S* or more\)", text)
    marketer = [md.split(APPENDIX_MD)[0], _marketer_html(page)]
    for text in marketer:
        for col in contract.model_features:
            if col.lower() in str(contract.words(col).label).lower():
                continue  # the name is also the words
            assert not re.search(rf"(?<![\w/]){re.escape(col)}(?!\w)", text), col
    words = len(marketer[1].split())
    assert words <= MAX_WORDS, words
    body = page[page.index("<body>") :]
    assert body.index('id="summary"') < body.index("<h2")
    # two-valued text labels: in the report's tables and in the scored table
    # (the bundled export has none, and its scored table is dvc's, absent from a fresh clone)
    for col, f in contract.features.items():
        if f.kind == "binary" and all(isinstance(v, str) for v in f.allowed or [0]):
            scored = pd.read_csv(repo / "data/scored/members_scored.csv")
            labels = {str(v) for v in f.allowed}
            assert set(scored[col].dropna().astype(str)) <= labels, col
            appendix = md.split(APPENDIX_MD)[1]
            for label in labels:
                assert re.search(rf"\| {re.escape(label)} \|", appendix), (col, label)
    check_campaign(repo, md)


def check_campaign(repo: Path, md: str) -> None:
    """The list actually sent, its cost and its return at three success rates, as
    metrics/campaign.json and reports/campaign.csv have them."""
    m = json.loads((repo / "metrics/campaign.json").read_text())
    details = json.loads((repo / "reports/campaign.json").read_text())
    eco = yaml.safe_load((repo / "params.yaml").read_text())["campaign"]
    # the rates the list used (measured by the last campaign, or the params' assumption)
    eco.update({k: details[k] for k in ("success_rate", "success_rate_low", "success_rate_high")})
    text = md.split(APPENDIX_MD)[0]
    if details["mode"] == "replay":  # every outcome known: never this month's list
        assert "this month" not in text.lower()
    if m["listed"] == 0:
        assert "Send no retention offer this month" in text
        return
    sent = m["listed"] - m["held_out"]
    many = re.search(r"\*\*The (?:list sent|replayed list)\.\*\* ([\d,]+) (\w+), riskiest "
                     r"first: ([\d,]+) to contact and ([\d,]+) (?:picked|held out) at random",
                     text)  # fmt: skip
    assert many, "the list sent"
    numbers = [int(many.group(i).replace(",", "")) for i in (1, 3, 4)]
    assert numbers == [m["listed"], sent, m["held_out"]]
    cur = eco["currency"]
    cost = f"{sent * eco['offer_cost']:,.0f} {cur}"
    assert f"Contacting costs {cost}" in text or f"It would have cost {cost}" in text
    lst = pd.read_csv(repo / "reports/campaign.csv")
    p = lst.loc[lst["group"] == "contact", "churn_probability"].sum()
    for key, words in (("success_rate_low", "the offer keeps"), ("success_rate", "it keeps"),
                       ("success_rate_high", "it keeps")):  # fmt: skip
        value = p * eco[key] * eco["member_value"] - sent * eco["offer_cost"]
        money = f"{value:,.0f} {cur}" if value >= -0.5 else f"a loss of {-value:,.0f} {cur}"
        rate = f"{100 * eco[key]:g}%"
        assert f"{money} if {words} {rate}" in text, (key, money)
    assert "of those who would leave" in text
    assert f"{fmt.pct(m['budget_contact_share'])} of the" in text


def test_the_bundled_report() -> None:
    """The committed report of the bundled export (written by `dvc repro`)."""
    check_report(PROJECT, PROJECT / "data/contracts/gym_churn.yaml")


# --- the other exports, end to end -----------------------------------------------------------


EXPORTS = {
    "hr_attrition": (hr_export, ["--target", "Attrition", "--positive", "Yes",
                                 "--id", "EmployeeNumber"]),
    "loans": (loans_export, ["--target", "closed_account", "--positive", "true"]),
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(EXPORTS))
def export_repo(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    name = request.param
    build, args = EXPORTS[name]
    repo = copy_project(tmp_path_factory.mktemp(name))
    build().to_csv(repo / "data" / "raw" / f"{name}.csv", index=False)
    run(["gym-churn", "init", "--data", f"data/raw/{name}.csv", *args], repo)
    lighten(repo / "params.yaml")
    run(["dvc", "repro"], repo)
    return repo, name


@pytest.mark.e2e
def test_a_report_from_another_field(export_repo) -> None:
    repo, name = export_repo
    check_report(repo, repo / "data" / "contracts" / f"{name}.yaml")


@pytest.mark.e2e
def test_the_drafted_words_are_the_exports(export_repo) -> None:
    repo, name = export_repo
    contract = yaml.safe_load((repo / "data" / "contracts" / f"{name}.yaml").read_text())
    expected = {"hr_attrition": "employees", "loans": "customers"}[name]
    assert contract["population"]["many"] == expected
    md = (repo / "reports/report.md").read_text()
    assert md.startswith(f"# {expected.capitalize()} who may leave")
    reasons = pd.read_csv(repo / "reports/campaign.csv").filter(like="reason_").astype(str)
    assert not reasons.apply(lambda c: c.str.contains("member")).any().any()
