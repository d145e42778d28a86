"""cluster: segment the members, scan k, measure stability, order segments by churn.

Reads  --input        preprocessed members
Writes --model        segment assigner (standardise + nearest centroid), skops file
       --assignments  member_row -> segment id (0 = lowest churn)
       --metrics      metrics/cluster.json: k, silhouette, stability_ari, clusters
       --k-scan       plot data: silhouette, inertia and stability for k_min..k_max
       --figures      folder: k_scan.png, dendrogram.png
Params base.seed, base.target, cluster.*
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from gym_churn import clustering, plots
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.columns import ID_COLUMN
from gym_churn.errors import ParamsError
from gym_churn.io import (
    load_params,
    read_table,
    save_figure,
    save_model,
    write_json,
    write_plot_data,
    write_table,
)

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "input", "model", "assignments", "metrics", "k_scan", "figures")
    args = args.parse_args(argv)
    params = load_params(args.params)
    cfg, target = params.cluster, params.base.target
    members = read_table(args.input)
    unknown = [col for col in cfg.columns if col not in members.columns]
    if unknown:
        raise ParamsError(
            f"cluster.columns: unknown column(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(c for c in members.columns if c not in (ID_COLUMN, target))}"
        )
    if max(cfg.k, cfg.k_max) > len(members):
        raise ParamsError(f"cluster.k / cluster.k_max: must not exceed {len(members)} members")

    base = clustering.ClusterConfig(cfg.algorithm, cfg.k, cfg.n_init, params.base.seed)
    churn = members[target].to_numpy()
    sampling = {
        "resamples": cfg.stability_resamples,
        "fraction": cfg.stability_fraction,
        "silhouette_rows": cfg.silhouette_max_rows,
        "scan_rows": cfg.scan_max_rows,
    }
    seg = clustering.segment(members, cfg.columns, churn, base, **sampling)
    ks = list(range(cfg.k_min, cfg.k_max + 1))
    scan = clustering.k_scan(members, cfg.columns, base, ks, **sampling)
    link, sample_rows = clustering.dendrogram_linkage(
        members, cfg.columns, cfg.dendrogram_rows, params.base.seed
    )
    clusters = clustering.segment_summary(seg.labels, churn)
    rates = [c["churn_rate"] for c in clusters]
    result = {
        "algorithm": cfg.algorithm,
        "k": cfg.k,
        "silhouette": seg.silhouette,
        "stability_ari": seg.stability_ari,
        "churn_rate_span": max(rates) - min(rates),
        "clusters": clusters,
    }

    save_model(seg.assigner, args.model)
    write_table(
        pd.DataFrame({ID_COLUMN: members[ID_COLUMN], "segment": seg.labels}), args.assignments
    )
    write_plot_data(scan, args.k_scan)
    figures = Path(args.figures)
    save_figure(plots.k_scan_figure(scan, cfg.k), figures / "k_scan.png")
    save_figure(plots.dendrogram_figure(link, cfg.k, sample_rows), figures / "dendrogram.png")
    write_json(result, args.metrics)
    log.info(
        "%s k=%d: silhouette %.3f, stability ARI %.3f, churn rates %s",
        cfg.algorithm,
        cfg.k,
        seg.silhouette,
        seg.stability_ari,
        ", ".join(f"{r:.1%}" for r in rates),
    )


if __name__ == "__main__":
    exit_with(main())
