"""cluster: segment the members, scan k, measure stability, order segments by churn.

Reads  --input        preprocessed members
       --contract     the data contract (which columns build the segments, their kinds)
Writes --model        segment assigner (encode + nearest centroid), skops file
       --arrays       its runtime form (models.runtime), what scoring loads
       --assignments  member key -> segment id (0 = lowest churn)
       --metrics      metrics/cluster.json: k, silhouette, stability_ari, churn-rate span;
                      clusters (a list: size, share, churn rate per segment)
       --k-scan       plot data: silhouette, inertia and stability for k_min..k_max
       --figures      folder: k_scan.png, dendrogram.png
Params base.seed, cluster.*
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from gym_churn import plots
from gym_churn.alongside import alongside, in_two
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.errors import ContractError, ParamsError
from gym_churn.features import model_inputs
from gym_churn.io import (
    load_contract,
    load_params,
    read_table,
    save_figure,
    save_model,
    write_arrays,
    write_json,
    write_plot_data,
    write_table,
)
from gym_churn.models.runtime import centroids, to_arrays
from gym_churn.segments import clustering as segmentation

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__,
        "input",
        "contract",
        "model",
        "arrays",
        "assignments",
        "metrics",
        "k_scan",
        "figures",
    ).parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    cfg, target = params.cluster, contract.target.column
    if not contract.segment_columns:
        raise ContractError(f"{args.contract}: no feature has segment: true; segments need one")
    members = read_table(args.input)
    if max(cfg.k, cfg.k_max) > len(members):
        raise ParamsError(f"cluster.k / cluster.k_max: must not exceed {len(members)} members")

    base = segmentation.ClusterConfig(cfg.algorithm, cfg.k, cfg.n_init, params.base.seed)
    churn = members[target].to_numpy()
    inputs = model_inputs(members, contract)
    encoder = segmentation.segment_encoder(contract)
    sampling = {
        "resamples": cfg.stability_resamples,
        "fraction": cfg.stability_fraction,
        "silhouette_rows": cfg.silhouette_max_rows,
        "scan_rows": cfg.scan_max_rows,
    }
    seg = segmentation.segment(inputs, encoder, churn, base, **sampling, fit_rows=cfg.fit_max_rows)
    ks = list(range(cfg.k_min, cfg.k_max + 1))
    figures = Path(args.figures)
    # the model file and the dendrogram are made meanwhile (alongside): the k-scan's refits
    # are most of the stage
    with alongside(
        lambda: _model_and_dendrogram(
            seg, inputs, encoder, cfg, params.base.seed, args.model, figures
        ),
        "saving the segment model and drawing the dendrogram",
    ):
        # each k of the scan is fitted on its own: half the ks in a second process (in_two)
        scan = in_two(
            lambda some: segmentation.k_scan(
                inputs,
                encoder,
                base,
                some,
                **sampling,
                chosen=seg,
                scan_resamples=cfg.scan_resamples,
            ),
            ks,
            "the k-scan",
        )
    clusters = segmentation.segment_summary(seg.labels, churn)
    rates = [c["churn_rate"] for c in clusters]
    # a figure that does not apply is left out (strict JSON has no NaN), and the log says why
    scored = {"silhouette": seg.silhouette} if math.isfinite(seg.silhouette) else {}
    if not scored:
        log.warning("every member fell in one segment: no silhouette (it needs two)")
    result = {
        "k": cfg.k,
        **scored,
        "stability_ari": seg.stability_ari,
        "churn_rate_span": max(rates) - min(rates),
        "clusters": clusters,
    }

    write_arrays(to_arrays(None, centroids(seg.assigner)), args.arrays)
    write_table(
        # keyed by member (and snapshot: a member of a panel has a row per month)
        members[contract.keys].assign(segment=seg.labels),
        args.assignments,
    )
    write_plot_data(scan, args.k_scan)
    save_figure(plots.k_scan_figure(scan, cfg.k), figures / "k_scan.png")
    write_json(result, args.metrics)
    log.info(
        "%s k=%d: silhouette %s, stability ARI %.3f, churn rates %s",
        cfg.algorithm,
        cfg.k,
        f"{seg.silhouette:.3f}" if scored else "(none)",
        seg.stability_ari,
        ", ".join(f"{r:.1%}" for r in rates),
    )


def _model_and_dendrogram(
    seg: segmentation.Segmentation,
    inputs: pd.DataFrame,
    encoder: Any,
    cfg: Any,
    seed: int,
    model: str,
    figures: Path,
) -> None:
    """The segment assigner's skops file, and the Ward dendrogram of a seeded sample."""
    save_model(seg.assigner, model)
    link, sample_rows = segmentation.dendrogram_linkage(inputs, encoder, cfg.dendrogram_rows, seed)
    save_figure(plots.dendrogram_figure(link, cfg.k, sample_rows), figures / "dendrogram.png")


if __name__ == "__main__":
    exit_with(main())
