"""The report's numbers and facts, computed from the stages' outputs and the contract: plain
data (texts already formatted, lists, dicts) for the templates, which hold the words.

Nothing here writes a sentence of the report; it decides what is shown, what is left out
(and why), and formats every number (fmt).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.report import fmt
from gym_churn.scoring.campaign import optimal_row
from gym_churn.segments.profiles import trait_phrase

# Early tenure leads the report when at least this share of churners left that early.
EARLY_LEAD_SHARE = 0.5


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, as the stages wrote it."""

    contract: Contract
    evaluate: dict[str, Any]
    cluster: dict[str, Any]
    audit: dict[str, Any]
    drivers_metrics: dict[str, Any]
    profile: dict[str, Any]
    score: dict[str, Any]
    summary: dict[str, Any]
    drivers: pd.DataFrame  # reports/drivers.csv
    levels: pd.DataFrame  # reports/churn_by_level.csv
    tenure: pd.DataFrame  # plots/drivers/tenure.csv
    early: dict[str, Any]  # analysis.tenure.early_churn
    rules: pd.DataFrame  # reports/rule_segments.csv
    portraits: dict[str, Any]  # reports/portraits.json
    figures: dict[str, str]  # figure key -> path relative to the report (Markdown links)
    scored_path: str
    campaign: dict[str, Any]  # metrics/campaign.json
    curve: pd.DataFrame  # plots/campaign/profit.csv
    economics: dict[str, Any]  # params' campaign section
    campaign_path: str
    backtest: dict[str, Any] = field(default_factory=dict)  # metrics/backtest.json
    campaign_list: pd.DataFrame | None = None  # reports/campaign.csv (the list itself)
    # reports/campaign.json: replay counts and CIs, the measured effect, the rates used
    campaign_details: dict[str, Any] = field(default_factory=dict)


def with_reliance(drivers: pd.DataFrame, reliance: pd.DataFrame, c: Contract) -> pd.DataFrame:
    """The drivers table (profile's, model-free) with each feature's model reliance: its
    group's `importance` in evaluate's table (one row per group, keyed by `group`); a group
    the table lacks gets a gap."""
    group_of = {col: g for g, cols in c.groups.items() for col in cols}
    by_group = reliance.set_index("group")["importance"]
    values = [float(by_group.get(group_of.get(f), np.nan)) for f in drivers["feature"]]
    return drivers.assign(reliance=values)


def rates_used(r: ReportInputs) -> dict[str, float]:
    """The success rate and band the list used: measured by the last campaign when its CI
    excluded 0 (the campaign stage says so), else the params' assumption."""
    eco, m = r.economics, {**r.campaign_details, **r.campaign}
    keys = ("success_rate", "success_rate_low", "success_rate_high")
    return {k: float(m.get(k, eco[k])) for k in keys}


# ------------------------------------------------------------------ words


def words(r: ReportInputs) -> dict[str, str]:
    """The population's, the actor's, the outcome's and the money's words."""
    c, eco = r.contract, r.economics
    return {
        "one": c.population.one,
        "a_one": ("an " if c.population.one[:1].lower() in "aeiou" else "a ") + c.population.one,
        "many": c.population.many,
        "Many": c.population.many[:1].upper() + c.population.many[1:],
        "actor": c.population.actor,
        "left": c.target.label,
        "stayed": c.target.negative_label,
        "currency": str(eco.get("currency") or "EUR"),
        "period": str(eco.get("value_period") or ""),
        "name": c.name,
    }


def label(c: Contract, col: str) -> str:
    return str(c.words(col).label)


def text_values(c: Contract, col: str) -> tuple[str, str] | None:
    """A flag declared with text values (Female/Male, No/Yes): (absent, present)."""
    f = c.features.get(col)
    if f is None or f.kind != "binary" or not f.allowed:
        return None
    if all(isinstance(v, str) for v in f.allowed):
        return str(f.allowed[0]), str(f.allowed[1])
    return None


