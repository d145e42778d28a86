"""reports/report.md, built from the pipeline's outputs and the data contract's words only: no
number is typed by hand and no dataset's wording is written here.

Marketers read the first sections (what the data shows, what to do, what to be careful about),
in the contract's words; the jargon waits in the last section, for data scientists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.scoring.campaign import optimal_row

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
    figures: dict[str, str]  # figure key -> path relative to the report
    scored_path: str
    campaign: dict[str, Any]  # metrics/campaign.json
    curve: pd.DataFrame  # plots/campaign/profit.csv
    economics: dict[str, Any]  # params' campaign section
    campaign_path: str
    backtest: dict[str, Any] = field(default_factory=dict)  # metrics/backtest.json
    campaign_details: dict[str, Any] = field(default_factory=dict)  # reports/campaign.json


def _out_of_time(r: ReportInputs) -> str:
    """A panel's out-of-time check in one paragraph (empty without a snapshot column)."""
    b, snapshot = r.backtest, r.contract.snapshot
    if snapshot is None:
        return ""
    if not b.get("backtest_months"):
        return (
            f"No out-of-time check: the export holds one labelled `{snapshot}`; it needs more "
            "months (two labelled snapshots or more: the latest is then the test split, and "
            "each recent month is scored by a model of the months before it).\n\n"
        )
    shown = (("roc_auc", "ROC-AUC", ".3f"), ("top_decile_lift", "top-decile lift", ".2f"),
             ("ece", "ECE", ".3f"))  # fmt: skip
    parts = [
        f"{words} {b[f'backtest_{key}_mean']:{fmt}} "
        f"(worst month {b[f'backtest_{key}_worst']:{fmt}})"
        for key, words, fmt in shown
        if f"backtest_{key}_mean" in b  # a figure no month has is left out
    ]
    return (
        f"Out of time: the test split is the latest labelled `{snapshot}`, every training row "
        f"is earlier. Backtest over the last {b['backtest_months']} labelled months, each "
        f"scored by the model refitted on the months before it: {'; '.join(parts)} (each "
        "month in the backtest plot).\n\n"
    )


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _ci(low: float, high: float, pct: bool = True) -> str:
    return f"{_pct(low)} to {_pct(high)}" if pct else f"{low:.2f} to {high:.2f}"


def _ratio(x: float, low: float, high: float) -> str:
    """A ratio with its CI, or a dash where it is undefined (nobody churned on one side)."""
    if pd.isna(x):
        return "–"
    return f"{x:.2f} ({_ci(low, high, pct=False)})"


def _times(x: float) -> str:
    return "–" if pd.isna(x) else f"{x:.2f}×"


def reversed_levers(r: ReportInputs) -> list[str]:
    """Levers whose high side goes with *more* churn after adjustment, with evidence (after
    the family-wise correction): they are not levers to grow."""
    out = []
    for _, row in r.drivers[r.drivers["role"] == "lever"].iterrows():
        if _evidence(row) and row["adjusted_ratio"] < 1:
            out.append(
                f"'{row['label']}' ({row['compared']}): after accounting for the rest, members "
                f"on the high side {r.contract.target.label} more, not less ("
                f"{_ratio(row['adjusted_ratio'], row['adjusted_low'], row['adjusted_high'])}; "
                f"{_familywise(r, row)})"
            )
    return out


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _excludes_one(row: pd.Series) -> bool:
    low, high = row["adjusted_low"], row["adjusted_high"]
    return bool(pd.notna(low) and pd.notna(high) and (low > 1 or high < 1))


def _evidence(row: pd.Series) -> bool:
    """A lever whose adjusted association survives Holm's correction over the levers tested
    (the drivers stage's `lever_evidence`)."""
    return bool(row["lever_evidence"])


def _familywise(r: ReportInputs, row: pd.Series) -> str:
    """A lever's family-wise interval in words: '98.75% CI 1.14 to 1.39, corrected for
    testing 4 levers'."""
    m = r.drivers_metrics
    return (
        f"{_confidence(m['familywise_confidence'])} CI "
        f"{_ci(row['familywise_low'], row['familywise_high'], pct=False)}, corrected for testing "
        f"{m['levers_tested']} levers"
    )


def _confidence(level: float) -> str:
    """0.9875 -> '98.75%'."""
    return f"{100 * level:.4g}%"


def _not_estimated(c: Contract, row: pd.Series) -> str:
    """Why a row has no adjusted ratio, in the contract's words."""
    if isinstance(row["separated_from"], str) and row["separated_from"]:
        return f"cannot be separated from '{c.words(row['separated_from']).label}'"
    return str(row["status"]).removeprefix("not estimated: ")


