"""Score a new member export with the models the pipeline wrote.

    gym-churn score --model models --input export.csv --output scored.csv
    gym-churn-score --model models --input export.parquet --output scored.parquet

Reads  --model    the pipeline's models folder: model.skops, train_summary.json (with the
                  data contract the model was trained on), segments.skops, segment_names.json
       --input    the export: CSV (any delimiter, BOM, CRLF) or parquet; no target needed
Writes --output   one row per member: the member key (the contract's ID column, or
                  member_row), churn_probability, risk_decile, at_risk, segment,
                  segment_name, reason_1..3 with the risk drop of each
A category level the model never saw is scored as missing, with a warning.
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
from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.errors import GymChurnError
from gym_churn.io import iter_table_chunks, load_model, read_json, table_writer
from gym_churn.scoring.scorer import Scorer, score

log = logging.getLogger(__name__)

# Bytes per row in flight (raw chunk, typed copy, features, perturbed copies for reasons):
# the 10M-row benchmark peaked at 0.81 GB with the default 512 MB, about 0.3 GB of it libraries
# and models. Sizes chunks from --memory-mb.
BYTES_PER_ROW = 3000
OUTPUT_FORMATS = (".csv", ".parquet")  # what table_writer writes; anything else is refused


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", required=True, help="models folder (or its model.skops)")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--memory-mb", type=int, default=512, help="memory for rows in flight")
    p.add_argument("--reasons", type=int, default=3, help="reasons per at-risk member")
    return p


def load_scorer(model_path: str) -> Scorer:
    """Everything scoring needs, from the models folder alone."""
    folder = Path(model_path)
    folder = folder.parent if folder.is_file() else folder
    summary = read_json(folder / "train_summary.json")
    names = read_json(folder / "segment_names.json")
    return Scorer(
        model=load_model(folder / "model.skops"),
        threshold=summary["threshold"],
        decile_edges=np.asarray(summary["risk_decile_edges"]),
        typical=summary["typical_values"],
        assigner=load_model(folder / "segments.skops"),
        segment_names={int(k): v for k, v in names.items()},
        contract=parse_contract(summary["contract"], source=str(folder / "train_summary.json")),
    )


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if Path(args.output).suffix not in OUTPUT_FORMATS:
        raise GymChurnError(
            f"{args.output}: unknown output format {Path(args.output).suffix or '(none)'!r}; "
            f"write {' or '.join(OUTPUT_FORMATS)}"
        )
    scorer = load_scorer(args.model)
    rows_per_chunk = max(1000, args.memory_mb * 2**20 // BYTES_PER_ROW)
    from tqdm import tqdm  # a bar on a terminal; disable=None keeps CI logs quiet

    start, total, flagged = time.perf_counter(), 0, 0
    with table_writer(args.output) as write, tqdm(unit=" members", disable=None) as bar:
        for chunk in iter_table_chunks(args.input, rows_per_chunk):
            # Repeated rows are kept: an export may list two members with identical data.
            members = check_export(
                chunk, scorer.contract, source=args.input, labelled=False,
                lenient_levels=True, duplicates="keep",
            ).members  # fmt: skip
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
