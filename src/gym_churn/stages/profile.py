"""profile: who churns, segment portraits, declared findings, every member scored, the report.

Every member gets an out-of-fold churn probability: the model spec train kept is
cross-validated over all members, so no member is scored by a model that saw its own label.

Reads  --members      preprocessed members
       --contract     the data contract (roles, words, findings)
       --assignments  segment id per member (cluster)
       --importance   permutation importance on the test split (evaluate)
       --summary      train summary (the model kept, the decision threshold)
       --evaluate-metrics, --cluster-metrics   for the report
       --evaluate-figures, --cluster-figures   folders the report links to
Writes --metrics      metrics/profile.json: churn rate, drivers, findings, portraits
       --segments     plot data: one row per segment with every feature's mean or share
       --scored       per-member table: member key, probability, risk decile, at-risk flag,
                      segment, then the member's columns
       --segment-names  segment id -> generated name, for scoring new exports
       --figures      folder: segments.png, distributions.png, correlations.png
       --report       the Markdown report (figures linked relative to it)
Params base.seed, profile.*, train.cv_folds
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sklearn.metrics import roc_auc_score

from gym_churn import plots
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import (
    load_contract,
    load_params,
    read_json,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
    write_table,
    write_text,
)
from gym_churn.models.selection import member_oof_scores, model_from_summary
from gym_churn.report import build_report
from gym_churn.segments import profiles as prof

log = logging.getLogger(__name__)

# The figures the report shows, by the option naming their folder.
REPORT_FIGURES = {
    "evaluate_figures": ("roc", "gain", "calibration", "importance"),
    "cluster_figures": ("k_scan", "dendrogram"),
    "figures": ("segments", "distributions", "correlations"),
}


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "members", "contract", "assignments", "importance", "summary",
        "evaluate_metrics", "cluster_metrics", "evaluate_figures", "cluster_figures", "metrics",
        "segments", "scored", "segment_names", "figures", "report",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    target, key, cfg, seed = contract.target.column, contract.key, params.profile, params.base.seed
    members = read_table(args.members)
    labels = read_table(args.assignments)["segment"].to_numpy()
    importance = read_table(args.importance)
    summary = read_json(args.summary)
    model = model_from_summary(summary, contract, seed)
    oof_scores, cv = member_oof_scores(members, model, contract, params.train.cv_folds, seed)
    oof = oof_scores["churn_probability"].to_numpy()
    log.info("%d members scored out of fold; CV ROC-AUC %.4f", len(oof), cv.roc_auc_mean)

    y = members[target]
    matrix = prof.profile_matrix(members, contract)
    drivers = prof.churn_drivers(members, contract)
    profiles = prof.segment_profiles(matrix, labels, y)
    portraits = prof.portraits(profiles, matrix, contract, cfg.portrait_traits)
    names = {p["id"]: p["name"] for p in portraits}
    low, high = prof.wilson(int(y.sum()), len(y))

    scored = members[[key]].assign(
        churn_probability=oof,
        risk_decile=prof.risk_deciles(oof),
        at_risk=(oof >= summary["threshold"]).astype(int),
        segment=labels,
        segment_name=[names[s] for s in labels],
    )
    scored = scored.join(members.drop(columns=[key]))
    result = {
        "churn_rate": float(y.mean()),
        "churn_rate_low": low,
        "churn_rate_high": high,
        "members": len(members),
        "scored_members_roc_auc": float(roc_auc_score(y, oof)),
        "at_risk_share": float(scored["at_risk"].mean()),
        "findings": prof.findings(members, contract, cfg.bootstrap, seed),
        "drivers": drivers,
        "importance": dict(zip(importance["feature"], importance["importance"], strict=True)),
        "segments": portraits,
    }

    # the heatmap shows the columns the segments were built on
    used = set(contract.segment_columns)
    shown = [c for c in matrix.columns if prof.parent_column(c, contract)[0] in used]
    z = prof.standardised_differences(profiles, matrix, shown)
    figures = Path(args.figures)
    save_figure(
        plots.segment_heatmap(
            z, [f"{p['id']}: {p['name']} ({p['churn_rate']:.0%} {contract.target.label})"
                for p in portraits]
        ),
        figures / "segments.png",
    )  # fmt: skip
    titles = {c: contract.words(c).label for c in contract.raw_features}
    save_figure(
        plots.distributions_by_churn(members, contract.raw_features, target, titles),
        figures / "distributions.png",
    )
    numbers = [c for c in contract.raw_features if contract.kind(c) != "categorical"]
    correlations = plots.correlation_heatmap(members, [*numbers, target])
    save_figure(correlations, figures / "correlations.png")
    write_plot_data(profiles.assign(name=[names[s] for s in profiles["segment"]]), args.segments)
    write_table(scored, args.scored)
    write_json({str(k): v for k, v in names.items()}, args.segment_names)
    write_json(result, args.metrics)
    report_dir = Path(args.report).parent
    figure_links = {
        name: os.path.relpath(Path(getattr(args, folder)) / f"{name}.png", report_dir)
        for folder, names in REPORT_FIGURES.items()
        for name in names
    }
    # from the metrics as written (rounded), so the report shows what the files say
    report = build_report(
        read_json(args.evaluate_metrics),
        read_json(args.cluster_metrics),
        read_json(args.metrics),
        summary,
        contract,
        figure_links,
    )
    write_text(report, args.report)
    log.info(
        "%d members profiled; out-of-fold ROC-AUC %.4f; segments: %s",
        len(members),
        result["scored_members_roc_auc"],
        "; ".join(f"{p['id']} {p['name']} {p['churn_rate']:.1%}" for p in portraits),
    )


if __name__ == "__main__":
    exit_with(main())