def _words_list(contract: Contract, columns: list[str]) -> str:
    return ", ".join(f"'{contract.words(c).label}'" for c in columns)


def early_lead(r: ReportInputs) -> str | None:
    """The early-tenure finding, when early months hold most churners."""
    e, c = r.early, r.contract
    if not c.tenure or not (e["share"] >= EARLY_LEAD_SHARE):
        return None
    words = c.words(c.tenure)
    unit = words.unit or "months"
    t = r.tenure
    first = ", ".join(
        f"{_pct(row.churn_rate)} at {int(row.tenure)}" for row in t.head(6).itertuples()
    )
    later = t[t["tenure"] >= 6]
    after = (f"; from {unit} 6 on it stays at or below {_pct(later['churn_rate'].max())}"
             if len(later) else "")  # fmt: skip
    return (
        f"**Most members who leave do so early.** {_pct(e['share'])} of the {e['churned']} "
        f"members who {c.target.label} (95% CI {_ci(e['low'], e['high'])}; "
        f"{e['churned_early']} members) had a {words.label} below {e['early_months']} "
        f"{words.unit_for(e['early_months']) or unit}, while {_pct(e['members_share'])} of "
        f"all {e['members']:,} members are that early. "
        f"The monthly churn rate by {words.label} was {first} {unit}{after} (one snapshot "
        f"of members by {words.label}, not a group followed over time)."
    )


def attribute_kinds(r: ReportInputs) -> tuple[list[str], dict[str, list[str]]]:
    """The contract's attributes split in two: fixed ones, and those a lever moves (the
    contract ties them through an engineered feature, as months left on a contract is contract
    length minus months used: a renewal resets it), each with the levers that move it."""
    c = r.contract
    levers = set(c.with_role("lever"))
    tied = r.drivers.set_index("feature").get("not_adjusted_for")
    fixed, moving = [], {}
    for col in c.with_role("attribute"):
        cell = tied.get(col) if tied is not None else None
        movers = [x for x in str(cell).split(" + ") if x in levers] if pd.notna(cell) else []
        if movers:
            moving[col] = movers
        else:
            fixed.append(col)
    return fixed, moving


def recommendations(r: ReportInputs) -> tuple[list[str], list[str]]:
    """(recommended actions, levers left out and why). Only levers with evidence after Holm's
    correction over the levers tested (drivers.csv's lever_evidence) are named; attributes
    never are; targeting is by risk."""
    c, label = r.contract, r.contract.target.label
    out = []
    if early_lead(r):
        e = r.early
        out.append(
            f"**Put retention effort into the first {e['early_months']} "
            f"{c.words(c.tenure).unit_for(e['early_months']) or 'months'} (onboarding).** "
            "That is where "
            f"{_pct(e['share'])} of the members who {label} left. Test it: give an onboarding "
            "programme to a random half of new members, keep the other half as a hold-out "
            "group, and compare their churn after those months."
        )
    levers = r.drivers[r.drivers["role"] == "lever"]
    skipped = []
    for _, row in levers.sort_values("adjusted_ratio", ascending=False).iterrows():
        name = f"'{row['label']}'"
        if pd.isna(row["adjusted_ratio"]):
            # what can be shown is the comparison as members are (and churn by value below)
            skipped.append(
                f"{name}: {_times(row['marginal_ratio'])} as members are ({row['compared']}); "
                f"after accounting for the rest it {_not_estimated(c, row)}, so no adjusted "
                "figure is given"
            )
        elif _evidence(row) and row["adjusted_ratio"] > 1:
            out.append(
                f"**Test {name} ({row['compared']}).** After accounting for the other levers, "
                f"fixed traits and tenure, members on the low side {label} "
                f"{row['adjusted_ratio']:.2f}× as often as members on the high side (95% CI "
                f"{_ci(row['adjusted_low'], row['adjusted_high'], pct=False)}; "
                f"members as they are: {row['marginal_ratio']:.2f}×); it holds after the "
                f"correction for testing several levers ({_familywise(r, row)}). Members "
                "choose it themselves, so those who do may differ in ways no column records "
                "(motivation, say), and no adjustment removes that. This is an association "
                "in this data, not a proven effect: move a random part of the members on the "
                "low side toward the high side, keep a hold-out group, and compare their churn."
            )
        elif not _evidence(row):
            corrected = (
                f"; its 95% CI excludes 1, but not after the correction ({_familywise(r, row)})"
                if _excludes_one(row)
                else ""
            )
            skipped.append(
                f"{name}: {_times(row['marginal_ratio'])} as members are, but "
                f"{_times(row['adjusted_ratio'])} (95% CI "
                f"{_ci(row['adjusted_low'], row['adjusted_high'], pct=False)}) after accounting "
                f"for the rest{corrected}"
            )
    out.append(
        f"**Target members by their risk, not by segment.** The scored member table "
        f"(`{r.scored_path}`) ranks every member; contacting the riskiest 10% reaches "
        f"{r.evaluate['top_decile_lift']:.2f}× as many of the members who {label} as "
        "contacting 10% at random (measured on held-out members)."
    )
    return out, skipped


