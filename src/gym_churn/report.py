"""reports/report.md, built from the pipeline's metrics and the data contract's words only:
no number is typed by hand and no dataset's wording is written here."""

from __future__ import annotations

from typing import Any

from gym_churn.contract.spec import Contract

# A lever whose absence goes with at least this much more churn (and whose CI excludes "no
# difference") is named as worth testing.
GROW_RATIO = 1.2


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _ci(low: float, high: float, pct: bool = True) -> str:
    return f"{_pct(low)} to {_pct(high)}" if pct else f"{low:.2f} to {high:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def recommendations(profile: dict[str, Any], contract: Contract) -> list[str]:
    """Actions from the numbers: risky segments, and levers whose absence goes with more churn.

    Only features the contract calls levers are suggested, and only when the 95% CI of the
    churn ratio excludes 1; the ratio is a marginal association, to be tested with a
    hold-out group before anyone calls it an effect.
    """
    base = profile["churn_rate"]
    label = contract.target.label
    out = []
    risky = [s for s in profile["segments"] if s["churn_low"] > base]
    risky.sort(key=lambda s: s["size"] * s["churn_rate"], reverse=True)
    for seg in risky:
        expected = seg["size"] * seg["churn_rate"]
        out.append(
            f"**Segment {seg['id']} ({seg['name']})** has {_pct(seg['churn_rate'])} {label} "
            f"(95% CI {_ci(seg['churn_low'], seg['churn_high'])}) against {_pct(base)} overall: "
            f"about {expected:.0f} of its {seg['size']} members, "
            f"{expected / (base * profile['members']):.0%} of everyone who {label}."
        )
    levers = set(contract.with_role("lever"))
    flags = [
        (col, d) for col, d in profile["drivers"].items()
        if col in levers and d["kind"] == "binary" and d["ratio_low"] == d["ratio_low"]
        and d["ratio_low"] > 1 and d["ratio_without_vs_with"] >= GROW_RATIO
    ]  # fmt: skip
    flags.sort(key=lambda item: item[1]["ratio_without_vs_with"], reverse=True)
    for col, d in flags:
        words = contract.words(col)
        out.append(
            f"**Test growing '{words.label}'**: members without it {label} "
            f"{d['ratio_without_vs_with']:.2f}× as often (95% CI "
            f"{_ci(d['ratio_low'], d['ratio_high'], pct=False)}; {_pct(d['without']['churn_rate'])}"
            f" of {d['without']['n']} vs {_pct(d['with']['churn_rate'])} of {d['with']['n']}); "
            f"today {_pct(d['share'])} of members have it. This compares members as they are, "
            "not adjusted for anything else: offer it to a random part of the members and keep "
            "a hold-out group to measure what it changes."
        )
    return out


def _driver_tables(profile: dict[str, Any], contract: Contract) -> str:
    label = contract.target.label
    importance = profile["importance"]
    flag_rows, number_rows, level_blocks = [], [], []
    for col, d in profile["drivers"].items():
        words = contract.words(col)
        reliance = f"{importance[col]:.4f}" if col in importance else "–"
        name = f"{words.label} (`{col}`)"
        if d["kind"] == "binary":
            ratio = d["ratio_without_vs_with"]
            flag_rows.append([
                name, _pct(d["share"]),
                f"{_pct(d['with']['churn_rate'])} ({_ci(d['with']['low'], d['with']['high'])})",
                f"{_pct(d['without']['churn_rate'])} "
                f"({_ci(d['without']['low'], d['without']['high'])})",
                "–" if ratio != ratio
                else f"{ratio:.2f} ({_ci(d['ratio_low'], d['ratio_high'], pct=False)})",
                contract.role(col), reliance,
            ])  # fmt: skip
        elif d["kind"] == "levels":
            rows = [
                [str(lv["level"]), str(lv["n"]), _pct(lv["share"]), _pct(lv["churn_rate"]),
                 _ci(lv["low"], lv["high"])]
                for lv in d["levels"]
            ]  # fmt: skip
            level_blocks.append(
                f"**{name}** ({contract.role(col)}; model reliance {reliance}):\n\n"
                + _table(["value", "members", "share", label, "95% CI"], rows)
            )
        else:
            unit = f" ({words.unit})" if words.unit else ""
            number_rows.append([
                f"{name}{unit}", f"{d['mean_churned']:.2f}", f"{d['mean_retained']:.2f}",
                contract.role(col), reliance,
            ])  # fmt: skip
    parts = []
    if flag_rows:
        parts.append(
            "Yes/no traits (ratio = churn without the trait / with it):\n\n"
            + _table(
                [
                    "trait",
                    "share with",
                    f"{label}, with (95% CI)",
                    f"{label}, without (95% CI)",
                    "ratio (95% CI)",
                    "role",
                    "model reliance",
                ],
                flag_rows,
            )
        )
    parts.extend(level_blocks)
    if number_rows:
        parts.append(
            "Numbers (means):\n\n"
            + _table(
                [
                    "feature",
                    f"mean, {label}",
                    f"mean, {contract.target.negative_label}",
                    "role",
                    "model reliance",
                ],
                number_rows,
            )
        )
    return "\n\n".join(parts)