def level_name(c: Contract, col: str, level: Any) -> str:
    """A value of a flag or category as the export writes it: Female/Male, yes/no for 0/1."""
    named = text_values(c, col)
    f = c.features.get(col)
    if f is not None and f.kind == "binary":
        try:
            one = int(float(level)) == 1
        except (TypeError, ValueError):
            return str(level)
        if named:
            return named[1] if one else named[0]
        return "yes" if one else "no"
    try:
        value = float(level)
    except (TypeError, ValueError):
        return str(level)
    return f"{fmt.num(value)}{(' ' + c.words(col).unit_for(value)) if c.words(col).unit else ''}"


# ------------------------------------------------------------------ comparisons


@dataclass(frozen=True)
class Sides:
    low: str  # the low side in words
    high: str
    reason: str | None = None  # why the comparison is degenerate (then it is not shown)


_QUARTILES = re.compile(r"<= (\S+) \(([\d.]+)% of \w+\) vs >= (\S+) \(([\d.]+)%\)")
_MENU = re.compile(r"^(\S+) vs (\S+)$")
_CATEGORY = re.compile(r"^'(.*)' vs '(.*)' \(riskiest vs safest\)$")


def sides(r: ReportInputs, row: pd.Series) -> Sides:
    """What a drivers.csv row compares, in words, or why it is no comparison at all."""
    c, col, compared = r.contract, str(row["feature"]), str(row["compared"])
    name, w = label(c, col), c.words(col)
    total = int(r.early.get("members", 0) or 0)
    n_low, n_high = int(row["n_low"]), int(row["n_high"])
    if n_low == 0 or n_high == 0:
        return Sides("", "", "one side holds nobody")
    if total and n_low + n_high > total:
        return Sides("", "", "the two sides overlap: most values are the same")
    if (
        pd.notna(row["marginal_low"])
        and pd.notna(row["marginal_high"])
        and np.isclose(row["marginal_low"], row["marginal_high"])
    ):
        return Sides("", "", "its interval is one value: the two sides are alike")
    if compared == "without vs with":
        named = text_values(c, col)
        if named:
            return Sides(f"{name}: {named[0]}", f"{name}: {named[1]}")
        f = c.features[col]
        low = f.low or f"without '{name}'"
        high = f.high or f"with '{name}'"
        return Sides(low, high)
    m = _QUARTILES.search(compared)
    if m:
        q1, q3 = float(m.group(1)), float(m.group(3))
        if q1 >= q3:
            return Sides("", "", f"most values are {fmt.num(q1)}: no lower and upper group")
        low, high = _group_words(c, col)
        return Sides(
            f"{low}{name} {fmt.num(q1)}{_unit(w, q1)} or less{')' if low else ''}",
            f"{high}{name} {fmt.num(q3)}{_unit(w, q3)} or more{')' if high else ''}",
        )
    m = _CATEGORY.match(compared)
    if m:
        return Sides(f"{name}: {m.group(1)}", f"{name}: {m.group(2)}")
    m = _MENU.match(compared)
    if m:
        a, b = float(m.group(1)), float(m.group(2))
        low, high = _group_words(c, col)
        close = ")" if low else ""
        return Sides(
            f"{low}{name} {level_name(c, col, a)}{close}",
            f"{high}{name} {level_name(c, col, b)}{close}",
        )
    return Sides("", "", f"nothing to compare ({compared})")


def _group_words(c: Contract, col: str) -> tuple[str, str]:
    """The declared words for a column's low and high groups as a prefix, "younger (", or
    nothing where the contract declares none (no "high monthly income (monthly income ...")."""
    spec = c.features.get(col) or c.engineered.get(col)
    if spec is None or not (spec.low and spec.high):
        return "", ""
    return f"{spec.low} (", f"{spec.high} ("


def _unit(w: Any, value: float) -> str:
    return f" {w.unit_for(value)}" if w.unit else ""


def flagged(r: ReportInputs) -> list[str]:
    return list(r.audit.get("flagged_features", []))