def _at_ceiling(e: dict[str, Any]) -> str:
    """Said when the top decile's lift is the most possible: every member in it churned."""
    ceiling = e.get("top_decile_lift_max")
    if ceiling is None or e["top_decile_lift"] < ceiling - 1e-9:
        return ""
    return (
        " (the most possible: every one of them left; on real data a lift at its ceiling "
        "suggests a column that gives the outcome away)"
    )


def _campaign_section(r: ReportInputs) -> str:
    m, label = _campaign_figures(r), r.contract.target.label
    eco = {**r.economics, **{k: m[k] for k in RATE_KEYS if k in m}}  # the rates the list used
    n = int(r.curve["contacted"].iloc[-1])
    share, profit = m["best_contact_share"], m["best_expected_profit"]
    band = []
    for rate, column in ((eco["success_rate_low"], "profit_low"),
                         (eco["success_rate_high"], "profit_high")):  # fmt: skip
        row = optimal_row(r.curve, column)
        s, p = float(row["contact_share"]), float(row[column])
        band.append(
            f"at {rate:.0%} nothing is worth contacting (no share returns more than it costs)"
            if s == 0
            else f"at {rate:.0%} the best share is {s:.0%} (expected {p:,.0f})"
        )
    if share == 0:
        best = (
            f"at {eco['success_rate']:.0%} success no share of members returns more than the "
            "offers cost, so the list is empty"
        )
    else:
        best = (
            f"contacting the riskiest {share:.0%} of members ({round(share * n):,} of {n:,}) "
            f"is expected to return {profit:,.0f} more than the offers cost, the most of any "
            "share"
        )
    never_more = bool((r.curve["random"] <= r.curve["profit"] + 1e-9).all())
    random = (
        "Contacting the same number of members at random never returns more (dashed line)."
        if never_more
        else "At some shares, contacting members at random returns more (dashed line): the "
        "score does not rank well enough there."
    )
    if _replay(r):
        return f"""{_campaign_replay(r, eco, best, band, random)}

{r.figures.get("profit", "")}

{_campaign_loop(r)}"""
    return f"""Each offer costs {eco["offer_cost"]:g}, a member who stays is worth
{eco["member_value"]:g}, and the offer is {_success_words(m, eco["success_rate"])} of the
contacted members who would have {label}. Then {best}; {band[0]}, and {band[1]}. {random}

{r.figures.get("profit", "")}

The budget of {eco["budget"]:,.0f} pays for {m["budget_contact_share"]:.0%} of members. The
campaign list, `{r.campaign_path}`, holds the {m["listed"]:,} riskiest, each with their churn
probability, expected value, the reasons behind their risk and the one change the club could
offer that lowers it most. **{m["held_out"]:,} of them, picked at random, are marked
`holdout`: do not contact them.** Next month, compare churn among contacted and held-out
members: the difference, with its 95% CI, is what the offer did, and it replaces the assumed
success rate. Until then the profit figures are only as good as that assumption.

{_campaign_loop(r)}"""


