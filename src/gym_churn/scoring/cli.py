"""Score a new member export with the models the pipeline wrote.

    gym-churn score --model models --input export.csv --output scored.csv
    gym-churn-score --model models --input export.parquet --output scored.parquet

Reads  --model    the model bundle (the pipeline's models folder), all it needs:
                  runtime.npz (the model and segment assigner as arrays; model.skops and
                  segments.skops for a model with no runtime form: a random forest, a
                  calibrated model), train_summary.json (the data contract, threshold,
                  decile edges), scoring.json (reasons' background, levers, drift
                  reference, settings), segment_names.json. No checkout, no params.yaml,
                  no scikit-learn unless a model has no runtime form.
       --input    the export: CSV (any delimiter, BOM, CRLF) or parquet; no target needed
Writes --output   .csv or .parquet, one row per member: the member key (the contract's ID
                  column, or the row number, named after the population: member_row),
                  churn_probability, risk_decile, at_risk, segment, segment_name; for
                  at-risk members reason_1..n (words, values, direction)
                  with reason_k_points (percentage points), lever and lever_points
       beside it  <output>.drift.csv: each column's PSI against the training base, new levels
                  <output>.summary.json: counts, speed, and the columns that drifted
A category level the model never saw is scored as missing, with a warning. Repeated members
follow the contract's `duplicates` rule as in the pipeline's preprocess stage (error: refused,
naming the lines; drop: the first kept; keep), across the whole export, not chunk by chunk.
The export is streamed in chunks sized by --memory-mb (a parquet export in a multiple of
the workers' count of even chunks); the outputs appear only when every chunk is scored, so
a bad row anywhere leaves no partial file.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.cli import exit_with, stage_main
from gym_churn.contract.checks import (
    Seen,
    check_export,
    refuse_repeats,
    remember_members,
    repeated_members,
    warm_up,
)
from gym_churn.errors import GymChurnError
from gym_churn.io import (
    arrow_table,
    iter_table_chunks,
    read_arrow_file,
    sidecar,
    table_rows,
    table_writer,
    write_arrow_file,
    write_json,
    write_table,
)
from gym_churn.scoring import drift
from gym_churn.scoring.load import load_scorer
from gym_churn.scoring.scorer import score

log = logging.getLogger(__name__)

# Bytes a row of the chunk being scored costs (raw chunk, typed copy, features, Shapley
# values, lever what-ifs, reason text, the Arrow table, the next chunk read ahead): scoring
# the 3M-row benchmark export in one process with 298,000-row chunks peaked at 1.07 GB, 0.29
# GB of it libraries and models, so ~2.6 KB a row (a worker process alone: ~1.7 KB).
# --memory-mb is shared by the processes scoring.
BYTES_PER_ROW = 2600
# The default share: with two workers, 10M rows peaked at 954 MB for all processes together
# (PSS; 1,097 MB with 512) at the same speed, and at 810-825 MB on later code
# (bench/scoring_speed.py, bench/scoring_speed_results.json).
MEMORY_MB = 384
SPOOL_PREFIX = "gym-churn-score-"  # the folder workers leave scored chunks in
OUTPUT_FORMATS = (".csv", ".parquet")  # what table_writer writes; anything else is refused


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", required=True, help="models folder (or its model.skops)")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--memory-mb", type=int, default=MEMORY_MB, help="memory for rows in flight")
    p.add_argument(
        "--reasons", type=int, default=None, help="reasons per at-risk member (bundle's default)"
    )
    p.add_argument(
        "--workers", type=int, default=None,
        help="processes scoring chunks side by side (default: the cores this process may use)",
    )  # fmt: skip
    return p


# The scorer of a worker process, set by its initializer.
_WORKER: dict[str, Any] = {}


Found = tuple[np.ndarray, np.ndarray] | None  # a chunk's members' fingerprints and rows


def _score_chunk(
    scorer: Any, chunk: pd.DataFrame, source: str, spool: Path | None = None
) -> tuple[Any, int, dict, Found]:
    """One chunk: checked, scored (reasons, lever) and counted for the drift check. The
    scored rows come back as an Arrow table, or (from a worker process, `spool` given) as
    the path of the Arrow file they were written to there: far cheaper than pickling a
    frame or a table through the pool's pipe. Also the members at risk, drift counts and
    (unless the contract keeps repeats) the members' fingerprints and rows in the file, for
    finding a member repeated in a later chunk."""
    # the contract's duplicates rule within the chunk, as preprocess applies it
    checked = check_export(
        chunk, scorer.contract, source=source, labelled=False, lenient_levels=True
    )
    members = checked.members
    scored = score(scorer, members)
    # categories as read (an unseen level is a gap to the model), in the kept rows only
    as_read = chunk.loc[checked.rows, [c for c in scorer.contract.categorical if c in chunk]]
    counts = drift.counts(scorer.reference, members, raw=as_read)
    table = arrow_table(scored)
    at_risk = int(scored["at_risk"].sum())
    found = None if checked.fingerprints is None else (checked.fingerprints, checked.rows)
    if spool is None:
        return table, at_risk, counts, found
    path = spool / f"{chunk.index[0] if len(chunk) else 0}.arrow"  # first row: unique
    write_arrow_file(table, path)
    return path, at_risk, counts, found


def across_chunks(
    table: Any, at_risk: int, found: Found, seen: Seen, scorer: Any, source: str
) -> tuple[Any, int, Seen]:
    """A scored chunk's table and count at risk without the members an earlier chunk
    already had (the contract's `duplicates: drop`), and the fingerprints seen so far; with
    `duplicates: error` such a member is refused, naming its line. Repeats within the chunk
    were handled by check_export."""
    if found is None:  # duplicates: keep
        return table, at_risk, seen
    fingerprints, rows = found
    repeated = repeated_members(fingerprints, seen)
    if repeated.any():
        key = scorer.contract.key
        if scorer.contract.duplicates == "error":
            keys = np.asarray(table.column(key).to_pylist(), dtype=object)[repeated]
            refuse_repeats(scorer.contract, rows[repeated], keys, source)
        log.warning(
            "%s: dropped %d member row(s) repeating a member of an earlier chunk",
            source, int(repeated.sum()),
        )  # fmt: skip
        import pyarrow as pa
        import pyarrow.compute as pc

        # their drift counts stay in: a handful of repeats cannot move a PSI
        table = table.filter(pa.array(~repeated))
        at_risk = int(pc.sum(table.column("at_risk")).as_py() or 0)
    return table, at_risk, remember_members(seen, fingerprints[~repeated])


def _start_worker(scorer: Any) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # each worker is one core's worth: no OpenMP spinning
    _WORKER["scorer"] = scorer


def _worker_chunk(chunk: pd.DataFrame, source: str, spool: Path) -> tuple[Any, int, dict, Found]:
    return _score_chunk(_WORKER["scorer"], chunk, source, spool)


def even_chunks(budget: int, total: int | None, workers: int) -> int:
    """Rows per chunk: at most `budget`, and, when the export's size is known, as many
    chunks as a multiple of `workers`, all of one size, so the workers finish together (13
    chunks on 2 workers leave one scoring the last alone)."""
    if total is None or workers <= 1 or total <= budget:
        return budget
    chunks = -(-total // budget)  # ceiling division
    chunks = -(-chunks // workers) * workers
    return -(-total // chunks)


def _spool_parent() -> str | None:
    """Where worker processes leave scored chunks: shared memory where the system has it,
    the system's temporary folder otherwise."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _scored_chunks(
    scorer: Any, chunks: Iterator[pd.DataFrame], source: str, workers: int
) -> Iterator[tuple[Any, int, dict, Found]]:
    """Scored chunks (Arrow tables) in file order. An export of one chunk is scored here; a
    longer one by `workers` processes, with up to 2 * workers + 1 chunks in flight at once
    (memory stays bounded); a failing chunk stops the run with its error. A worker's chunk
    is read from its spool file, which is removed once the caller is done with the table
    (when the next one is asked for)."""
    chunks = iter(chunks)
    head = list(islice(chunks, 2))
    if workers <= 1 or len(head) < 2:
        for chunk in chain(head, chunks):
            yield _score_chunk(scorer, chunk, source)
        return
    # fork shares the loaded models with the workers; spawn (elsewhere) pickles them once each
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    if context.get_start_method() == "fork":
        warm_up(scorer.contract)  # once here, not once per worker
    with (
        tempfile.TemporaryDirectory(prefix=SPOOL_PREFIX, dir=_spool_parent()) as tmp,
        ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(scorer,)
        ) as pool,
    ):
        spool = Path(tmp)

        def take(future: Any) -> Iterator[tuple[Any, int, dict, Found]]:
            path, at_risk, counts, found = future.result()
            yield read_arrow_file(path), at_risk, counts, found
            path.unlink()  # the caller has written the table: its pages can go

        pending: deque = deque()
        for chunk in chain(head, chunks):
            pending.append(pool.submit(_worker_chunk, chunk, source, spool))
            # a chunk waiting for each worker while the oldest is written: no worker idles
            if len(pending) > 2 * workers:
                yield from take(pending.popleft())
        while pending:
            yield from take(pending.popleft())


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if Path(args.output).suffix not in OUTPUT_FORMATS:
        raise GymChurnError(
            f"{args.output}: unknown output format {Path(args.output).suffix or '(none)'!r}; "
            f"write {' or '.join(OUTPUT_FORMATS)}"
        )
    scorer = load_scorer(args.model)
    if args.reasons is not None:
        scorer = replace(scorer, n_reasons=args.reasons)
    workers = args.workers or len(os.sched_getaffinity(0))
    # one chunk per worker; in one process the next chunk read ahead and the table being
    # written sit beside the one scored, so it takes two shares (with one, 10M rows peaked
    # at 1.08 GB)
    budget = max(1000, args.memory_mb * 2**20 // BYTES_PER_ROW // max(2, workers))
    rows_per_chunk = even_chunks(budget, table_rows(args.input), workers)
    from tqdm import tqdm  # a bar on a terminal; disable=None keeps CI logs quiet

    start, total, flagged, counted = time.perf_counter(), 0, 0, None
    seen: Seen = ()  # the members of the chunks written, when the contract refuses repeats
    with table_writer(args.output) as write, tqdm(unit=" members", disable=None) as bar:
        chunks = iter_table_chunks(args.input, rows_per_chunk)
        for scored, at_risk, counts, found in _scored_chunks(scorer, chunks, args.input, workers):
            scored, at_risk, seen = across_chunks(scored, at_risk, found, seen, scorer, args.input)
            write(scored)
            counted = drift.add_counts(counted, counts)
            total += scored.num_rows
            flagged += at_risk
            bar.update(scored.num_rows)
        # the drift check, beside the output, before the output itself appears
        if counted is None:  # no rows: nothing drifted
            empty = pd.DataFrame({c: pd.Series(dtype=float) for c in scorer.reference})
            counted = drift.counts(scorer.reference, empty)
        table = drift.drift_table(scorer.reference, counted, scorer.contract, scorer.drift_psi)
        drifted = table.loc[table["drifted"]]
        for row in drifted.itertuples():
            log.warning(
                "%s (%s) drifted from the training base: PSI %.3f%s; the model may need "
                "retraining", row.feature, row.label, row.psi,
                f", new levels {row.new_levels}" if row.new_levels else "",
            )  # fmt: skip
        seconds = time.perf_counter() - start
        write_table(table, sidecar(args.output, "drift.csv"))
        write_json(
            {
                "members": total,
                "at_risk": flagged,
                "seconds": seconds,
                "members_per_second": total / seconds if seconds else None,
                "workers": workers,
                "drift_psi_threshold": scorer.drift_psi,
                "drifted": drifted["feature"].tolist(),
                "warnings": [f"{r.feature} drifted: PSI {r.psi:.3f}" for r in drifted.itertuples()],
            },
            sidecar(args.output, "summary.json"),
        )
    log.info(
        "%d members scored by %d worker(s) in %.1f s (%.0f members/s), %d at risk -> %s",
        total, workers, seconds, total / seconds if seconds else float("nan"), flagged,
        args.output,
    )  # fmt: skip


def run() -> None:
    """The `gym-churn-score` console script."""
    exit_with(main())


if __name__ == "__main__":
    run()