def associations(r: ReportInputs) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(comparisons to show, riskier group first; comparisons left out with the reason).
    The adjusted ratio where estimated, else none is shown."""
    c = r.contract
    shown, omitted = [], []
    for _, row in r.drivers.iterrows():
        col = str(row["feature"])
        s = sides(r, row)
        if col in flagged(r):
            omitted.append({"name": label(c, col), "why": "it behaves like the outcome itself"})
            continue
        if s.reason:
            omitted.append({"name": label(c, col), "why": s.reason})
            continue
        ratio = row["adjusted_ratio"]
        if pd.isna(ratio):
            omitted.append(
                {"name": label(c, col), "why": "the data cannot separate it from the rest"}
            )
            continue
        low_ci, high_ci = row["adjusted_low"], row["adjusted_high"]
        riskier, safer = (s.low, s.high) if ratio >= 1 else (s.high, s.low)
        value = ratio if ratio >= 1 else 1 / ratio
        clear = bool(low_ci > 1 or high_ci < 1)
        shown.append({
            "feature": col, "name": label(c, col), "role": str(row["role"]),
            "riskier": riskier, "safer": safer, "ratio": float(value),
            "times": fmt.times(value), "clear": clear,
            "lever": str(row["role"]) == "lever", "evidence": bool(row["lever_evidence"]),
            "changeable": c.features[col].changeable if col in c.features else True,
            "row": row,
        })  # fmt: skip
    shown.sort(key=lambda d: -d["ratio"])
    return shown, omitted


# ------------------------------------------------------------------ campaign


def _gain(x: float, currency: str) -> str:
    """An expected return: "8,972 EUR", or "a loss of 9 EUR"."""
    return fmt.money(x, currency) if x >= -0.5 else f"a loss of {fmt.money(-x, currency)}"


def campaign(r: ReportInputs) -> dict[str, Any]:
    """The list actually sent, its cost and expected return at the three success rates, the
    best size and what more budget would return."""
    eco, m, w = r.economics, r.campaign, words(r)
    cur = w["currency"]
    listed, held = int(m["listed"]), int(m["held_out"])
    sent = listed - held
    total = int(r.curve["contacted"].iloc[-1]) if len(r.curve) else 0
    used = rates_used(r)
    rates = {
        "low": used["success_rate_low"], "rate": used["success_rate"],
        "high": used["success_rate_high"],
    }  # fmt: skip
    lst = r.campaign_list
    if lst is not None and "group" in lst and "churn_probability" in lst:
        p = lst.loc[lst["group"] == "contact", "churn_probability"].astype(float).sum()
        held_value = lst.loc[lst["group"] != "contact", "churn_probability"].astype(float).sum()
    else:  # the list itself not given: its risk from the curve at that size
        p = float(np.interp(sent, r.curve["contacted"], r.curve["expected_churners"]))
        held_value = float(np.interp(listed, r.curve["contacted"], r.curve["expected_churners"]))
        held_value -= p
    cost = sent * eco["offer_cost"]
    returns = {k: p * v * eco["member_value"] - cost for k, v in rates.items()}
    affordable = round(float(m["budget_contact_share"]) * total)
    best_share = float(m["best_contact_share"])
    best_n = round(best_share * total)
    best_profit = float(m["best_expected_profit"])
    best_cost = best_n * eco["offer_cost"]
    band = {}
    for key, column in (("low", "profit_low"), ("high", "profit_high")):
        row = optimal_row(r.curve, column)
        band[key] = {"n": fmt.count(row["contacted"]), "none": float(row["contact_share"]) == 0,
                     "profit": fmt.money(row[column], cur)}  # fmt: skip
    never_more = bool((r.curve["random"] <= r.curve["profit"] + 1e-9).all())
    return {
        "listed": fmt.count(listed), "held": fmt.count(held), "sent": fmt.count(sent),
        "sent_n": sent, "listed_n": listed, "held_n": held,
        "cost": fmt.money(cost, cur), "cost_n": cost,
        "offer_cost": fmt.money(eco["offer_cost"], cur),
        "value": fmt.money(eco["member_value"], cur),
        "budget": fmt.money(eco["budget"], cur),
        "budget_share": fmt.pct(m["budget_contact_share"]),
        "budget_n": fmt.count(affordable),
        "returns": {k: _gain(v, cur) for k, v in returns.items()},
        "returns_n": returns,
        "rates": {k: fmt.pct(v) for k, v in rates.items()},
        "total": fmt.count(total),
        "best_share": fmt.pct(best_share), "best_n": fmt.count(best_n), "best_none": best_n == 0,
        "best_profit": fmt.money(best_profit, cur), "best_cost": fmt.money(best_cost, cur),
        # the budget binds (more would return more), or the list stops short of it
        "budget_short": best_n > listed, "budget_over": listed < affordable and best_n <= listed,
        "more_return": fmt.money(best_profit - returns["rate"], cur),
        "more_budget": fmt.money(max(best_cost - cost, 0), cur),
        "band": band, "random_never_better": never_more,
        "held_forgone": fmt.money(held_value * rates["rate"] * eco["member_value"], cur),
        "empty": listed == 0,
        "measured_rate": bool(m.get("success_rate_source")),
        **_replay(r),
        **_loop(r),
    }  # fmt: skip


def _replay(r: ReportInputs) -> dict[str, Any]:
    """With no one to contact now (every outcome known): the list the campaign would have
    sent to the test members, and how many of the listed and of the unlisted then left."""
    d = r.campaign_details
    if d.get("mode") != "replay":
        return {"replay": False}
    groups = {}
    for g in ("listed", "unlisted"):
        n = int(d.get(f"replay_{g}", 0))
        if n:
            groups[g] = {
                "n": fmt.count(n), "left": fmt.count(d[f"replay_{g}_churned"]),
                "rate": fmt.pct(d[f"replay_{g}_churn_rate"]),
                "ci": fmt.pct_ci(d[f"replay_{g}_churn_low"], d[f"replay_{g}_churn_high"]),
            }  # fmt: skip
    seen = int(d.get("replay_listed", 0)) + int(d.get("replay_unlisted", 0))
    return {"replay": True, "replay_groups": groups, "replay_members": fmt.count(seen)}


def _loop(r: ReportInputs) -> dict[str, Any]:
    """The hold-out's power, and the last campaign's measured effect when one was read."""
    m, eco = {**r.campaign_details, **r.campaign}, r.economics
    out: dict[str, Any] = {"power": None, "measured": None}
    if m.get("holdout_power") is not None and m.get("listed"):
        out["power"] = {
            "value": fmt.pct(m["holdout_power"]), "aim": fmt.pct(eco["power"]),
            "effect": fmt.num(eco["min_effect_points"]),
            "short": m["holdout_power"] < eco["power"] - 1e-9,
            "max_share": fmt.pct(eco["holdout_max_share"]),
        }  # fmt: skip
    if "measured_kept_points" in m:
        rate = None
        if "measured_success_rate" in m:
            rate = {"value": fmt.pct(m["measured_success_rate"]),
                    "ci": fmt.pct_ci(m["measured_success_rate_low"],
                                     m["measured_success_rate_high"])}  # fmt: skip
        out["measured"] = {
            "list": m.get("measured_list", ""),
            "held": fmt.count(m["measured_held_out"]),
            "contacted": fmt.count(m["measured_contacted"]),
            "points": fmt.num(m["measured_kept_points"], 1),
            "low": fmt.num(m["measured_kept_points_low"], 1),
            "high": fmt.num(m["measured_kept_points_high"], 1),
            "rate": rate, "used": bool(m.get("success_rate_source")),
        }  # fmt: skip
    return out


# ------------------------------------------------------------------ tenure


def early(r: ReportInputs) -> dict[str, Any] | None:
    """The early-tenure finding, when early months hold most churners."""
    e, c = r.early, r.contract
    if not c.tenure or not (e["share"] >= EARLY_LEAD_SHARE):
        return None
    tw = c.words(c.tenure)
    months = int(e["early_months"])
    t = r.tenure
    now = t[t["tenure"] < months]
    later = t[t["tenure"] >= months + 4]
    return {
        "share": fmt.pct(e["share"]), "ci": fmt.pct_ci(e["low"], e["high"]),
        "churned": fmt.count(e["churned"]), "churned_early": fmt.count(e["churned_early"]),
        "churned_early_n": int(e["churned_early"]),
        "months": fmt.count(months), "unit": tw.unit_for(months) or "months",
        "members_share": fmt.pct(e["members_share"]), "members": fmt.count(e["members"]),
        "tenure": label(c, c.tenure),
        "first_rate": fmt.pct(t["churn_rate"].iloc[0]) if len(t) else "–",
        "first": (f"{fmt.num(t['tenure'].iloc[0])}{_unit(tw, float(t['tenure'].iloc[0]))}"
                  if len(t) else ""),
        "now": fmt.count(now["members"].sum()), "now_n": int(now["members"].sum()),
        "later_max": fmt.pct(later["churn_rate"].max()) if len(later) else None,
        "later_from": fmt.count(months + 4),
    }  # fmt: skip


def tenure_rows(r: ReportInputs) -> list[list[str]]:
    shown = r.tenure[r.tenure["cumulative_share_of_churners"].shift(fill_value=0) < 0.99]
    return [
        [fmt.count(t.tenure), fmt.count(t.members), fmt.pct(t.churn_rate),
         fmt.pct_ci(t.low, t.high), fmt.pct(t.cumulative_share_of_churners)]
        for t in shown.itertuples()
    ]  # fmt: skip


# ------------------------------------------------------------------ rule segments

_BOUND = re.compile(r"^(<=|>=|<|>) (\S+)(?: .*)?$")
_RANGE = re.compile(r"^(\S+) to (\S+)(?: .*)?$")


def _plain_condition(c: Contract, text: str) -> str:
    """One condition of a rule ("age <= 29 years") in plain words ("younger (age 29 years or
    under)"), in the contract's words; two-valued text flags by their labels."""
    by_label = sorted(((label(c, col), col) for col in c.model_features), key=lambda x: -len(x[0]))
    negated = text.startswith("not ")
    body = text[4:] if negated else text
    for name, col in by_label:
        if body == name or body.startswith(name + " "):
            rest = body[len(name) :].strip()
            w, kind = c.words(col), c.kind(col)
            if kind == "binary":
                named = text_values(c, col)
                if named:
                    return f"{name}: {named[0] if negated else named[1]}"
                return f"not '{name}'" if negated else f"'{name}'"
            if kind == "categorical":
                return f"{name} {'not ' if negated else ''}{rest}"
            m = _BOUND.match(rest)
            if m:
                op, value = m.group(1), float(m.group(2))
                unit = f" {w.unit_for(value)}" if w.unit else ""
                low, high = _group_words(c, col)
                if op in ("<=", "<"):
                    return f"{low}{name} {fmt.num(value)}{unit} or less{')' if low else ''}"
                return f"{high}{name} {fmt.num(value)}{unit} or more{')' if high else ''}"
            m = _RANGE.match(rest)
            if m:
                unit = f" {w.unit}" if w.unit else ""
                return f"{name} {fmt.num(float(m.group(1)))} to {fmt.num(float(m.group(2)))}{unit}"
            return f"{name} {rest}"
    return text