def _audit_section(r: ReportInputs) -> str:
    c, a, label = r.contract, r.audit, r.contract.target.label
    parts = []
    for d in a["flagged_detail"]:
        feature = d["feature"]
        words = c.words(feature) if feature in c.features or feature in c.engineered else None
        name = f"'{words.label if words else feature}'"
        sides = []
        if d["low_tail_members"]:
            sides.append(f"at or below {d['low_tail_upto']:.3g} ({d['low_tail_members']} "
                         "members)")  # fmt: skip
        if d["high_tail_members"]:
            sides.append(f"at or above {d['high_tail_from']:.3g} ({d['high_tail_members']} "
                         "members)")  # fmt: skip
        parts.append(
            f"- **{name} behaves like the outcome itself.** In the training members, everyone "
            f"with a value {' or '.join(sides)} had the same outcome. Real behaviour is rarely "
            "that certain; a column recorded after, or because of, a member leaving is. Ask "
            "when it is measured relative to the month a member leaves."
        )
    if a["flagged_features"]:
        parts.append(
            "- What that does to the headline figures: with "
            f"{_words_list(c, a['flagged_features'])} the model's cross-validated ROC-AUC is "
            f"{a['cv_roc_auc']:.3f}; without them "
            f"{a['cv_roc_auc_without_flagged']:.3f}. If the column is recorded after the fact, "
            "the lower figure is what to expect on a new month."
        )
        excluded = r.summary.get("excluded_features", [])
        e = r.evaluate
        if excluded:
            parts.append(
                f"- **The list, its reasons and its levers come from a model without "
                f"{_words_list(c, excluded)}**, so no action rests on a column that may be "
                f"recorded after a member leaves. On the test members it ranks with a ROC-AUC "
                f"of {e['listing_model_roc_auc']:.2f}, against {e['roc_auc']:.2f} for the model "
                "with every column; the headline metrics keep the model with every column, so "
                "they compare across changes."
            )
        else:
            parts.append(
                "- The contract says the flagged column(s) are recorded before the outcome "
                "(`known_before_outcome`), so the list's model uses them."
            )
    for an in a["anomalies"]:
        if an["rows"]:
            parts.append(
                f"- **{an['rows']} rows ({_pct(an['share'])}) break "
                f"'{an['note'] or an['rule']}'** (`{an['rule']}`). They are kept and analysed "
                "as they are; check them at the source."
            )
    if not parts:
        parts.append(f"- Nothing in the data looks too good to be true for who {label}.")
    if c.description:
        parts.append(f"- About this data: {c.description}")
    return "\n".join(parts)


def _tenure_section(r: ReportInputs) -> str:
    c = r.contract
    if not c.tenure or r.tenure.empty:
        return "The data contract names no tenure column (`role: tenure`)."
    words = c.words(c.tenure)
    shown = r.tenure[r.tenure["cumulative_share_of_churners"].shift(fill_value=0) < 0.99]
    rows = [
        [str(int(t.tenure)), str(int(t.members)), _pct(t.churn_rate), _ci(t.low, t.high),
         _pct(t.cumulative_share_of_churners)]
        for t in shown.itertuples()
    ]  # fmt: skip
    unit = f" ({words.unit})" if words.unit else ""
    return (
        f"Members of this one export by {words.label}: each row is a different group of "
        "members, not one group followed over time.\n\n"
        + _table(
            [f"{words.label}{unit}", "members", "churn rate", "95% CI", "churners so far"], rows
        )
        + f"\n\n{r.figures.get('tenure', '')}"
    )


def _adjustment_sets(r: ReportInputs) -> str:
    """What every row is adjusted for, and what not and why, in words (see
    analysis.drivers.adjustment_set)."""
    c, d = r.contract, r.drivers
    fixed = [col for col in c.with_role("lever", "attribute", "tenure")
             if col not in r.audit["flagged_features"]]  # fmt: skip
    lines = [
        f"- Every row is adjusted for the levers, fixed traits and tenure ({_words_list(c, fixed)})"
        ", other than itself."
    ]
    behaviour = c.with_role("behaviour")
    if behaviour:
        lines.append(
            f"- Never for what members do after joining ({_words_list(c, behaviour)}): a lever "
            "may work through it, and it may follow from the decision to leave. Such a column's "
            "own row is adjusted like the others."
        )
    if r.audit["flagged_features"]:
        lines.append(
            f"- {_words_list(c, r.audit['flagged_features'])} behave like the outcome (see "
            '"Before you trust the numbers"): neither estimated nor adjusted for.'
        )
    pairs: dict[frozenset[str], str] = {}
    tied = d["not_adjusted_for"].notna() & d["not_adjusted_for"].astype(str).ne("")
    # a flagged column is neither estimated nor adjusted for: its ties change nothing
    tied &= ~d["feature"].isin(r.audit["flagged_features"])
    for _, row in d[tied].iterrows():
        for other in str(row["not_adjusted_for"]).split(" + "):
            if other in r.audit["flagged_features"]:
                continue
            tie = str(row["tied_by"]).split(" + ")[0]
            pairs.setdefault(frozenset((row["feature"], other)), tie)
    for pair, made in pairs.items():
        one, other = sorted(pair, key=c.raw_features.index)
        lines.append(
            f"- '{c.words(one).label}' and '{c.words(other).label}' are not adjusted for each "
            f"other: the contract makes '{c.words(made).label}' from both, so one may be computed "
            "from the other, and holding it fixed would hold fixed part of the comparison "
            "itself."
        )
    return "\n".join(lines)


