"""The pipeline on a busy machine: `dvc repro --force` alone and beside CPU-bound processes,
and a queue of two experiments run in parallel (-j 2) against one at a time (-j 1).

    python bench/load.py [--busy 2] [--runs 1]

Works in a fresh copy of the project's tracked files (bundled export). No thread variable is
set: the stages bound their own native thread pools. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
log = logging.getLogger("load")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMP_", "MKL_", "GYM_CHURN_THREADS", "OPENBLAS_NUM"))}  # fmt: skip
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _run(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return time.perf_counter() - start


def _spin(stop: mp.Event) -> None:  # type: ignore[valid-type]
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def _copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True,
                           text=True, check=True).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        if (PROJECT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes((PROJECT / name).read_bytes())
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "b"],
    ):
        subprocess.run(cmd, cwd=dest, check=True)  # fmt: skip
    return dest


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes beside it")
    args = parser.parse_args(argv)
    repo = _copy(Path(tempfile.mkdtemp(prefix="gym-churn-load-")))
    _run(["dvc", "repro"], repo)
    quiet = _run(["dvc", "repro", "--force"], repo)
    log.info("quiet: %.1f s", quiet)
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,)) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        busy = _run(["dvc", "repro", "--force"], repo)
    finally:
        stop.set()
        for p in spinners:
            p.join()
    log.info("beside %d busy processes: %.1f s", args.busy, busy)
    times = {}
    for jobs in (1, 2):
        _run(["dvc", "exp", "run", "--queue", "-S", "cluster.k=4,6"], repo)
        times[jobs] = _run(["dvc", "exp", "run", "--run-all", "-j", str(jobs)], repo)
        subprocess.run(["dvc", "exp", "remove", "--all-commits", "-q"], cwd=repo, env=_env())
        log.info("queue of 2 experiments, -j %d: %.1f s", jobs, times[jobs])
    lines = [
        "| run | seconds |",
        "|---|---|",
        f"| `dvc repro --force`, quiet | {quiet:.1f} |",
        f"| `dvc repro --force` beside {args.busy} CPU-bound processes | {busy:.1f} "
        f"({busy / quiet:.2f}x; target <= 2x) |",
        f"| 2 queued experiments (cluster.k=4,6), `--run-all -j 1` | {times[1]:.1f} |",
        f"| the same, `--run-all -j 2` | {times[2]:.1f} |",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