def plain_rule(c: Contract, rule: str) -> str:
    if rule == "everyone":
        return f"all other {c.population.many}"
    return ", ".join(_plain_condition(c, part.strip()) for part in rule.split(", "))


def rule_groups(r: ReportInputs) -> list[dict[str, Any]]:
    c = r.contract
    out = []
    for t in r.rules.itertuples():
        out.append({
            "id": int(t.id), "text": plain_rule(c, str(t.rule)), "rule": str(t.rule),
            "members": fmt.count(t.members), "rate": fmt.pct(t.churn_rate),
            "ci": fmt.pct_ci(t.low, t.high), "held_out": fmt.count(t.held_out_members),
            "held_out_n": int(t.held_out_members), "share": fmt.pct(t.share_of_churners),
            "rate_n": float(t.churn_rate), "low_n": float(t.low), "high_n": float(t.high),
        })  # fmt: skip
    return out


# ------------------------------------------------------------------ actions


def actions(r: ReportInputs) -> list[dict[str, Any]]:
    """The three things to do, each with its money, whom it concerns and what it costs: the
    campaign list; onboarding when most leave early; the strongest lever an offer can change
    for people already there (else: measure the offer on the hold-out)."""
    w, eco = words(r), r.economics
    cur = w["currency"]
    camp = campaign(r)
    out: list[dict[str, Any]] = [{"kind": "campaign", **camp}]
    e = early(r)
    if e:
        used = rates_used(r)
        money = {k: fmt.money(e["churned_early_n"] * used[f] * eco["member_value"], cur)
                 for k, f in (("low", "success_rate_low"), ("rate", "success_rate"),
                              ("high", "success_rate_high"))}  # fmt: skip
        out.append({
            "kind": "onboarding", **e, "money": money, "rates": camp["rates"],
            "cost": fmt.money(e["now_n"] * eco["offer_cost"], cur),
        })  # fmt: skip
    shown, _ = associations(r)
    adjusted = r.drivers.set_index("feature")["adjusted_ratio"]
    levers = [a for a in shown if a["lever"] and a["evidence"] and a["changeable"]
              and adjusted[a["feature"]] > 1]  # fmt: skip
    if levers:
        a = levers[0]
        row = a["row"]
        n = int(row["n_low"])
        tested = n // 2
        # the low side's churn rate (flags and menus have it by value): what moving them all
        # would keep at most, were the link causal
        lv = r.levels[r.levels["feature"] == a["feature"]]
        ordered = r.contract.kind(a["feature"]) in ("binary", "integer")
        rate = float(lv["churn_rate"].iloc[0]) if len(lv) and ordered else float("nan")
        kept = n * rate * (1 - 1 / float(row["adjusted_ratio"]))
        out.append({
            "kind": "lever", **{k: v for k, v in a.items() if k != "row"},
            "n": fmt.count(n), "tested": fmt.count(tested),
            "upto": None if np.isnan(kept) else fmt.money(kept * eco["member_value"], cur),
            "cost": fmt.money(tested * eco["offer_cost"], cur),
        })  # fmt: skip
    elif not camp["empty"] and not camp["replay"]:  # a replay holds no one to hold out
        out.append({"kind": "measure", **camp})
    return out[:3]