def _adjusted_cell(c: Contract, d: pd.Series) -> str:
    if pd.isna(d["adjusted_ratio"]):
        return f"not estimated: {_not_estimated(c, d)}"
    star = " *" if _evidence(d) else ""
    return _ratio(d["adjusted_ratio"], d["adjusted_low"], d["adjusted_high"]) + star


def _drivers_section(r: ReportInputs) -> str:
    c, label, m = r.contract, r.contract.target.label, r.drivers_metrics
    rows = []
    for _, d in r.drivers.iterrows():
        rows.append([
            str(d["label"]), str(d["role"]), str(d["compared"]),
            f"{int(d['n_low']):,} / {int(d['n_high']):,}",
            _ratio(d["marginal_ratio"], d["marginal_low"], d["marginal_high"]),
            _adjusted_cell(c, d),
            f"{d['reliance']:.3f}",
        ])  # fmt: skip
    set_lines = _adjustment_sets(r)
    tested = m["levers_tested"]
    star = (
        f"* marks a lever whose association holds after correcting for testing {tested} levers "
        f"(Holm's method, family-wise error {(1 - m['familywise_confidence']) * tested:.0%}; "
        f"the recommendations give {_confidence(m['familywise_confidence'])} intervals, "
        "Bonferroni's). "
        if tested
        else ""
    )
    level_blocks = []
    for _, group in r.levels.groupby("feature", sort=False):
        lrows = [
            [str(g.level), str(int(g.n)), _pct(g.share), _pct(g.churn_rate), _ci(g.low, g.high)]
            for g in group.itertuples()
        ]
        level_blocks.append(
            f"**{group['label'].iloc[0]}**:\n\n"
            + _table(["value", "members", "share", "churn rate", "95% CI"], lrows)
        )
    return (
        "Each row compares two groups of members, its low and its high side (**compared**: "
        "without vs with a trait, first vs last value, riskiest vs safest level, or a number's "
        "members at or below its lower quartile vs at or above its upper one; with many equal "
        "values a side holds more than a quarter, so the members on each side are given). "
        "Each ratio is churn on the low side divided by churn on the high side. **As members "
        "are**: the two sides as they are. **After accounting for the rest**: the same two "
        "sides, every member's churn predicted as if on the low side and as if on the high "
        "side, everything else as it is (standardisation with a logistic regression), so the "
        "only difference between the two columns is the adjustment, listed below the table. "
        "Where one side's members (almost) never share a value of an adjuster with the other "
        "side's, the data cannot separate the two and no adjusted figure is given. "
        f"{star}Members choose their levers: those who take one may differ in ways no column "
        "records (motivation, say), which no adjustment removes. **Model reliance**: how much "
        "the churn model loses when the feature (with what is made from it) is scrambled. "
        f"None of these shows that a trait makes members leave; they are associations with "
        f"who {label}.\n\n"
        + _table(
            [
                "feature",
                "role",
                "compared",
                "members (low / high)",
                "as members are (95% CI)",
                "after accounting for the rest (95% CI)",
                "model reliance",
            ],
            rows,
        )
        + f"\n\n{set_lines}\n\n"
        + "\n\n".join(level_blocks)
    )


def _segments_section(r: ReportInputs) -> str:
    label = r.contract.target.label
    rows = [
        [str(t.id), t.rule, f"{t.members:,}",
         f"{_pct(t.churn_rate)} ({_ci(t.low, t.high)}; n = {t.held_out_members:,})"
         if t.held_out_members else "none of the held-out members",
         _pct(t.share_of_churners)]
        for t in r.rules.itertuples()
    ]  # fmt: skip
    seg_rows = [
        [str(s["id"]), s["name"], str(s["size"]), _pct(s["share"]),
         f"{_pct(s['churn_rate'])} ({_ci(s['churn_low'], s['churn_high'])})"]
        for s in r.portraits["portraits"]
    ]  # fmt: skip
    text = "\n\n".join(
        f"**{s['id']}. {s['name']}** — {s['portrait']}" for s in r.portraits["portraits"]
    )
    p = r.profile
    return f"""### Rule segments: who {label}, in rules

A small decision tree on the levers, fixed attributes and tenure (not what members do
afterwards, and not the columns flagged above) splits the training members into groups by
churn. Each rule's churn rate is measured on the held-out members the tree did not see (n
of them); "members" counts everyone the rule covers. Each rule can be checked in the member
table.

{
        _table(
            [
                "id",
                "rule",
                "members",
                "churn rate, held-out members (95% CI)",
                f"share of all who {label}",
            ],
            rows,
        )
    }

### Portraits: who the members are

{r.cluster["k"]} groups of similar members (k-means on the contract's segment columns),
described by what sets each apart. They describe members; they were not built around churn,
and tell less about it than the rules above (how much each tells about churn on held-out
members, 0 = nothing, 1 = everything: rules {p["rule_nmi_with_churn"]:.2f}, portraits
{p["kmeans_nmi_with_churn"]:.2f}). Do not use them to pick whom to contact.

{_table(["id", "name", "members", "share", "churn rate (95% CI)"], seg_rows)}

{text}

{r.figures.get("segments", "")}"""


