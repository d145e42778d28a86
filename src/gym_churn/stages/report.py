"""report: reports/report.html (one self-contained page) and reports/report.md (the same words,
for PR diffs) from the other stages' outputs and the contract's words.

It computes nothing heavy, so editing the report's wording re-runs this stage alone.

Reads  --contract        the data contract (words, roles, description)
       --summary         train summary (the candidates compared, the model kept)
       --evaluate-metrics, --cluster-metrics, --audit-metrics, --drivers-metrics,
       --profile-metrics, --score-metrics   the headline numbers
       --drivers, --levels, --tenure, --rules, --portraits   the tables
       --importance      evaluate's model reliance per group of columns, shown beside the
                         drivers (profile's drivers read no model)
       --scored          the per-member table (only its path is shown)
       --campaign-metrics, --campaign-curve, --campaign-list   the targeting numbers, the
                         profit curve, the list (its contacted rows give the list's return)
       --campaign-details  the campaign's other figures: replay, measured effect, hold-out
       --evaluate-figures, --cluster-figures, --drivers-figures, --profile-figures
                         folders the report links to
       --backtest-metrics  a panel's out-of-time check (metrics/backtest.json)
Writes --report          the Markdown report (figures linked relative to it)
       --html            the same report as one page, figures embedded (opens offline)
       --report-figures  the marketer's charts, drawn here in the contract's words, and the
                         campaign's profit curve (profit.png: drawn here, so the campaign
                         stage, re-run by every change of the campaign's money, imports no
                         plotting library)
Params drivers.early_months, campaign (its money words: currency, value_period)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from gym_churn import plots
from gym_churn.alongside import alongside
from gym_churn.analysis.tenure import early_churn
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import (
    load_contract,
    load_params,
    read_json,
    read_table,
    save_figure,
    write_text,
)
from gym_churn.report.content import ReportInputs, with_reliance
from gym_churn.report.figures import marketer_charts, profit_figure
from gym_churn.report.render import build_html, build_report, figure_refs

log = logging.getLogger(__name__)

# The figures the report shows, by the option naming their folder.
REPORT_FIGURES = {
    "evaluate_figures": ("roc", "gain", "calibration", "importance"),
    "cluster_figures": ("k_scan", "dendrogram"),
    "drivers_figures": ("tenure",),
    "profile_figures": ("segments", "distributions", "correlations"),
}


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "contract", "summary", "evaluate_metrics", "cluster_metrics", "audit_metrics",
        "drivers_metrics", "profile_metrics", "score_metrics", "drivers", "importance", "levels",
        "tenure",
        "rules", "portraits", "scored", "campaign_metrics", "campaign_curve", "campaign_list",
        "campaign_details", *REPORT_FIGURES, "backtest_metrics", "report", "html", "report_figures",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    report_dir = Path(args.report).parent
    paths = {
        name: Path(getattr(args, folder)) / f"{name}.png"
        for folder, names in REPORT_FIGURES.items()
        for name in names
    }
    tenure = read_table(args.tenure)
    contract = load_contract(args.contract)
    inputs = ReportInputs(
        contract=contract,
        evaluate=read_json(args.evaluate_metrics),
        cluster=read_json(args.cluster_metrics),
        audit=read_json(args.audit_metrics),
        drivers_metrics=read_json(args.drivers_metrics),
        profile=read_json(args.profile_metrics),
        score=read_json(args.score_metrics),
        summary=read_json(args.summary),
        drivers=with_reliance(read_table(args.drivers), read_table(args.importance), contract),
        levels=read_table(args.levels),
        tenure=tenure,
        early=early_churn(tenure, params.drivers.early_months),
        rules=read_table(args.rules),
        portraits=read_json(args.portraits),
        figures={name: str(path) for name, path in paths.items()},
        scored_path=args.scored,
        campaign=read_json(args.campaign_metrics),
        curve=read_table(args.campaign_curve),
        economics=params.campaign.model_dump(),
        campaign_path=args.campaign_list,
        campaign_details=read_json(args.campaign_details),
        backtest=read_json(args.backtest_metrics),
        campaign_list=read_table(args.campaign_list),
    )
    folder = Path(args.report_figures)
    charts = {**marketer_charts(inputs, plots), "profit": partial(profit_figure, inputs, plots)}
    paths |= {name: folder / f"{name}.png" for name in charts}
    # the charts are drawn in two processes (alongside), half each; the page embeds them,
    # so it is built once both are done (until then the folder, kept between runs, may
    # hold the last run's chart)
    names = list(charts)
    with alongside(lambda: _save(charts, names[0::2], folder), "drawing the report's charts"):
        _save(charts, names[1::2], folder)
    refs = figure_refs(paths, report_dir)
    report, html = build_report(inputs, refs), build_html(inputs, refs)
    write_text(report, args.report)
    write_text(html, args.html)
    log.info("report -> %s, %s", args.report, args.html)


def _save(charts: dict[str, Callable[[], Any]], names: list[str], folder: Path) -> None:
    for name in names:
        save_figure(charts[name](), folder / f"{name}.png")


if __name__ == "__main__":
    exit_with(main())
