"""drivers: what goes with churn (marginal, adjusted, model reliance) and churn by tenure.

Reads  --members     every preprocessed member
       --contract    the data contract (roles decide each adjustment set; words)
       --importance  model reliance per group of columns (evaluate, test split)
Writes --table       reports/drivers.csv: one row per raw feature: feature, marginal_ratio,
                     marginal_low, marginal_high, adjusted_ratio, adjusted_low,
                     adjusted_high, reliance, then words, role, what was compared, n and
                     the adjustment set
       --levels      reports/churn_by_level.csv: churn per value of every flag, category and
                     short menu of numbers, with 95% CIs
       --tenure      plots/drivers/tenure.csv: monthly churn rate by tenure month, with CIs
       --figures     folder: tenure.png
       --metrics     metrics/drivers.json: churn rate, early-tenure share of churners, and how
                     many levers have evidence
Params base.seed, drivers.*
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from gym_churn import plots
from gym_churn.analysis.drivers import drivers_table, evidence_holds
from gym_churn.analysis.tenure import churn_by_tenure, early_churn
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import (
    load_contract,
    load_params,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
    write_table,
)
from gym_churn.segments.profiles import churn_by_level, level_view, wilson

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "members", "contract", "importance", "table", "levels", "tenure", "figures",
        "metrics",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    cfg, target = params.drivers, contract.target.column
    members = read_table(args.members)
    table = drivers_table(
        members, contract, read_table(args.importance),
        resamples=cfg.bootstrap, max_rows=cfg.max_rows, seed=params.base.seed,
    )  # fmt: skip
    levels = pd.DataFrame(
        [
            {"feature": col, "label": contract.words(col).label, **row}
            for col in contract.raw_features
            if level_view(contract, col)
            for row in churn_by_level(members, col, target)
        ],
        # the header stays when no column is a flag, a category or a short menu
        columns=["feature", "label", "level", "share", "n", "churned", "churn_rate", "low",
                 "high"],
    )  # fmt: skip
    tenure = churn_by_tenure(members, contract)
    early = early_churn(tenure, cfg.early_months)
    y = members[target]
    low, high = wilson(int(y.sum()), len(y))
    levers = table[table["role"] == "lever"]
    result = {
        "churn_rate": float(y.mean()),
        "churn_rate_low": low,
        "churn_rate_high": high,
        "early_tenure_share_of_churners": early["share"],
        "levers_with_evidence": int(sum(evidence_holds(r) for _, r in levers.iterrows())),
    }
    words = contract.words(contract.tenure) if contract.tenure else None
    figure = plots.tenure_figure(tenure, words.label if words else "", words.unit if words else "")
    save_figure(figure, Path(args.figures) / "tenure.png")
    write_table(table.round(6), args.table)
    write_table(levels.round(6), args.levels)
    write_plot_data(tenure, args.tenure)
    write_json(result, args.metrics)
    log.info(
        "%d drivers; %.1f%% of churners in their first %d month(s); %d lever(s) with evidence",
        len(table), 100 * early["share"], cfg.early_months, result["levers_with_evidence"],
    )  # fmt: skip


if __name__ == "__main__":
    exit_with(main())