def _finding_ci(f: dict[str, Any]) -> str:
    """A finding's 95% CI, or why none is shown: a bootstrap interval of a median of whole
    numbers is often one value (29 to 29), which is no interval."""
    if "low" not in f or "high" not in f:  # left out by the profile stage: undefined here
        return "none"
    if f["measure"] in ("share", "relative_change"):
        return _ci(f["low"], f["high"])
    if f["low"] == f["high"]:
        return "none: every resample gives the same value"
    return _ci(f["low"], f["high"], pct=False)


def _finding_value(f: dict[str, Any]) -> str:
    if "value" not in f:
        return f.get("why", "not defined on this export")
    if f["measure"] == "share":
        return _pct(f["value"])
    if f["measure"] == "relative_change":
        return f"{f['value']:+.1%}"
    return f"{f['value']:,.0f}" if float(f["value"]).is_integer() else f"{f['value']:,.2f}"


def _findings_section(r: ReportInputs) -> str:
    rows = [
        [f["claim"], _finding_value(f), _finding_ci(f), f"{f['n']:,}"]
        for f in r.portraits.get("findings", [])
    ]
    if not rows:
        return ""
    return (
        "## Declared findings, re-checked\n\nClaims the data contract asks to re-check on "
        "every export (members as they are, not adjusted):\n\n"
        + _table(["claim", "computed", "95% CI", "n"], rows)
    )


METRIC_WORDS = {
    "roc_auc": "how well the score ranks churners above others (0.5 coin, 1 perfect)",
    "pr_auc": "average precision over all thresholds",
    "f1": "balance of precision and recall at the threshold",
    "precision": "share of flagged members who churned",
    "recall": "share of churners flagged",
    "accuracy": "share of members classified right at the threshold",
    "brier": "mean squared error of the probabilities (lower is better)",
    "log_loss": "penalty for confident wrong probabilities (lower is better)",
    "ece": "average gap between predicted and observed churn rates (calibration)",
    "top_decile_lift": "churners among the riskiest 10% vs 10% at random",
    "threshold": "probability at or above which a member is flagged at risk",
    "cv_roc_auc_mean": "ROC-AUC by cross-validation on the training split",
    "cv_roc_auc_std": "its spread over folds",
    "baseline_logreg_roc_auc": "plain logistic regression on the raw columns, same split",
}


