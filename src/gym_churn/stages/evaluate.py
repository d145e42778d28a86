"""evaluate: score the held-out test split, and back-test a panel month by month.

Test split: the model on every column gives the headline metrics (they compare across
changes); the model that lists members (train leaves the audit's flagged columns out of it)
gives its own ROC-AUC and lift beside them. Backtest: for each of the last
`backtest.months` labelled snapshots, the listing model's spec is fitted on every earlier
snapshot and scores that month (ROC-AUC, top-decile lift, ECE and churn rate per month, the
mean and worst month). Without a snapshot column, or with one labelled snapshot, there is no
earlier month to learn from: the table holds no month, the metrics only
`backtest_months: 0`, and the log says why.

Reads  --train, --test      the splits (train only to fit the logistic-regression baseline)
       --members            every preprocessed (labelled) member, for the backtest
       --contract           the data contract
       --model, --model-all, --summary   outputs of train (skops files, loaded only for a
                            model with no runtime form in --model-arrays/--model-all-arrays)
Writes --metrics            metrics/evaluate.json (flat keys, tracked by dvc metrics)
       --roc --pr --confusion --calibration --gain   plot data (dvc plots)
       --importance         model reliance per group of columns (a raw column and the
                            features made from it): rise in test log loss when shuffled
       --figures            folder of PNG figures for the README and report
       --backtest-table     plots/backtest/backtest.csv: one row per tested month
       --backtest-figure    the table as a figure
       --backtest-metrics   metrics/backtest.json: months tested; mean and worst ROC-AUC,
                            lift, ECE
Params base.seed, evaluate.*, backtest.*, train.max_fit_rows (the baseline's fit)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import roc_auc_score

from gym_churn import plots
from gym_churn.alongside import alongside
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.contract.spec import Contract, without_columns
from gym_churn.evaluation import metrics as m
from gym_churn.evaluation.backtest import backtest, backtest_summary
from gym_churn.evaluation.importance import grouped_reliance
from gym_churn.io import (
    load_contract,
    load_model,
    load_params,
    read_arrays,
    read_json,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
)
from gym_churn.models.predict import predict
from gym_churn.models.runtime import from_arrays
from gym_churn.models.selection import baseline_roc_auc, model_from_summary, split_xy

log = logging.getLogger(__name__)

CURVES = ("roc", "pr", "confusion", "calibration", "gain", "importance")


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "train", "test", "members", "contract", "model", "model_all", "model_arrays",
        "model_all_arrays", "summary",
        "metrics", *CURVES, "figures", "backtest_table", "backtest_figure", "backtest_metrics",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    cfg, seed = params.evaluate, params.base.seed
    train, test = read_table(args.train), read_table(args.test)
    summary = read_json(args.summary)
    full, excluded = summary["all_columns"], summary["excluded_features"]
    listing_contract = without_columns(contract, excluded) if excluded else contract
    model = _model(args.model_all_arrays, args.model_all)
    listing = _model(args.model_arrays, args.model) if excluded else model

    X, y = split_xy(test, contract)
    # the scorer's own function: gym-churn-score on this split gives these probabilities
    proba = predict(model, contract, test)
    listing_proba = predict(listing, listing_contract, test) if excluded else proba
    threshold = full["threshold"]
    scores = m.classification_metrics(y, proba, threshold, cfg.calibration_bins)
    curves = {
        "roc": m.roc_points(y, proba),
        "pr": m.pr_points(y, proba),
        "confusion": m.confusion_rows(y, proba, threshold),
        "calibration": m.calibration_points(y, proba, cfg.calibration_bins),
        "gain": m.cumulative_gain(y, proba),
    }
    figures = Path(args.figures)
    # the curves' figures are drawn meanwhile (alongside); model reliance is computed here
    with alongside(
        lambda: _curve_figures(curves, scores, float(y.mean()), figures),
        "drawing the evaluation figures",
    ):
        baseline = baseline_roc_auc(train, test, contract, params.train.max_fit_rows)
        curves["importance"] = grouped_reliance(
            model,
            X,
            y,
            contract.groups,
            repeats=cfg.permutation_repeats,
            max_rows=cfg.permutation_max_rows,
            seed=seed,
        ).assign(label=lambda t: [contract.group_label(g) for g in t["group"]])
        months = _backtest(args, params, listing_contract, summary)
        save_figure(plots.importance_figure(curves["importance"]), figures / "importance.png")
        save_figure(plots.backtest_figure(months), args.backtest_figure)
    # headline figures first: `dvc exp show` keeps the leftmost metric columns in view
    headline = ("roc_auc", "top_decile_lift", "ece", "brier", "f1")
    results = {
        **{k: scores[k] for k in headline},
        "listing_model_roc_auc": float(roc_auc_score(y, listing_proba)),
        "cv_roc_auc_mean": full["cv_roc_auc_mean"],
        "baseline_logreg_roc_auc": baseline,
        **{k: v for k, v in scores.items() if k not in headline},
        "listing_model_top_decile_lift": m.top_share_lift(y.to_numpy(), listing_proba),
        "threshold": threshold,
        "cv_roc_auc_std": full["cv_roc_auc_std"],
        "test_rows": len(test),
    }
    for name, frame in curves.items():
        write_plot_data(frame, getattr(args, name))
    write_plot_data(months, args.backtest_table)
    write_json(results, args.metrics)
    write_json(backtest_summary(months), args.backtest_metrics)
    log.info(
        "test ROC-AUC %.4f (baseline %.4f; the listing model %.4f), F1 %.4f, Brier %.4f, "
        "ECE %.4f, top-decile lift %.2f; backtest over %d month(s)",
        results["roc_auc"], baseline, results["listing_model_roc_auc"], results["f1"],
        results["brier"], results["ece"], results["top_decile_lift"], len(months),
    )  # fmt: skip


def _curve_figures(
    curves: dict[str, pd.DataFrame], scores: dict[str, Any], churn_rate: float, folder: Path
) -> None:
    """The figures of the test split's curves: ROC, precision-recall, confusion, calibration
    and gain."""
    save_figure(plots.roc_figure(curves["roc"], scores["roc_auc"]), folder / "roc.png")
    save_figure(plots.pr_figure(curves["pr"], scores["pr_auc"], churn_rate), folder / "pr.png")
    save_figure(plots.confusion_figure(curves["confusion"]), folder / "confusion.png")
    save_figure(
        plots.calibration_figure(curves["calibration"], scores["ece"]),
        folder / "calibration.png",
    )
    save_figure(plots.gain_figure(curves["gain"], scores["top_decile_lift"]), folder / "gain.png")


def _model(arrays: str, skops: str) -> Any:
    """A model's runtime form (train wrote it) or, for a family with none, its skops file."""
    runtime, _ = from_arrays(read_arrays(arrays))
    return runtime if runtime is not None else load_model(skops)


def _backtest(
    args: argparse.Namespace, params: Any, contract: Contract, summary: dict[str, Any]
) -> pd.DataFrame:
    """The listing model's spec refitted month by month (evaluation.backtest)."""
    members = read_table(args.members)
    model = None
    if contract.snapshot is not None:
        model = model_from_summary(summary, contract, params.base.seed)
    else:
        log.warning(
            "no out-of-time check: it needs a snapshot column in the contract and 2 labelled "
            "snapshots or more (the contract names none)"
        )
    table = backtest(
        members, model, contract, params.backtest.months, params.backtest.calibration_bins
    )
    if table.empty and contract.snapshot is not None:
        log.warning("no out-of-time check: snapshot %r has fewer than 2 labelled months",
                    contract.snapshot)  # fmt: skip
    return table


if __name__ == "__main__":
    exit_with(main())