def caveat(r: ReportInputs) -> dict[str, Any]:
    """The one caveat that matters most: a column that behaves like the outcome, else the
    assumed success rate."""
    a = r.audit
    if flagged(r):
        excluded = r.summary.get("excluded_features", [])
        return {
            "kind": "flagged",
            "names": [label(r.contract, c) for c in flagged(r)],
            "with": fmt.pct(a["cv_roc_auc"]),
            "without": fmt.pct(a["cv_roc_auc_without_flagged"]),
            # the list's model leaves them out (train), unless the contract says they are
            # known before the outcome; its test ROC-AUC beside the headline model's
            "left_out": bool(excluded),
            "test_with": fmt.num(r.evaluate["roc_auc"], 2),
            "test_without": fmt.num(r.evaluate.get("listing_model_roc_auc", float("nan")), 2),
        }
    return {"kind": "assumed", "rate": fmt.pct(rates_used(r)["success_rate"])}


def caveats(r: ReportInputs) -> list[dict[str, Any]]:
    c, a = r.contract, r.audit
    out: list[dict[str, Any]] = []
    for d in a.get("flagged_detail", []):
        feature = d["feature"]
        known = feature in c.features or feature in c.engineered
        name = label(c, feature) if known else feature
        w = c.words(feature) if known else None
        unit = f" {w.unit}" if w is not None and w.unit else ""
        sides = []
        if d["low_tail_members"]:
            sides.append(f"{fmt.num(d['low_tail_upto'])}{unit} or less "
                         f"({fmt.count(d['low_tail_members'])})")  # fmt: skip
        if d["high_tail_members"]:
            sides.append(f"{fmt.num(d['high_tail_from'])}{unit} or more "
                         f"({fmt.count(d['high_tail_members'])})")  # fmt: skip
        out.append({"kind": "flagged", "name": name, "sides": sides})
    for an in a.get("anomalies", []):
        if an["rows"]:
            out.append({"kind": "anomaly", "rows": fmt.count(an["rows"]),
                        "share": fmt.pct(an["share"]), "note": an.get("note"),
                        "rule": an["rule"]})  # fmt: skip
    return out


