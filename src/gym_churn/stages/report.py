"""report: reports/report.md from the other stages' outputs and the contract's words.

It computes nothing heavy, so editing the report's wording re-runs this stage alone.

Reads  --contract        the data contract (words, roles, description)
       --summary         train summary (the candidates compared, the model kept)
       --evaluate-metrics, --cluster-metrics, --audit-metrics, --drivers-metrics,
       --profile-metrics, --score-metrics   the headline numbers
       --drivers, --levels, --tenure, --rules, --portraits   the tables
       --scored          the per-member table (only its path is shown)
       --campaign-metrics, --campaign-curve, --campaign-list   the targeting numbers, the
                         profit curve, the list (only its path is shown)
       --campaign-details  the campaign's other figures: replay, measured effect, hold-out
       --evaluate-figures, --cluster-figures, --drivers-figures, --profile-figures,
       --campaign-figures
                         folders the report links to
       --backtest-metrics  a panel's out-of-time check (metrics/backtest.json)
Writes --report          the Markdown report (figures linked relative to it)
Params drivers.early_months
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gym_churn.analysis.tenure import early_churn
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import load_contract, load_params, read_json, read_table, write_text
from gym_churn.report import ReportInputs, build_report

log = logging.getLogger(__name__)

# The figures the report shows, by the option naming their folder.
REPORT_FIGURES = {
    "evaluate_figures": ("roc", "gain", "calibration", "importance"),
    "cluster_figures": ("k_scan", "dendrogram"),
    "drivers_figures": ("tenure",),
    "profile_figures": ("segments", "distributions", "correlations"),
    "campaign_figures": ("profit",),
}


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "contract", "summary", "evaluate_metrics", "cluster_metrics", "audit_metrics",
        "drivers_metrics", "profile_metrics", "score_metrics", "drivers", "levels", "tenure",
        "rules", "portraits", "scored", "campaign_metrics", "campaign_curve", "campaign_list",
        "campaign_details", *REPORT_FIGURES, "backtest_metrics", "report",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    report_dir = Path(args.report).parent
    figures = {}
    for folder, names in REPORT_FIGURES.items():
        for name in names:
            path = os.path.relpath(Path(getattr(args, folder)) / f"{name}.png", report_dir)
            figures[name] = f"![{name}]({path})"
    tenure = read_table(args.tenure)
    inputs = ReportInputs(
        contract=load_contract(args.contract),
        evaluate=read_json(args.evaluate_metrics),
        cluster=read_json(args.cluster_metrics),
        audit=read_json(args.audit_metrics),
        drivers_metrics=read_json(args.drivers_metrics),
        profile=read_json(args.profile_metrics),
        score=read_json(args.score_metrics),
        summary=read_json(args.summary),
        drivers=read_table(args.drivers),
        levels=read_table(args.levels),
        tenure=tenure,
        early=early_churn(tenure, params.drivers.early_months),
        rules=read_table(args.rules),
        portraits=read_json(args.portraits),
        figures=figures,
        scored_path=args.scored,
        campaign=read_json(args.campaign_metrics),
        curve=read_table(args.campaign_curve),
        economics=params.campaign.model_dump(),
        campaign_path=args.campaign_list,
        campaign_details=read_json(args.campaign_details),
        backtest=read_json(args.backtest_metrics),
    )
    write_text(build_report(inputs), args.report)
    log.info("report -> %s", args.report)


if __name__ == "__main__":
    exit_with(main())
