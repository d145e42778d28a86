"""evaluate: score the held-out test split and write metrics, plot data and figures.

Reads  --train, --test      the splits (train only to fit the logistic-regression baseline)
       --contract           the data contract
       --model, --summary   outputs of train
Writes --metrics            metrics/evaluate.json (flat keys, tracked by dvc metrics)
       --roc --pr --confusion --calibration --gain   plot data (dvc plots)
       --importance         model reliance per group of columns (a raw column and the
                            features made from it): rise in test log loss when shuffled
       --figures            folder of PNG figures for the README and report
Params base.seed, evaluate.*
"""

from __future__ import annotations

import logging
from pathlib import Path

from gym_churn import plots
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.evaluation import metrics as m
from gym_churn.evaluation.importance import grouped_reliance
from gym_churn.io import (
    load_contract,
    load_model,
    load_params,
    read_json,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
)
from gym_churn.models.predict import predict
from gym_churn.models.selection import baseline_roc_auc, split_xy

log = logging.getLogger(__name__)

CURVES = ("roc", "pr", "confusion", "calibration", "gain", "importance")


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "train", "test", "contract", "model", "summary", "metrics", *CURVES, "figures"
    ).parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    cfg, seed = params.evaluate, params.base.seed
    train, test = read_table(args.train), read_table(args.test)
    model, summary = load_model(args.model), read_json(args.summary)

    X, y = split_xy(test, contract)
    # the scorer's own function: gym-churn-score on this split gives these probabilities
    proba = predict(model, contract, test)
    threshold = summary["threshold"]
    scores = m.classification_metrics(y, proba, threshold, cfg.calibration_bins)
    baseline = baseline_roc_auc(train, test, contract)
    # headline figures first: `dvc exp show` keeps the leftmost metric columns in view
    headline = ("roc_auc", "top_decile_lift", "ece", "brier", "f1")
    results = {
        **{k: scores[k] for k in headline},
        "cv_roc_auc_mean": summary["cv_roc_auc_mean"],
        "baseline_logreg_roc_auc": baseline,
        **{k: v for k, v in scores.items() if k not in headline},
        "threshold": threshold,
        "cv_roc_auc_std": summary["cv_roc_auc_std"],
        "test_rows": len(test),
    }

    curves = {
        "roc": m.roc_points(y, proba),
        "pr": m.pr_points(y, proba),
        "confusion": m.confusion_rows(y, proba, threshold),
        "calibration": m.calibration_points(y, proba, cfg.calibration_bins),
        "gain": m.cumulative_gain(y, proba),
        "importance": grouped_reliance(
            model,
            X,
            y,
            contract.groups,
            repeats=cfg.permutation_repeats,
            max_rows=cfg.permutation_max_rows,
            seed=seed,
        ).assign(label=lambda t: [contract.group_label(g) for g in t["group"]]),
    }
    figures = {
        "roc": plots.roc_figure(curves["roc"], scores["roc_auc"]),
        "pr": plots.pr_figure(curves["pr"], scores["pr_auc"], float(y.mean())),
        "confusion": plots.confusion_figure(curves["confusion"]),
        "calibration": plots.calibration_figure(curves["calibration"], scores["ece"]),
        "gain": plots.gain_figure(curves["gain"], scores["top_decile_lift"]),
        "importance": plots.importance_figure(curves["importance"]),
    }
    for name, frame in curves.items():
        write_plot_data(frame, getattr(args, name))
    for name, fig in figures.items():
        save_figure(fig, Path(args.figures) / f"{name}.png")
    write_json(results, args.metrics)
    log.info(
        "test ROC-AUC %.4f (baseline %.4f), F1 %.4f, Brier %.4f, ECE %.4f, top-decile lift %.2f",
        results["roc_auc"],
        baseline,
        results["f1"],
        results["brier"],
        results["ece"],
        results["top_decile_lift"],
    )


if __name__ == "__main__":
    exit_with(main())