def fixed_traits(r: ReportInputs) -> tuple[list[str], list[dict[str, Any]]]:
    """(labels of fixed attributes, attributes a lever moves with those levers' labels)."""
    c = r.contract
    levers = set(c.with_role("lever"))
    tied = r.drivers.set_index("feature").get("not_adjusted_for")
    fixed, moving = [], []
    for col in c.with_role("attribute"):
        cell = tied.get(col) if tied is not None else None
        movers = [x for x in str(cell).split(" + ") if x in levers] if pd.notna(cell) else []
        if movers:
            moving.append({"name": label(c, col), "levers": [label(c, x) for x in movers]})
        else:
            fixed.append(label(c, col))
    return fixed, moving


# ------------------------------------------------------------------ the appendix


def finding_ci(f: dict[str, Any]) -> str:
    """A finding's 95% CI, or why none is shown (a one-value interval is no interval)."""
    if "low" not in f or "high" not in f:
        return "none"
    if f["low"] == f["high"]:
        return "none: every resample gives the same value"
    if f["measure"] in ("share", "relative_change"):
        return fmt.pct_ci(f["low"], f["high"])
    return f"{fmt.num(f['low'])} to {fmt.num(f['high'])}"


def finding_value(f: dict[str, Any]) -> str:
    if "value" not in f:
        return str(f.get("why", "not defined on this export"))
    if f["measure"] == "share":
        return fmt.pct(f["value"])
    if f["measure"] == "relative_change":
        return ("+" if f["value"] > 0 else "") + fmt.pct(f["value"])
    return fmt.num(f["value"])


