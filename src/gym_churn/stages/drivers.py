"""drivers: what goes with churn (marginal, adjusted, model reliance) and churn by tenure.

Reads  --members     every preprocessed member
       --contract    the data contract (roles and ties decide each adjustment set; words)
       --importance  model reliance per group of columns (evaluate, test split)
       --audit       metrics/audit.json: its flagged_features are neither estimated nor
                     adjusted for
Writes --table       reports/drivers.csv: one row per raw feature (analysis.drivers.COLUMNS):
                     feature, marginal_ratio, marginal_low, marginal_high, adjusted_ratio,
                     adjusted_low, adjusted_high, reliance, then words, role, what was
                     compared, n per side, status (or why not estimated), the adjustment set
                     and the tied columns left out of it, p-values (Holm over levers), the
                     levers' family-wise intervals and whether a lever has evidence. Ratios
                     and p-values to 4 significant digits, the precision they are reported at
       --levels      reports/churn_by_level.csv: churn per value of every flag, category and
                     short menu of numbers, with 95% CIs
       --tenure      plots/drivers/tenure.csv: monthly churn rate by tenure month, with CIs
       --figures     folder: tenure.png
       --metrics     metrics/drivers.json: churn rate, early-tenure share of churners (left
                     out when the contract names no tenure column), how many levers were tested
                     and how many have evidence (Holm), the family-wise intervals' confidence
Params base.seed, drivers.*
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from gym_churn import plots
from gym_churn.analysis.drivers import drivers_table, familywise_confidence, significant
from gym_churn.analysis.tenure import churn_by_tenure, early_churn
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.errors import DataValidationError
from gym_churn.io import (
    load_contract,
    load_params,
    read_json,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
    write_table,
)
from gym_churn.segments.profiles import churn_by_level, level_view, wilson

log = logging.getLogger(__name__)

# written to this many significant digits: the precision the report gives (2 decimals of a
# ratio up to 99.99), and far above the last-bit noise between machines' BLAS kernels
DIGITS = 4
ROUNDED = ["marginal_ratio", "marginal_low", "marginal_high", "adjusted_ratio", "adjusted_low",
           "adjusted_high", "p_value", "p_holm", "familywise_low", "familywise_high"]  # fmt: skip


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "members", "contract", "importance", "audit", "table", "levels", "tenure",
        "figures", "metrics",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    cfg, target = params.drivers, contract.target.column
    flagged = read_json(args.audit)["flagged_features"]
    unknown = [c for c in flagged if c not in contract.features]
    if unknown:
        raise DataValidationError(
            f"{args.audit}: flagged_features names {unknown}, not raw features of "
            f"{args.contract}; re-run the audit stage with this contract"
        )
    members = read_table(args.members)
    table = drivers_table(
        members, contract, read_table(args.importance), flagged=flagged, C=cfg.C,
        min_overlap=cfg.min_overlap, min_propensity=cfg.min_propensity, alpha=cfg.alpha,
        max_rows=cfg.max_rows, seed=params.base.seed,
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
    # a figure that does not apply is left out (not NaN, not null), and the log says why
    applies = bool(pd.notna(early["share"]))
    confidence = familywise_confidence(table, cfg.alpha)  # None: no lever tested
    result = {
        "churn_rate": float(y.mean()),
        "churn_rate_low": low,
        "churn_rate_high": high,
        **({"early_tenure_share_of_churners": early["share"]} if applies else {}),
        "levers_tested": int(table["p_holm"].notna().sum()),
        "levers_with_evidence": int(table["lever_evidence"].sum()),
        **({"familywise_confidence": confidence} if confidence is not None else {}),
    }
    early_text = (
        f"{100 * early['share']:.1f}% of churners in their first {cfg.early_months} month(s)"
        if applies
        else "no early-tenure share: "
        + ("no churner has a tenure" if contract.tenure else "the contract names no tenure column")
    )
    words = contract.words(contract.tenure) if contract.tenure else None
    figure = plots.tenure_figure(tenure, words.label if words else "", words.unit if words else "")
    save_figure(figure, Path(args.figures) / "tenure.png")
    write_table(significant(table.round({"reliance": 6}), DIGITS, ROUNDED), args.table)
    write_table(levels.round(6), args.levels)
    write_plot_data(tenure, args.tenure)
    write_json(result, args.metrics)
    log.info(
        "%d drivers; %s; %d of %d lever(s) with evidence (Holm)%s", len(table), early_text,
        result["levers_with_evidence"], result["levers_tested"],
        "" if confidence is not None else " (no role: lever in the contract, so no "
        "family-wise confidence)",
    )  # fmt: skip


if __name__ == "__main__":
    exit_with(main())