def _data_science_section(r: ReportInputs) -> str:
    e, s, cl = r.evaluate, r.summary, r.cluster
    # figures a stage leaves out where they are undefined (strict JSON has no NaN)
    best = r.audit.get("max_single_feature_roc_auc")
    best_single = f"; best single-feature ROC-AUC {best:.3f}" if best is not None else ""
    silhouette = f"silhouette {cl['silhouette']:.3f}, " if "silhouette" in cl else ""
    metric_rows = [[f"`{k}`", f"{e[k]:.4f}", words] for k, words in METRIC_WORDS.items() if k in e]
    cand_rows = [
        [c["model"], ", ".join(f"{k} {v}" for k, v in c["hyperparameters"].items()),
         f"{c['cv_roc_auc_mean']:.4f} ± {c['cv_roc_auc_std']:.4f}"]
        for c in s["candidates"]
    ]  # fmt: skip
    img = r.figures
    return f"""## For data scientists

Model: {s["model"]} (train.model: {s["model_setting"]}), kept by {s["cv_folds"]}-fold
cross-validated ROC-AUC on the training split among:

{_table(["family", "setting", "CV ROC-AUC"], cand_rows)}

Test split ({e.get("test_rows", "?")} members, never used to choose anything):

{_table(["metric", "value", "meaning"], metric_rows)}

{_out_of_time(r)}The member table's probabilities are out of fold (ROC-AUC
{r.score["scored_members_roc_auc"]:.3f} against actual churn; {_pct(r.score["at_risk_share"])}
flagged at risk). Adjusted ratios: g-computation (standardisation over every member on either
side) with a ridge logistic regression (cubic splines for numbers) fit by Newton's method,
delta-method 95% CIs from its covariance; overlap checked per adjuster's strata; levers judged
by Holm's correction over the levers tested. Model reliance: grouped permutation
importance, rise in test log loss. Audit: a feature is flagged when its values make the rarer
outcome certain for at least the params' share of training members{best_single}. Reasons:
exact Shapley values of the trained model (shap's tree-path-dependent TreeExplainer for trees,
the closed form for logistic regression; a calibrated model's folds each explained so and
carried through their calibrator), summed over a raw column and the features made
from it, turned from log-odds into percentage points by a two-player Shapley split between
the raising and the lowering contributions, so they add up to the member's probability minus
the base's. The suggested lever: the change of one `lever` column, to a value the training
base holds, that lowers the model's probability most. Portraits: {silhouette}stability (mean
adjusted Rand index over refits on subsamples) {cl["stability_ari"]:.3f}.

{img.get("roc", "")} {img.get("gain", "")}

{img.get("calibration", "")} {img.get("importance", "")}

{img.get("k_scan", "")}

{img.get("dendrogram", "")}

{img.get("distributions", "")}

{img.get("correlations", "")}
"""


def build_report(r: ReportInputs) -> str:
    """The whole report as Markdown."""
    c, e, label = r.contract, r.evaluate, r.contract.target.label
    m = r.drivers_metrics
    lead = early_lead(r)
    recs, skipped = recommendations(r)
    rec_text = "\n".join(f"{i}. {text}" for i, text in enumerate(recs, 1))
    if skipped:
        rec_text += "\n\nNot recommended: " + "; ".join(skipped) + "."
    reverse = reversed_levers(r)
    if reverse:
        rec_text += "\n\nGoes with more churn, not less: " + "; ".join(reverse) + "."
    fixed, moving = attribute_kinds(r)
    attributes = _words_list(c, fixed)
    moves = "".join(
        f" {c.words(col).label.capitalize()} is not fixed: it moves with "
        f"{_words_list(c, levers)}, so it is described, never recommended on its own."
        for col, levers in moving.items()
    )
    n = int(e.get("test_rows", 0))
    summary = [
        f"- {_pct(m['churn_rate'])} of members {label} (95% CI "
        f"{_ci(m['churn_rate_low'], m['churn_rate_high'])}).",
        f"- The churn score ranks members well: on {n} held-out members, the riskiest 10% hold "
        f"{e['top_decile_lift']:.2f}× the churn of 10% picked at random{_at_ceiling(e)}, and "
        "at the chosen "
        f"threshold it finds {_pct(e['recall'])} of those who {label}, with "
        f"{_pct(e['precision'])} of the members it flags being right.",
    ]
    if r.audit["flagged_features"]:
        summary.append(
            f"- Read the score with care: it leans on "
            f"{_words_list(c, r.audit['flagged_features'])}, which look too much like the "
            'outcome itself (see "Before you trust the numbers").'
        )
    summary.append(
        f"- Every member's churn probability, risk decile and segment: `{r.scored_path}`, "
        f"one row per member keyed by `{c.key}`; at-risk members also get the reasons behind "
        "their risk (in percentage points of churn probability) and a suggested lever. "
        + _list_pointer(r)
    )
    return f"""# Member churn report: {c.name}

*Generated by `dvc repro` from the pipeline's outputs and the data contract; do not edit by
hand.*

{lead + chr(10) + chr(10) if lead else ""}{chr(10).join(summary)}

## What to do

{rec_text}

Fixed traits ({attributes or "none declared"}) are never recommended: a club cannot change
them.{moves}

## {_campaign_title(r)}

{_campaign_section(r)}

## Before you trust the numbers

{_audit_section(r)}

## When members leave: churn by tenure

{_tenure_section(r)}

## What goes with churn

{_drivers_section(r)}

## Segments

{_segments_section(r)}

{_findings_section(r)}

{_data_science_section(r)}"""


# ---------------------------------------------------------------- campaign: replay and the
# measured effect (issue 24). Reads metrics/campaign.json and reports/campaign.json: mode,
# replay_*, success_rate_source, success_rate*, measured_*, held_out, holdout_power.


