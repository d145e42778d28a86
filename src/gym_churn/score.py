"""Score a new member export with the models the pipeline wrote.

    python -m gym_churn.score --model models --input export.csv --output scored.csv
    gym-churn-score --model models --input export.parquet --output scored.parquet

Reads  --model    the pipeline's models folder: model.skops, train_summary.json,
                  segments.skops, segment_names.json
       --input    the export: CSV (any delimiter, BOM, CRLF) or parquet; no Churn column needed
       --params   params.yaml (the data contract and engineered features; default params.yaml)
Writes --output   one row per member: member_row, churn_probability, risk_decile, at_risk,
                  segment, segment_name, reason_1..3 with the risk drop of each
The export is streamed in chunks sized by --memory-mb; the output appears only when every
chunk is scored, so a bad row anywhere leaves no partial file.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from gym_churn.cli import exit_with, stage_main
from gym_churn.io import iter_table_chunks, load_model, load_params, read_json, table_writer
from gym_churn.params import Params
from gym_churn.schema import check_export
from gym_churn.scoring import Scorer, score

log = logging.getLogger(__name__)

# Bytes per row in flight (raw chunk, typed copy, features, perturbed copies for reasons):
# the 10M-row benchmark peaked at 0.81 GB with the default 512 MB, about 0.3 GB of it libraries
# and models. Sizes chunks from --memory-mb.
BYTES_PER_ROW = 3000


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", required=True, help="models folder (or its model.skops)")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--memory-mb", type=int, default=512, help="memory for rows in flight")
    p.add_argument("--reasons", type=int, default=3, help="reasons per at-risk member")
    return p


def load_scorer(model_path: str, params_path: str) -> tuple[Scorer, Params]:
    folder = Path(model_path)
    folder = folder.parent if folder.is_file() else folder
    params = load_params(params_path)
    summary = read_json(folder / "train_summary.json")
    names = read_json(folder / "segment_names.json")
    return Scorer(
        model=load_model(folder / "model.skops"),
        threshold=summary["threshold"],
        decile_edges=np.asarray(summary["risk_decile_edges"]),
        typical=summary["typical_values"],
        assigner=load_model(folder / "segments.skops"),
        segment_names={int(k): v for k, v in names.items()},
        features=params.preprocess.features,
    ), params


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    scorer, params = load_scorer(args.model, args.params)
    rows_per_chunk = max(1000, args.memory_mb * 2**20 // BYTES_PER_ROW)
    from tqdm import tqdm  # a bar on a terminal; disable=None keeps CI logs quiet

    start, total, flagged = time.perf_counter(), 0, 0
    with table_writer(args.output) as write, tqdm(unit=" members", disable=None) as bar:
        for chunk in iter_table_chunks(args.input, rows_per_chunk):
            # Repeated rows are kept: an export may list two members with identical data.
            members, _ = check_export(
                chunk, params.preprocess, target=None, duplicates="keep", source=args.input
            )
            scored = score(scorer, members, args.reasons)
            write(scored)
            total += len(scored)
            flagged += int(scored["at_risk"].sum())
            bar.update(len(scored))
    seconds = time.perf_counter() - start
    log.info(
        "%d members scored in %.1f s (%.0f members/s), %d at risk -> %s",
        total, seconds, total / seconds if seconds else float("nan"), flagged, args.output,
    )  # fmt: skip


def run() -> None:
    """The `gym-churn-score` console script."""
    exit_with(main())


if __name__ == "__main__":
    run()