def build_report(
    evaluate: dict[str, Any],
    cluster: dict[str, Any],
    profile: dict[str, Any],
    summary: dict[str, Any],
    contract: Contract,
    figures: dict[str, str],
) -> str:
    """The whole report as Markdown. `figures` maps a figure key to its path from the report."""
    label = contract.target.label
    seg_rows = [
        [str(s["id"]), s["name"], str(s["size"]), _pct(s["share"]), _pct(s["churn_rate"]),
         _ci(s["churn_low"], s["churn_high"])]
        for s in profile["segments"]
    ]  # fmt: skip
    metric_rows = [
        [f"`{k}`", f"{evaluate[k]:.4f}"]
        for k in (
            "roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "brier", "log_loss",
            "ece", "top_decile_lift", "threshold", "cv_roc_auc_mean", "cv_roc_auc_std",
            "baseline_logreg_roc_auc",
        )
        if k in evaluate
    ]  # fmt: skip
    candidate_rows = [
        [c["model"], ", ".join(f"{k} {v}" for k, v in c["hyperparameters"].items()),
         f"{c['cv_roc_auc_mean']:.4f} ± {c['cv_roc_auc_std']:.4f}"]
        for c in summary["candidates"]
    ]  # fmt: skip
    findings = profile.get("findings", [])
    finding_rows = [
        [f["claim"],
         (_pct(f["value"]) if f["measure"] == "share"
          else f"{f['value']:+.1%}" if f["measure"] == "relative_change"
          else f"{f['value']:.2f}"),
         (_ci(f["low"], f["high"]) if f["measure"] in ("share", "relative_change")
          else _ci(f["low"], f["high"], pct=False)),
         str(f["n"])]
        for f in findings
    ]  # fmt: skip
    findings_block = (
        "Findings declared in the data contract, recomputed on this export:\n\n"
        + _table(["claim", "computed", "95% CI", "n"], finding_rows)
        if finding_rows
        else ""
    )
    portraits = "\n\n".join(
        f"**{s['id']}. {s['name']}** — {s['portrait']}" for s in profile["segments"]
    )
    recs = recommendations(profile, contract)
    rec_text = (
        "\n".join(f"{i}. {text}" for i, text in enumerate(recs, 1))
        or "No segment or lever stands out beyond its uncertainty."
    )
    img = {key: f"![{key}]({path})" for key, path in figures.items()}
    rate_low, rate_high = profile["churn_rate_low"], profile["churn_rate_high"]
    description = f"\n{contract.description}\n" if contract.description else ""

    return f"""# Member churn report: {contract.name}

*Generated by `dvc repro` from `metrics/*.json` and the data contract; do not edit by hand.*
{description}
## Summary

- {profile["members"]} members, {_pct(profile["churn_rate"])} of whom {label}
  (95% CI {_ci(rate_low, rate_high)}).
- The churn model ({summary["model"]}, chosen by cross-validation on the training members)
  ranks members with a test ROC-AUC of {evaluate["roc_auc"]:.3f} (1 = perfect ranking,
  0.5 = a coin; plain logistic regression on the raw columns:
  {evaluate["baseline_logreg_roc_auc"]:.3f}). At its threshold of {evaluate["threshold"]:.2f},
  chosen on out-of-fold training predictions, it catches {_pct(evaluate["recall"])} of the
  members who {label}, and {_pct(evaluate["precision"])} of those it flags did.
- Contacting the riskiest 10% of members reaches {evaluate["top_decile_lift"]:.2f}× as many
  of them as contacting 10% at random.
- {cluster["k"]} member segments ({cluster["algorithm"]}), with churn rates from
  {_pct(min(s["churn_rate"] for s in profile["segments"]))} to
  {_pct(max(s["churn_rate"] for s in profile["segments"]))}.
- Every member's out-of-fold churn probability, risk decile and segment are in the scored
  member table, keyed by `{contract.key}` (ROC-AUC {profile["scored_members_roc_auc"]:.3f}
  against actual churn); {_pct(profile["at_risk_share"])} of members are flagged at risk.

## Recommendations

{rec_text}

## Member portraits

{_table(["id", "name", "members", "share", "churn rate", "95% CI"], seg_rows)}

{portraits}

{img.get("segments", "")}

## Who churns

These compare members as they are ("marginal"): no comparison is adjusted for the others,
and none shows a cause. Model reliance is the drop in test ROC-AUC when the column alone is
shuffled; features made from it are shuffled on their own (see the importance figure).

{_driver_tables(profile, contract)}

{findings_block}

{img.get("distributions", "")}

{img.get("correlations", "")}

## Model

Candidates compared by {summary["cv_folds"]}-fold cross-validation on the training split
(train.model: {summary["model_setting"]}):

{_table(["family", "setting", "CV ROC-AUC"], candidate_rows)}

{_table(["metric", "value"], metric_rows)}

{img.get("roc", "")} {img.get("gain", "")}

{img.get("calibration", "")} {img.get("importance", "")}

## Choosing the segments

Silhouette {cluster["silhouette"]:.3f}, stability (mean adjusted Rand index over refits on
subsamples with other seeds) {cluster["stability_ari"]:.3f}.

{img.get("k_scan", "")}

{img.get("dendrogram", "")}
"""