METRIC_WORDS = {
    "roc_auc": "how well the score ranks churners above others (0.5 coin, 1 perfect)",
    "pr_auc": "average precision over all thresholds",
    "f1": "balance of precision and recall at the threshold",
    "precision": "share of flagged rows that churned",
    "recall": "share of churners flagged",
    "accuracy": "share of rows classified right at the threshold",
    "brier": "mean squared error of the probabilities (lower is better)",
    "log_loss": "penalty for confident wrong probabilities (lower is better)",
    "ece": "average gap between predicted and observed churn rates (calibration)",
    "top_decile_lift": "churners among the riskiest 10% vs 10% at random",
    "threshold": "probability at or above which a row is flagged at risk",
    "cv_roc_auc_mean": "ROC-AUC by cross-validation on the training split",
    "cv_roc_auc_std": "its spread over folds",
    "baseline_logreg_roc_auc": "plain logistic regression on the raw columns, same split",
}


def appendix(r: ReportInputs) -> dict[str, Any]:
    """The data scientists' tables: every number, raw column names allowed."""
    c, e, s, cl = r.contract, r.evaluate, r.summary, r.cluster
    drivers = []
    for _, d in r.drivers.iterrows():
        sd = sides(r, d)
        if pd.isna(d["adjusted_ratio"]):
            adjusted = "not estimated: " + str(d["status"]).removeprefix("not estimated: ")
        else:
            adjusted = fmt.ratio_ci(d["adjusted_ratio"], d["adjusted_low"], d["adjusted_high"])
            adjusted += " (holds after Holm)" if bool(d["lever_evidence"]) else ""
        drivers.append([
            f"{d['feature']} ({d['label']})", str(d["role"]),
            f"left out: {sd.reason}" if sd.reason else f"{sd.low} vs {sd.high}",
            f"{fmt.count(d['n_low'])} / {fmt.count(d['n_high'])}",
            fmt.ratio_ci(d["marginal_ratio"], d["marginal_low"], d["marginal_high"]),
            adjusted, fmt.num(d["reliance"], 3),
        ])  # fmt: skip
    levels = []
    for col, group in r.levels.groupby("feature", sort=False):
        levels.append({
            "name": f"{col} ({group['label'].iloc[0]})",
            "rows": [[level_name(c, str(col), g.level), fmt.count(g.n), fmt.pct(g.share),
                      fmt.pct(g.churn_rate), fmt.pct_ci(g.low, g.high)]
                     for g in group.itertuples()],
        })  # fmt: skip
    portraits = [
        [str(p["id"]), p["name"], fmt.count(p["size"]), fmt.pct(p["share"]),
         f"{fmt.pct(p['churn_rate'])} ({fmt.pct_ci(p['churn_low'], p['churn_high'])})"]
        for p in r.portraits.get("portraits", [])
    ]  # fmt: skip
    findings = [[f["claim"], finding_value(f), finding_ci(f), fmt.count(f["n"])]
                for f in r.portraits.get("findings", [])]  # fmt: skip
    metrics = [[k, f"{e[k]:.4f}", v] for k, v in METRIC_WORDS.items() if k in e]
    candidates = [
        [cand["model"], ", ".join(f"{k} {v}" for k, v in cand["hyperparameters"].items()),
         f"{cand['cv_roc_auc_mean']:.4f} ± {cand['cv_roc_auc_std']:.4f}"]
        for cand in s.get("candidates", [])
    ]  # fmt: skip
    rules = [[str(g["id"]), g["rule"], g["members"],
              f"{g['rate']} ({g['ci']}; n = {g['held_out']})" if g["held_out_n"] else "–",
              g["share"]] for g in rule_groups(r)]  # fmt: skip
    b = r.backtest
    backtest = None
    if c.snapshot is not None:
        shown = (("roc_auc", "ROC-AUC", 3), ("top_decile_lift", "top-decile lift", 2),
                 ("ece", "ECE", 3))  # fmt: skip
        backtest = {
            "months": b.get("backtest_months", 0), "snapshot": c.snapshot,
            "parts": [f"{words_} {b[f'backtest_{k}_mean']:.{d}f} (worst month "
                      f"{b[f'backtest_{k}_worst']:.{d}f})"
                      for k, words_, d in shown if f"backtest_{k}_mean" in b],
        }  # fmt: skip
    m = r.drivers_metrics
    return {
        "drivers": drivers, "levels": levels, "portraits": portraits,
        "portrait_texts": [
            (p["id"], p["name"], "; ".join(
                trait_phrase(t["feature"], c, t["segment_value"], t["base_value"])
                for t in p.get("traits", [])))
            for p in r.portraits.get("portraits", [])
        ],
        "findings": findings, "metrics": metrics, "candidates": candidates, "rules": rules,
        "model": s.get("model"), "model_setting": s.get("model_setting"),
        "cv_folds": s.get("cv_folds"), "test_rows": fmt.count(e.get("test_rows", 0)),
        "scored_auc": f"{r.score.get('scored_members_roc_auc', float('nan')):.3f}",
        "at_risk": fmt.pct(r.score.get("at_risk_share", float("nan"))),
        "best_single": r.audit.get("max_single_feature_roc_auc"),
        "silhouette": cl.get("silhouette"), "stability": cl.get("stability_ari"),
        "k": cl.get("k"), "nmi_rules": r.profile.get("rule_nmi_with_churn"),
        "nmi_kmeans": r.profile.get("kmeans_nmi_with_churn"),
        "levers_tested": m.get("levers_tested", 0),
        "familywise": f"{100 * m.get('familywise_confidence', 0.95):.4g}%",
        "cv_with": r.audit.get("cv_roc_auc"),
        "cv_without": r.audit.get("cv_roc_auc_without_flagged"),
        "flagged": flagged(r), "backtest": backtest,
        "key": c.key, "id": c.id, "anomalies": r.audit.get("anomalies", []),
        "lift_ceiling": (e.get("top_decile_lift_max") is not None
                         and e["top_decile_lift"] >= e["top_decile_lift_max"] - 1e-9),
    }  # fmt: skip


