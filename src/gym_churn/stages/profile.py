"""profile: segment portraits (k-means), churn-supervised rule segments, declared findings.

Reads  --members      every preprocessed member
       --train, --test  the splits: the rule tree is fit on train, both segmentations'
                      information about churn is measured on test
       --contract     the data contract (roles, words, findings)
       --assignments  k-means segment per member (cluster)
       --audit        metrics/audit.json (the flagged columns the rules leave out)
Writes --metrics      metrics/profile.json: normalised mutual information of each
                      segmentation with churn (test split), rule segment count
       --segments     plot data: one row per k-means segment, churn with CI, each column's
                      mean or share
       --rules        reports/rule_segments.csv: one row per rule segment, riskiest first
                      (churn rate and CI on the test split, members on all)
       --portraits    reports/portraits.json: k-means portraits and the declared findings
       --segment-names  segment id -> generated name, for scoring
       --figures      folder: segments.png, distributions.png, correlations.png
Params base.seed, profile.*
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from gym_churn import plots
from gym_churn.cli import exit_with, parser, stage_main
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
from gym_churn.segments import profiles as prof
from gym_churn.segments import rules

log = logging.getLogger(__name__)


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
        __doc__, "members", "train", "test", "contract", "assignments", "audit", "metrics",
        "segments", "rules", "portraits", "segment_names", "figures",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    cfg, seed = params.profile, params.base.seed
    target = contract.target.column
    members, train, test = read_table(args.members), read_table(args.train), read_table(args.test)
    keys = contract.keys  # the member key, and the snapshot when members repeat by month
    assigned = read_table(args.assignments).set_index(keys)["segment"]
    labels = _segments_of(assigned, members, keys)
    flagged = read_json(args.audit)["flagged_features"]

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
            z, [f"{p['id']}: {p['name']} ({p['churn_rate']:.0%} {label})" for p in portraits]
        ),
        figures / "segments.png",
    )
    titles = {c: contract.words(c).label for c in contract.raw_features}
    save_figure(
        plots.distributions_by_churn(members, contract.raw_features, target, titles),
        figures / "distributions.png",
    )
    numbers = [c for c in contract.raw_features if contract.kind(c) != "categorical"]
    correlations = plots.correlation_heatmap(members, [*numbers, target])
    save_figure(correlations, figures / "correlations.png")
    write_plot_data(profiles.assign(name=[names[s] for s in profiles["segment"]]), args.segments)
    write_table(table.round(6), args.rules)
    write_json(
        {
            "portraits": portraits,
            "findings": _defined(prof.findings(members, contract, cfg.bootstrap, seed)),
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


if __name__ == "__main__":
    exit_with(main())