def _campaign_figures(r: ReportInputs) -> dict[str, Any]:
    """The campaign stage's headline metrics and its other figures, as one mapping."""
    return {**r.campaign_details, **r.campaign}


def _replay(r: ReportInputs) -> bool:
    return r.campaign_details.get("mode") == "replay"


RATE_KEYS = ("success_rate", "success_rate_low", "success_rate_high")


def _campaign_title(r: ReportInputs) -> str:
    if _replay(r):
        return "Whom the campaign would have contacted: a replay on the test members"
    return "Whom to contact this month"


def _list_pointer(r: ReportInputs) -> str:
    if _replay(r):
        return (
            "Every member's outcome is known, so there is no one to contact now; "
            f"`{r.campaign_path}` replays the list on the test members (`mode` replay)."
        )
    return f"This month's contact list: `{r.campaign_path}`."


def _success_words(m: dict[str, Any], rate: float) -> str:
    if m.get("success_rate_source"):
        return (
            f"measured by the last campaign to keep {rate:.0%} (95% CI "
            f"{m['success_rate_low']:.0%} to {m['success_rate_high']:.0%})"
        )
    return f"assumed to keep {rate:.0%}"


def _campaign_replay(
    r: ReportInputs, eco: dict[str, Any], best: str, band: list[str], random: str
) -> str:
    m, label = _campaign_figures(r), r.contract.target.label
    listed, unlisted = m["replay_listed"], m["replay_unlisted"]
    rates = [
        f"{m[f'replay_{g}_churned']:,} of {m[f'replay_{g}']:,} {g} members "
        f"({_pct(m[f'replay_{g}_churn_rate'])}, 95% CI "
        f"{_ci(m[f'replay_{g}_churn_low'], m[f'replay_{g}_churn_high'])})"
        for g in ("listed", "unlisted")
        if m.get(f"replay_{g}")
    ]
    outcome = " and ".join(rates) if rates else "no member"
    return f"""Every member in this export has a known outcome, so this is not a list to send:
it is a **replay**. The model, trained without the {listed + unlisted:,} test members, ranks
them as the campaign would have at the start of their month, with the same economics: each
offer costs {eco["offer_cost"]:g}, a member who stays is worth {eco["member_value"]:g}, and the
offer is {_success_words(m, eco["success_rate"])} of the contacted members who would have
{label}. Then {best}; {band[0]}, and {band[1]}. {random}

The replay, `{r.campaign_path}`, lists {listed:,} of them ({m["held_out"]:,} marked as the
hold-out would have been). How many then {label}: {outcome}."""


def _campaign_loop(r: ReportInputs) -> str:
    m, eco, label = _campaign_figures(r), r.economics, r.contract.target.label
    power = m.get("holdout_power")
    parts = []
    if power is not None and m.get("listed"):
        parts.append(
            f"The hold-out ({m['held_out']:,} of {m['listed']:,}) is sized to detect an offer "
            f"that lowers churn by {eco['min_effect_points']:g} percentage points: it would "
            f"show such an effect (a 95% CI above 0) with {power:.0%} probability"
            + (
                f", short of the {eco['power']:.0%} aimed at, the most this list allows "
                f"with at most {eco['holdout_max_share']:.0%} of it held out."
                if power < eco["power"] - 1e-9
                else "."
            )
        )
    if "measured_kept_points" in m:
        kept = (
            f"The last campaign's list (`{m.get('measured_list', '')}`), read against this "
            f"export: {m['measured_held_out']:,} "
            f"held-out and {m['measured_contacted']:,} contacted members; the offer kept "
            f"{m['measured_kept_points']:.1f} percentage points of churn (95% CI "
            f"{m['measured_kept_points_low']:.1f} to {m['measured_kept_points_high']:.1f})"
        )
        if "measured_success_rate" in m:
            kept += (
                f", a success rate of {m['measured_success_rate']:.0%} (95% CI "
                f"{m['measured_success_rate_low']:.0%} to "
                f"{m['measured_success_rate_high']:.0%}) of those who would have {label}"
            )
        kept += (
            ". Its CI excludes 0, so this list uses the measured rate and its CI in place of "
            "the assumed ones."
            if m.get("success_rate_source")
            else ". Its CI includes 0 (or no held-out member left): the effect is not shown "
            "yet, so this list keeps the assumed success rate."
        )
        parts.append(kept)
    return " ".join(parts)
