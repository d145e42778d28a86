"""Scoring speed and memory of gym-churn-score, with reasons, lever and the drift check.

    python bench/scoring_speed.py                       # 1M parquet, 1M CSV, 10M parquet
    python bench/scoring_speed.py --runs parquet:200000  # a quick look

Each run builds a synthetic export (the bundled members resampled with noise, no target),
scores it with the committed model bundle (models/) in a fresh process, and reports wall
seconds for the whole command (imports, reading, checking, scoring, reasons for the at-risk
members, drift check, writing), members per second, the scoring log's own rate (the loop
alone), the peak memory of the largest process, and (from a second, sampled run) the peak of
all its processes together. Results go to stdout as JSON.
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


def _tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants, from /proc (Linux)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        pid = int(entry.name)
        parent[pid] = int(fields.get("PPid", "0").strip())
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, grew = {root}, True
    while grew:
        kids = {p for p, pp in parent.items() if pp in tree} - tree
        grew = bool(kids)
        tree |= kids
    return sum(rss.get(p, 0) for p in tree) / 1024


def tree_peak(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and the peak of the summed memory of the command's process tree,
    sampled every 0.2 s."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mb(proc.pid))
        time.sleep(0.2)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return time.perf_counter() - start, peak


def run(fmt: str, rows: int, seed: int, work: Path, models: Path, workers: str) -> dict:
    export = work / f"export_{rows}.{fmt}"
    if not export.exists():
        build_export(rows, seed, export)
    output = work / f"scored_{rows}.{fmt}"
    cmd = [sys.executable, "-m", "gym_churn.scoring.cli", "--model", str(models),
           "--input", str(export), "--output", str(output),
           *(["--workers", workers] if workers else [])]  # fmt: skip
    seconds, peak, log = measured(cmd, PROJECT)
    loop = re.search(
        r"scored by \d+ worker\(s\) in ([\d.]+) s \((\d+) members/s\), (\d+) at risk", log
    )
    summary = json.loads(output.with_name(f"{output.stem}.summary.json").read_text())
    _, total_peak = tree_peak(cmd)  # a second run, sampled: all processes together
    return {
        "format": fmt,
        "rows": rows,
        "seconds": round(seconds, 2),
        "members_per_second": round(rows / seconds),
        "loop_seconds": float(loop.group(1)) if loop else None,
        "loop_members_per_second": int(loop.group(2)) if loop else None,
        "at_risk": int(loop.group(3)) if loop else None,
        "peak_mb": round(peak),
        "peak_mb_all_processes": round(total_peak),
        "workers": summary["workers"],
        "drifted": summary["drifted"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", nargs="*",
        default=["parquet:1000000", "csv:1000000", "parquet:10000000", "parquet:10000000:1"],
        help="format:rows[:workers] (workers: default, the cores available)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default=str(PROJECT / "models"))
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="gym-churn-score-bench-") as tmp:
        for spec in args.runs:
            fmt, rows, *workers = spec.split(":")
            results.append(
                run(fmt, int(rows), args.seed, Path(tmp), Path(args.models), "".join(workers))
            )
            sys.stderr.write(json.dumps(results[-1]) + "\n")
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
