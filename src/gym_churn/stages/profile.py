"""profile: churn drivers, segment profiles, generated portraits and the per-member table.

Reads  --members      preprocessed members
       --assignments  segment id per member (cluster)
       --oof          out-of-fold churn probability per member (oof_scores)
       --importance   permutation importance on the test split (evaluate)
       --summary      train summary (the decision threshold)
Writes --metrics      metrics/profile.json: drivers, study findings, importance, portraits
       --segments     plot data: one row per segment with every feature's mean or share
       --scored       per-member table: probability, risk decile, at-risk flag, segment
       --segment-names  segment id -> generated name, for scoring new exports
       --figures      folder: segments.png, distributions.png, correlations.png
Params base.target, profile.*
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from sklearn.metrics import roc_auc_score

from gym_churn import plots
from gym_churn import profiling as prof
from gym_churn.cli import parser, stage_main
from gym_churn.io import (
    load_params,
    read_json,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
    write_table,
)
from gym_churn.schema import FEATURES, ID_COLUMN

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "members", "assignments", "oof", "importance", "summary", "metrics", "segments",
        "scored", "segment_names", "figures",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    target, cfg = params.base.target, params.profile
    members = read_table(args.members)
    labels = read_table(args.assignments)["segment"].to_numpy()
    oof = read_table(args.oof)["churn_probability"].to_numpy()
    importance = read_table(args.importance)
    threshold = read_json(args.summary)["threshold"]

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
    log.info(
        "%d members profiled; out-of-fold ROC-AUC %.4f; segments: %s",
        len(members),
        result["scored_members_roc_auc"],
        "; ".join(f"{p['id']} {p['name']} {p['churn_rate']:.1%}" for p in portraits),
    )


if __name__ == "__main__":
    sys.exit(main())
