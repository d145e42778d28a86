"""Scoring speed and memory of gym-churn-score, with reasons, lever and the drift check.

    python bench/scoring_speed.py                       # 1M parquet, 1M CSV, 10M parquet
    python bench/scoring_speed.py --runs parquet:200000  # a quick look

Each run builds a synthetic export (the bundled members resampled with noise, no target),
scores it with the committed model bundle (models/) in a fresh process, and reports wall
seconds for the whole command (imports, reading, checking, scoring, reasons for the at-risk
members, drift check, writing), members per second, the scoring log's own rate (the loop
alone, as the output's summary.json records it), the peak memory of the largest process,
and, from a second run sampled every 0.2 s, the peak memory of all its processes together:
summed proportional set size (PSS: a page the forked workers share with the main process
counts once, split between them) plus the scored chunks waiting in the shared-memory spool
(tmpfs pages no process maps yet). Summed resident sizes (RSS, shared pages counted in
every process) are given too. Results go to stdout as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import PROJECT, measured, synthetic_base

from gym_churn.scoring.cli import SPOOL_PREFIX


def build_export(rows: int, seed: int, path: Path) -> None:
    chunk, written, parts = 1_000_000, 0, []
    while written < rows:  # in pieces, to keep the generator small
        n = min(chunk, rows - written)
        parts.append(synthetic_base(n, seed + written, with_target=False))
        written += n
    frame = pd.concat(parts, ignore_index=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _kb(text: str, field: str) -> int:
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _tree_memory_mb(root: int) -> tuple[float, float]:
    """Summed RSS and summed PSS (MB) of a process and all its descendants, from /proc
    (Linux), PSS plus the scoring spool's files in /dev/shm."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        parent[int(entry.name)] = _kb(status, "PPid")
    tree, grew = {root}, True
    while grew:
        kids = {p for p, pp in parent.items() if pp in tree} - tree
        grew = bool(kids)
        tree |= kids
    rss = pss = 0
    for pid in tree:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        rss += _kb(rollup, "Rss")
        pss += _kb(rollup, "Pss")
    spool = sum(
        f.stat().st_size for d in Path("/dev/shm").glob(f"{SPOOL_PREFIX}*") for f in d.iterdir()
    ) if Path("/dev/shm").is_dir() else 0  # fmt: skip
    return rss / 1024, pss / 1024 + spool / 2**20


def tree_peak(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds and the peaks of the summed RSS and of summed PSS + spool of the
    command's process tree, sampled every 0.2 s."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_rss = peak_pss = 0.0
    while proc.poll() is None:
        try:
            rss, pss = _tree_memory_mb(proc.pid)
        except OSError:  # a process or spool file went while being read
            rss = pss = 0.0
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.2)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return time.perf_counter() - start, peak_rss, peak_pss


def run(
    fmt: str, rows: int, seed: int, work: Path, models: Path, workers: str, memory_mb: str
) -> dict:
    export = work / f"export_{rows}.{fmt}"
    if not export.exists():
        build_export(rows, seed, export)
    output = work / f"scored_{rows}.{fmt}"
    cmd = [sys.executable, "-m", "gym_churn.scoring.cli", "--model", str(models),
           "--input", str(export), "--output", str(output),
           *(["--workers", workers] if workers else []),
           *(["--memory-mb", memory_mb] if memory_mb else [])]  # fmt: skip
    seconds, peak, log = measured(cmd, PROJECT)
    loop = re.search(
        r"scored by \d+ worker\(s\) in ([\d.]+) s \((\d+) members/s\), (\d+) at risk", log
    )
    summary = json.loads(output.with_name(f"{output.stem}.summary.json").read_text())
    _, total_rss, total_pss = tree_peak(cmd)  # a second run, sampled: all processes
    return {
        "format": fmt,
        "rows": rows,
        "seconds": round(seconds, 2),
        "members_per_second": round(rows / seconds),
        "loop_seconds": float(loop.group(1)) if loop else None,
        "loop_members_per_second": int(loop.group(2)) if loop else None,
        "at_risk": int(loop.group(3)) if loop else None,
        "peak_mb": round(peak),
        "peak_mb_all_processes_pss": round(total_pss),
        "peak_mb_all_processes_rss": round(total_rss),
        "workers": summary["workers"],
        "memory_mb_option": int(memory_mb) if memory_mb else None,
        "drifted": summary["drifted"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", nargs="*",
        default=["parquet:1000000", "csv:1000000", "parquet:10000000", "parquet:10000000:1"],
        help="format:rows[:workers[:memory_mb]] (default: the cores available, --memory-mb's "
        "default)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default=str(PROJECT / "models"))
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="gym-churn-score-bench-") as tmp:
        for spec in args.runs:
            fmt, rows, workers, memory_mb = [*spec.split(":"), "", ""][:4]
            results.append(
                run(fmt, int(rows), args.seed, Path(tmp), Path(args.models), workers, memory_mb)
            )
            sys.stderr.write(json.dumps(results[-1]) + "\n")
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