def context(r: ReportInputs) -> dict[str, Any]:
    """Everything the templates show."""
    shown, omitted = associations(r)
    fixed, moving = fixed_traits(r)
    m, e = r.drivers_metrics, r.evaluate
    levers = [a for a in shown if a["lever"]]
    return {
        "w": words(r),
        "actions": actions(r),
        "caveat": caveat(r),
        "campaign": campaign(r),
        "early": early(r),
        "tenure_rows": tenure_rows(r),
        "tenure": label(r.contract, r.contract.tenure) if r.contract.tenure else None,
        "tenure_unit": r.contract.words(r.contract.tenure).unit if r.contract.tenure else "",
        "associations": shown,
        "omitted": omitted,
        "levers": levers,
        "levers_declared": bool(r.contract.with_role("lever")),
        "fixed": fixed,
        "moving": moving,
        "groups": rule_groups(r),
        "caveats": caveats(r),
        "description": r.contract.description,
        "churn_rate": fmt.pct(m["churn_rate"]),
        "churn_ci": fmt.pct_ci(m["churn_rate_low"], m["churn_rate_high"]),
        "lift": fmt.times(e["top_decile_lift"]),
        # "ranks well" only where the riskiest tenth holds at least twice its share of leavers
        "ranks_well": bool(e["top_decile_lift"] >= 2),
        "recall": fmt.pct(e["recall"]),
        "precision": fmt.pct(e["precision"]),
        "test_rows": fmt.count(e.get("test_rows", 0)),
        "id": r.contract.id,
        "scored_path": r.scored_path,
        "campaign_path": r.campaign_path,
        "ds": appendix(r),
    }
