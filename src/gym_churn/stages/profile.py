"""profile: churn drivers, segment portraits, every member scored, and the report.

Every member gets an out-of-fold churn probability: the train stage's model spec is
cross-validated over all members, so no member is scored by a model that saw its own label.

Reads  --members      preprocessed members
       --assignments  segment id per member (cluster)
       --importance   permutation importance on the test split (evaluate)
       --summary      train summary (the decision threshold)
       --evaluate-metrics, --cluster-metrics   for the report
       --evaluate-figures, --cluster-figures   folders the report links to
Writes --metrics      metrics/profile.json: drivers, study findings, importance, portraits
       --segments     plot data: one row per segment with every feature's mean or share
       --scored       per-member table: probability, risk decile, at-risk flag, segment
       --segment-names  segment id -> generated name, for scoring new exports
       --figures      folder: segments.png, distributions.png, correlations.png
       --report       the Markdown report, from the metrics only (figures linked relative to it)
Params base.seed, base.target, profile.*, and the train model spec (train.model,
       cv_folds, calibration, calibration_folds and each family's hyperparameters)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sklearn.metrics import roc_auc_score

from gym_churn import plots
from gym_churn import profiling as prof
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.columns import FEATURES, ID_COLUMN
from gym_churn.io import (
    load_params,
    read_json,
    read_table,
    save_figure,
    write_bytes,
    write_json,
    write_plot_data,
    write_table,
)
from gym_churn.modeling import member_oof_scores
from gym_churn.report import build_report

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
        __doc__, "members", "assignments", "importance", "summary", "evaluate_metrics",
        "cluster_metrics", "evaluate_figures", "cluster_figures", "metrics", "segments",
        "scored", "segment_names", "figures", "report",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    target, cfg = params.base.target, params.profile
    members = read_table(args.members)
    labels = read_table(args.assignments)["segment"].to_numpy()
    importance = read_table(args.importance)
    threshold = read_json(args.summary)["threshold"]
    oof_scores, cv = member_oof_scores(members, params.train, target, params.base.seed)
    oof = oof_scores["churn_probability"].to_numpy()
    log.info("%d members scored out of fold; CV ROC-AUC %.4f", len(oof), cv.roc_auc_mean)

    columns = [c for c in members.columns if c not in (ID_COLUMN, target)]
    drivers = prof.churn_drivers(members, target)
    visit_drop = prof.churned_visit_drop(members, target)
    profiles = prof.segment_profiles(members, labels, columns, target)
    portraits = prof.portraits(profiles, members, target, cfg.portrait_traits)
    names = {p["id"]: p["name"] for p in portraits}

    scored = members[[ID_COLUMN]].assign(
        churn_probability=oof,
        risk_decile=prof.risk_deciles(oof),
        at_risk=(oof >= threshold).astype(int),
        segment=labels,
        segment_name=[names[s] for s in labels],
    )
    scored = scored.join(members.drop(columns=[ID_COLUMN]))
    result = {
        "churn_rate": float(members[target].mean()),
        "members": len(members),
        "scored_members_roc_auc": float(roc_auc_score(members[target], oof)),
        "at_risk_share": float(scored["at_risk"].mean()),
        "findings": prof.study_findings(drivers, members, visit_drop, cfg.common_age_band),
        "churned_visit_drop": visit_drop,
        "drivers": drivers,
        "importance": dict(zip(importance["feature"], importance["importance"], strict=True)),
        "segments": portraits,
    }

    z = prof.standardised_differences(profiles, members, list(FEATURES))
    figures = Path(args.figures)
    save_figure(
        plots.segment_heatmap(
            z, [f"{p['id']}: {p['name']} ({p['churn_rate']:.0%})" for p in portraits]
        ),
        figures / "segments.png",
    )
    save_figure(
        plots.distributions_by_churn(members, list(FEATURES), target), figures / "distributions.png"
    )
    save_figure(
        plots.correlation_heatmap(members, [*FEATURES, target]), figures / "correlations.png"
    )
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
        figure_links,
    )
    write_bytes(report.encode(), args.report)
    log.info(
        "%d members profiled; out-of-fold ROC-AUC %.4f; segments: %s",
        len(members),
        result["scored_members_roc_auc"],
        "; ".join(f"{p['id']} {p['name']} {p['churn_rate']:.1%}" for p in portraits),
    )


if __name__ == "__main__":
    exit_with(main())
