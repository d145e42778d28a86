"""backtest: how the model would have done month by month, on a panel of snapshots.

For each of the last `backtest.months` labelled snapshots, the model spec train kept (its
summary) is fitted on every earlier snapshot and scores that month: ROC-AUC, top-decile
lift, ECE and churn rate per month, and the mean and worst month. Without a snapshot column,
or with one labelled snapshot, there is no earlier month to learn from: the table holds no
month, the metrics only `backtest_months: 0`, and the log says why.

Reads  --members   every preprocessed (labelled) member
       --contract  the data contract (the snapshot column)
       --summary   the train summary: the model spec to refit
Writes --table     plots/backtest/backtest.csv: one row per tested month
       --figure    the table as a figure
       --metrics   metrics/backtest.json: months tested; mean and worst ROC-AUC, lift, ECE
Params base.seed, backtest.*
"""

from __future__ import annotations

import logging

from gym_churn import plots
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.evaluation.backtest import backtest, backtest_summary
from gym_churn.io import (
    load_contract,
    load_params,
    read_json,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
)

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "members", "contract", "summary", "table", "figure", "metrics")
    args = args.parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    members = read_table(args.members)
    model = None
    if contract.snapshot is not None:  # the model (and scikit-learn) only where it is refit
        from gym_churn.models.selection import model_from_summary

        model = model_from_summary(read_json(args.summary), contract, params.base.seed)
    table = backtest(
        members, model, contract, params.backtest.months, params.backtest.calibration_bins
    )
    metrics = backtest_summary(table)
    if table.empty:
        log.warning(
            "no out-of-time check: it needs a snapshot column in the contract and 2 labelled "
            "snapshots or more (%s)",
            f"snapshot {contract.snapshot!r}" if contract.snapshot else "the contract names none",
        )
    write_plot_data(table, args.table)
    save_figure(plots.backtest_figure(table), args.figure)
    write_json(metrics, args.metrics)
    log.info("backtest over %d month(s): %s", len(table), metrics)


if __name__ == "__main__":
    exit_with(main())
