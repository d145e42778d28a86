"""The grid behind the default gradient-boosting hyperparameters, on the training split only.

    python bench/model_grid.py            # after `dvc repro` has written the training split

For each setting: the train stage's 5-fold CV ROC-AUC (same folds and seed, via
gym_churn.models) and the time one `predict_proba` takes per million rows (on the training
rows repeated), since every member of a monthly export is scored. The test split is not read.
Prints a Markdown table, best CV ROC-AUC first.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from run import project_paths  # bench/run.py: the paths as dvc.yaml sets them

from gym_churn.io import load_contract, load_params
from gym_churn.models.estimators import build_model
from gym_churn.models.selection import cross_validate_oof, split_xy

PROJECT = Path(__file__).resolve().parents[1]
LEAVES = (3, 4, 5, 7)
RATES_AND_TREES = ((0.1, 100), (0.15, 100), (0.15, 60), (0.2, 60), (0.25, 60), (0.2, 40),
                   (0.3, 40), (0.3, 30), (0.4, 30))  # fmt: skip
TIMING_ROWS = 1_000_000


def main() -> int:
    paths = project_paths()
    params = load_params(PROJECT / paths["params"])
    contract = load_contract(PROJECT / paths["contract"])
    train = pd.read_csv(PROJECT / paths["train"])  # preprocessed: engineered features included
    X, y = split_xy(train, contract)
    big = X.iloc[np.resize(np.arange(len(X)), TIMING_ROWS)]
    rows = []
    for leaves in LEAVES:
        for rate, trees in RATES_AND_TREES:
            hyper = {
                **params.train.hyperparameters("hist_gradient_boosting"),
                "learning_rate": rate,
                "max_iter": trees,
                "max_leaf_nodes": leaves,
            }
            model = build_model("hist_gradient_boosting", hyper, contract, params.base.seed)
            cv = cross_validate_oof(model, X, y, params.train.cv_folds, params.base.seed)
            fitted = model.fit(X, y)
            start = time.perf_counter()
            fitted.predict_proba(big)
            seconds = time.perf_counter() - start
            rows.append((cv.roc_auc_mean, cv.roc_auc_std, rate, trees, leaves, seconds))
    lines = [
        "| CV ROC-AUC | std | learning rate | trees | leaves | predict s / 1M rows |",
        "|---|---|---|---|---|---|",
    ]
    for auc, std, rate, trees, leaves, seconds in sorted(rows, key=lambda r: -r[0]):
        lines.append(f"| {auc:.4f} | {std:.4f} | {rate} | {trees} | {leaves} | {seconds:.2f} |")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
