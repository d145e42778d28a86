"""train: audit the columns, choose the model by CV, fit the model that lists members.

The audit runs first, on the training split only: a column that behaves like the outcome
(its one-class tails, analysis.audit) may be recorded after a member leaves, so the model
that scores, explains and lists members is fitted without the flagged columns, unless the
contract says a column is `known_before_outcome`. The model on every column is fitted too:
its test figures stay the headline metrics (evaluate), so they compare across changes.

Reads  --train          the training split
       --members        every preprocessed member (anomalies are counted on all of them;
                        each gets an out-of-fold score)
       --contract       the data contract (features, their kinds and categories)
Writes --model          the model that lists members (the bundle's), as a skops file
       --summary        JSON: that model's spec, CV ROC-AUC, threshold and decile edges;
                        `excluded_features` (left out of it); `all_columns`, the same for the
                        model on every column (every candidate's CV ROC-AUC, the one kept);
                        the contract, so scoring needs no checkout
       --model-all      the model on every column, as a skops file (evaluate's headline)
       --model-arrays, --model-all-arrays   the two models' runtime forms (models.runtime;
                        no model for a family without one: a forest, a calibrated model),
                        so later stages and scoring never load skops files or import it
                        for a boosted or logistic-regression model
       --audit-metrics  metrics/audit.json: flagged_features (raw columns), their count, CV
                        ROC-AUC with everything and without the flagged group (same spec,
                        same folds), the best single-feature ROC-AUC, anomaly rows
       --audit-table    reports/audit.csv: per model feature, single-feature ROC-AUC and the
                        one-class tails of its range
       --member-scores  every member's out-of-fold churn probability from the spec of the
                        model that lists members (the same folds over the whole export, so
                        no member is scored by a model that saw its own label): the key and
                        churn_probability, in the members' order (score reads it)
Params base.seed, train.*, audit.*
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import numpy as np

from gym_churn.alongside import alongside
from gym_churn.analysis.audit import anomalies, flag_features
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.contract.spec import contract_to_dict, without_columns
from gym_churn.io import (
    load_contract,
    load_params,
    read_table,
    save_model,
    write_arrays,
    write_json,
    write_table,
)
from gym_churn.models.runtime import runtime_model, to_arrays
from gym_churn.models.selection import (
    fit_with_cv,
    member_oof_scores,
    model_from_summary,
    refit_spec,
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
    args = parser(
        __doc__, "train", "members", "contract", "model", "summary", "model_all",
        "model_arrays", "model_all_arrays", "audit_metrics", "audit_table", "member_scores",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    seed = params.base.seed
    train = read_table(args.train)
    table, flagged = flag_features(train, contract, params.audit.min_pure_share)
    full_model, full = fit_with_cv(train, params.train, contract, seed)
    known = [c for c in flagged if contract.features[c].known_before_outcome]
    excluded = [c for c in flagged if c not in known]
    model, summary = full_model, full
    cv_without = full["cv_roc_auc_mean"]
    if flagged:
        reduced = without_columns(contract, flagged)
        without, without_summary = refit_spec(train, full, params.train, reduced, seed)
        cv_without = without_summary["cv_roc_auc_mean"]
        if excluded == flagged:
            model, summary = without, without_summary
    if excluded and excluded != flagged:  # some flagged columns are known before the outcome
        kept = without_columns(contract, excluded)
        model, summary = refit_spec(train, full, params.train, kept, seed)
    summary = {
        **summary,
        "candidates": full["candidates"],  # compared once, on every column
        "excluded_features": excluded,
        "all_columns": full,
        # The contract travels with the model, so scoring a new export needs no checkout.
        "contract": contract_to_dict(contract),
    }
    # the model files are written meanwhile (alongside): skops alone takes 0.4 s to load
    with alongside(lambda: _save_models(model, full_model, args), "saving the models"):
        members = read_table(args.members)
        found = anomalies(members, contract)
        # every member's out-of-fold score: cross-validated here, where scikit-learn is
        # loaded already, so the score stage that lists members never loads it
        listing_contract = without_columns(contract, excluded) if excluded else contract
        member_scores, _ = member_oof_scores(
            members, model_from_summary(summary, listing_contract, seed), listing_contract,
            params.train.cv_folds, seed, params.train.max_fit_rows,
        )  # fmt: skip
    aucs = table["single_feature_roc_auc"].dropna()
    if aucs.empty:
        log.warning("no column ranks members (each is constant or all gaps): no single ROC-AUC")
    audit = {
        "flagged_count": len(flagged),
        "cv_roc_auc": full["cv_roc_auc_mean"],
        "cv_roc_auc_without_flagged": cv_without,
        **({"max_single_feature_roc_auc": float(aucs.max())} if len(aucs) else {}),
        "anomaly_rows": sum(a["rows"] for a in found),
        # lists: kept out of `dvc exp show` columns, read by the report
        "flagged_features": flagged,
        "flagged_detail": defined_fields(table[table["flagged"]].to_dict(orient="records")),
        "anomalies": found,
    }
    write_json(summary, args.summary)
    write_table(table, args.audit_table)
    write_table(member_scores, args.member_scores)
    write_json(audit, args.audit_metrics)
    log.info(
        "%s (train.model: %s): CV ROC-AUC %.4f on every column; flagged %s; the model that "
        "lists members %s: CV ROC-AUC %.4f, threshold %.4f (max %s out-of-fold); "
        "%d anomaly row(s)",
        full["model"], full["model_setting"], full["cv_roc_auc_mean"],
        ", ".join(flagged) or "nothing",
        f"leaves out {', '.join(excluded)}" if excluded else "uses every column",
        summary["cv_roc_auc_mean"], summary["threshold"], summary["threshold_objective"],
        audit["anomaly_rows"],
    )  # fmt: skip


def _save_models(model: Any, full_model: Any, args: argparse.Namespace) -> None:
    """Both models as skops files and as their runtime forms."""
    save_model(model, args.model)
    save_model(full_model, args.model_all)
    write_arrays(to_arrays(runtime_model(model), None), args.model_arrays)
    write_arrays(to_arrays(runtime_model(full_model), None), args.model_all_arrays)


if __name__ == "__main__":
    exit_with(main())
