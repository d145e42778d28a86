"""audit: what in the data looks too good to be true, and what the model does without it.

Reads  --train      the training split (flags are chosen on it, never on the test split)
       --members    every preprocessed member (counted anomalies)
       --contract   the data contract (features, counted relations)
       --summary    train summary: the model spec train kept
Writes --metrics    metrics/audit.json: flagged_features (raw columns), their count, CV ROC-AUC
                    with everything and without the flagged group (same spec, same folds),
                    the best single-feature ROC-AUC, anomaly rows; details as lists
       --table      reports/audit.csv: per model feature, single-feature ROC-AUC and the
                    one-class tails of its range
Params base.seed, train.cv_folds, audit.*
"""

from __future__ import annotations

import logging

import numpy as np

from gym_churn.analysis.audit import anomalies, flag_features, without_columns
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import load_contract, load_params, read_json, read_table, write_json, write_table
from gym_churn.models.selection import (
    cross_validate_oof,
    member_groups,
    model_from_summary,
    split_xy,
)

log = logging.getLogger(__name__)


def defined_fields(records: list[dict]) -> list[dict]:
    """Each record without its NaN fields (a flagged column's tail on the side it has none):
    a figure that does not apply is absent, and strict JSON has no NaN."""
    return [
        {k: v for k, v in r.items() if not (isinstance(v, float) and np.isnan(v))} for r in records
    ]


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "train", "members", "contract", "summary", "metrics", "table")
    args = args.parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    seed, folds = params.base.seed, params.train.cv_folds
    train, summary = read_table(args.train), read_json(args.summary)
    table, flagged = flag_features(train, contract, params.audit.min_pure_share)
    cv_without = summary["cv_roc_auc_mean"]
    if flagged:
        reduced = without_columns(contract, flagged)
        X, y = split_xy(train, reduced)
        cv_without = cross_validate_oof(
            model_from_summary(summary, reduced, seed), X, y, folds, seed,
            member_groups(train, contract),
        ).roc_auc_mean  # fmt: skip
    found = anomalies(read_table(args.members), contract)
    flagged_rows = table[table["flagged"]]
    # figures that do not apply are left out (strict JSON has no NaN): a flagged column's
    # missing tail, a ROC-AUC no column has (each is constant, or all gaps)
    aucs = table["single_feature_roc_auc"].dropna()
    if aucs.empty:
        log.warning("no column ranks members (each is constant or all gaps): no single ROC-AUC")
    result = {
        "flagged_count": len(flagged),
        "cv_roc_auc": summary["cv_roc_auc_mean"],
        "cv_roc_auc_without_flagged": cv_without,
        **({"max_single_feature_roc_auc": float(aucs.max())} if len(aucs) else {}),
        "anomaly_rows": sum(a["rows"] for a in found),
        # lists: kept out of `dvc exp show` columns, read by the report
        "flagged_features": flagged,
        "flagged_detail": defined_fields(flagged_rows.to_dict(orient="records")),
        "anomalies": found,
    }
    write_table(table, args.table)
    write_json(result, args.metrics)
    log.info(
        "flagged %s; CV ROC-AUC %.4f with everything, %.4f without; %d anomaly row(s)",
        ", ".join(flagged) or "nothing",
        result["cv_roc_auc"],
        cv_without,
        result["anomaly_rows"],
    )


if __name__ == "__main__":
    exit_with(main())
