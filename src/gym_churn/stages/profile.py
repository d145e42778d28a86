"""profile: who churns. What goes with churn (drivers: marginal and adjusted ratios),
churn by tenure, segment portraits (k-means), churn-supervised rule segments, and the
declared findings.

Reads  --members      every preprocessed member
       --train, --test  the splits: the rule tree is fit on train, both segmentations'
                      information about churn is measured on test
       --contract     the data contract (roles, words, findings)
       --assignments  k-means segment per member (cluster)
       --audit        reports/audit.csv (train's audit table): the raw columns it flags are
                      left out of the rules, and neither estimated nor adjusted for in the
                      drivers. Nothing here reads a model, so a model experiment
                      (train.model, ...) does not re-run this stage: the report joins the
                      drivers to evaluate's model reliance
Writes --drivers      reports/drivers.csv: one row per raw feature (analysis.drivers.COLUMNS):
                      feature, marginal_ratio, marginal_low, marginal_high, adjusted_ratio,
                      adjusted_low, adjusted_high, then words, role, what was compared, n
                      per side, status (or why not estimated), the adjustment set and the
                      tied columns left out of it, p-values (Holm over levers), the levers'
                      family-wise intervals, whether a lever has evidence, and the feature's
                      group of columns (reliance_group: model reliance credits them together).
                      Ratios and p-values to 4 significant digits, the precision they are
                      reported at
       --levels       reports/churn_by_level.csv: churn per value of every flag, category
                      and short menu of numbers, with 95% CIs
       --tenure       plots/drivers/tenure.csv: monthly churn rate by tenure month, with CIs
       --drivers-figures  folder: tenure.png
       --drivers-metrics  metrics/drivers.json: churn rate, early-tenure share of churners
                      (left out when the contract names no tenure column), how many levers
                      were tested and how many have evidence (Holm), the family-wise
                      intervals' confidence
       --metrics      metrics/profile.json: normalised mutual information of each
                      segmentation with churn (test split), rule segment count
       --segments     plot data: one row per k-means segment, churn with CI, each column's
                      mean or share
       --rules        reports/rule_segments.csv: one row per rule segment, riskiest first
                      (churn rate and CI on the test split, members on all)
       --portraits    reports/portraits.json: k-means portraits and the declared findings
       --segment-names  segment id -> generated name, for scoring
       --figures      folder: segments.png, distributions.png, correlations.png
Params base.seed, profile.*, drivers.*
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gym_churn import plots
from gym_churn.alongside import alongside
from gym_churn.analysis.audit import flagged_columns
from gym_churn.analysis.drivers import drivers_table, familywise_confidence, significant
from gym_churn.analysis.tenure import churn_by_tenure, early_churn
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.contract.spec import Contract
from gym_churn.errors import DataValidationError
from gym_churn.io import (
    load_contract,
    load_params,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
    write_table,
)
from gym_churn.segments import profiles as prof
from gym_churn.segments import rules
from gym_churn.segments.profiles import churn_by_level, level_view, wilson

log = logging.getLogger(__name__)

# drivers written to this many significant digits: the precision the report gives (2
# decimals of a ratio up to 99.99), and far above the last-bit noise between machines' BLAS
DIGITS = 4
ROUNDED = ["marginal_ratio", "marginal_low", "marginal_high", "adjusted_ratio", "adjusted_low",
           "adjusted_high", "p_value", "p_holm", "familywise_low", "familywise_high"]  # fmt: skip


def _defined(found: list[dict]) -> list[dict]:
    """The findings with each figure this export leaves undefined (no member in a group, a
    mean of 0 to change from) left out and the reason said: strict JSON has no NaN."""
    out = []
    for f in found:
        undefined = [k for k in ("value", "low", "high") if not math.isfinite(f[k])]
        if undefined:
            why = f"not defined on this export ({f['n']} member(s) to measure it on)"
            log.warning("finding %r: %s %s; left out", f["claim"], "/".join(undefined), why)
            f = {**{k: v for k, v in f.items() if k not in undefined}, "why": why}
        out.append(f)
    return out


def _segments_of(assigned: pd.Series, frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """The segment of each row of `frame`, from the assignments indexed by `keys`."""
    wanted = frame[keys[0]] if len(keys) == 1 else pd.MultiIndex.from_frame(frame[keys])
    return assigned.loc[wanted].to_numpy()


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "members", "train", "test", "contract", "assignments", "audit",
        "drivers", "levels", "tenure", "drivers_figures", "drivers_metrics", "metrics",
        "segments", "rules", "portraits", "segment_names", "figures",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    members, train, test = read_table(args.members), read_table(args.train), read_table(args.test)
    keys = contract.keys  # the member key, and the snapshot when members repeat by month
    assigned = read_table(args.assignments).set_index(keys)["segment"]
    audit = read_table(args.audit).astype({"feature": str})  # a name like 2019 stays text
    unknown = sorted(set(audit["feature"]) - set(contract.model_features))
    if unknown:
        raise DataValidationError(
            f"{args.audit}: column feature names {unknown}, not features of "
            f"{args.contract}; re-run the train stage with this contract"
        )
    flagged = flagged_columns(audit, contract)
    figures = Path(args.figures)
    with alongside(
        lambda: _member_figures(members, contract, figures), "drawing the member figures"
    ):
        _profile(args, params, contract, members, train, test, assigned, flagged)


def _member_figures(members: pd.DataFrame, contract: Contract, figures: Path) -> None:
    """The figures of the members as they are: each column by churn, and correlations."""
    target = contract.target.column
    # the target's column in the correlations: named by what a positive row did
    titles = {c: contract.words(c).label for c in contract.raw_features}
    titles[target] = contract.target.label
    many = contract.population.many
    outcome = (contract.target.negative_label, contract.target.label)
    save_figure(
        plots.distributions_by_churn(members, contract.raw_features, target, titles, many, outcome),
        figures / "distributions.png",
    )
    numbers = [c for c in contract.raw_features if contract.kind(c) != "categorical"]
    correlations = plots.correlation_heatmap(members, [*numbers, target], titles)
    save_figure(correlations, figures / "correlations.png")


def _profile(
    args: argparse.Namespace,
    params: Any,
    contract: Contract,
    members: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    assigned: pd.Series,
    flagged: list[str],
) -> None:
    """The drivers, then the segments' profiles and portraits, and the rule segments."""
    cfg, seed, target = params.profile, params.base.seed, contract.target.column
    keys = contract.keys
    labels = _segments_of(assigned, members, keys)
    _drivers(args, params, contract, members, flagged)

    y = members[target]
    matrix = prof.profile_matrix(members, contract)
    profiles = prof.segment_profiles(matrix, labels, y)
    portraits = prof.portraits(profiles, matrix, contract, cfg.portrait_traits)
    names = {p["id"]: p["name"] for p in portraits}

    tree = rules.fit_rule_tree(
        train, contract, rules.rule_columns(contract, flagged),
        max_leaves=cfg.rule_leaves, min_leaf_share=cfg.rule_min_share, seed=seed,
    )  # fmt: skip
    # who is in each rule: all members; its churn rate: the test members the tree did not see
    table = rules.rule_table(tree, members, contract, held_out=test)
    churn_test = test[target].to_numpy()
    result = {
        "kmeans_nmi_with_churn": rules.nmi_with_churn(
            _segments_of(assigned, test, keys), churn_test
        ),
        "rule_nmi_with_churn": rules.nmi_with_churn(tree.leaves(test), churn_test),
        "rule_segments": len(table),
    }

    # the heatmap shows the columns the segments were built on
    used = set(contract.segment_columns)
    shown = [c for c in matrix.columns if prof.parent_column(c, contract)[0] in used]
    z = prof.standardised_differences(profiles, matrix, shown)
    figures = Path(args.figures)
    label = contract.target.label
    save_figure(
        plots.segment_heatmap(
            z,
            [f"{p['id']}: {p['name']} ({p['churn_rate']:.0%} {label})" for p in portraits],
            {c: prof.column_label(c, contract) for c in z.columns},
            contract.population.many,
        ),
        figures / "segments.png",
    )
    write_plot_data(profiles.assign(name=[names[s] for s in profiles["segment"]]), args.segments)
    write_table(table.round(6), args.rules)
    write_json(
        {
            "portraits": portraits,
            "findings": _defined(
                prof.findings(members, contract, cfg.bootstrap, seed, cfg.bootstrap_max_rows)
            ),
        },
        args.portraits,
    )
    write_json({str(k): v for k, v in names.items()}, args.segment_names)
    write_json(result, args.metrics)
    log.info(
        "%d rule segments (NMI with churn %.3f on test) vs k-means %.3f; riskiest: %s (%.1f%%)",
        len(table), result["rule_nmi_with_churn"], result["kmeans_nmi_with_churn"],
        table.loc[0, "rule"], 100 * table.loc[0, "churn_rate"],
    )  # fmt: skip


def _drivers(
    args: argparse.Namespace,
    params: Any,
    contract: Contract,
    members: pd.DataFrame,
    flagged: list[str],
) -> None:
    """What goes with churn and churn by tenure (analysis.drivers, analysis.tenure)."""
    cfg, target = params.drivers, contract.target.column
    table = drivers_table(
        members, contract, flagged=flagged, C=cfg.C,
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
    save_figure(figure, Path(args.drivers_figures) / "tenure.png")
    write_table(significant(table, DIGITS, ROUNDED), args.drivers)
    write_table(levels.round(6), args.levels)
    write_plot_data(tenure, args.tenure)
    write_json(result, args.drivers_metrics)
    log.info(
        "%d drivers; %s; %d of %d lever(s) with evidence (Holm)%s", len(table), early_text,
        result["levers_with_evidence"], result["levers_tested"],
        "" if confidence is not None else " (no role: lever in the contract, so no "
        "family-wise confidence)",
    )  # fmt: skip


if __name__ == "__main__":
    exit_with(main())
