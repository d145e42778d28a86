"""Run the template on other chains' exports with no code change: `gym-churn init`, then
`dvc repro`, on fresh copies of the project. Measures what the data-contract issue asks.

    python bench/exports_run.py                       # the three exports that differ like real ones
    python bench/exports_run.py --only scale_cat scale_num   # the 100,000-row speed pair

For each export (built by bench/exports.py, seeded) it copies the project's tracked files into
a fresh git repository, writes the export under data/raw/, runs `gym-churn init` with the
export's target, positive label and ID, then a timed `dvc repro` (wall seconds, peak memory of
the largest process). It reads back what train compared and kept (CV ROC-AUC of each
candidate on the same folds of the training split), the test ROC-AUC, and checks that the
scored member table carries the export's ID column and that `git status` stays clean
apart from the new export and contract. Results print as a Markdown table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

PROJECT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

log = logging.getLogger("exports_run")

# file, target, positive label, ID column: what a user would pass to `gym-churn init`
EXPORTS = {
    "snake": ("snake.csv", "churn", "Yes", "member_id"),
    "telco": ("telco.csv", "churned", "True", "customer_id"),
    "majority": ("majority.csv", "left", "yes", "member_no"),
    "scale_cat": ("scale_cat.parquet", "churn", "1", "id"),
    "scale_num": ("scale_num.parquet", "churn", "1", "id"),
}
BUILDER = {"snake": "snake", "telco": "telco", "majority": "majority",
           "scale_cat": "scale", "scale_num": "scale"}  # fmt: skip


def _exports_module():
    spec = importlib.util.spec_from_file_location("exports", HERE / "exports.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _fresh_project(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, files):
        if (PROJECT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes((PROJECT / name).read_bytes())
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(cmd, cwd=dest, check=True)
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qm", "bench"],
        cwd=dest,
        check=True,
    )
    return dest


def run_export(name: str, export: Path, workdir: Path) -> dict:
    file_name, target, positive, id_column = EXPORTS[name]
    bench = _bench_module()
    repo = _fresh_project(workdir / f"repo_{name}")
    data = repo / "data" / "raw" / file_name
    data.write_bytes(export.read_bytes())
    init = [sys.executable, "-m", "gym_churn.commands", "init", "--data", f"data/raw/{file_name}",
            "--target", target, "--positive", positive, "--id", id_column]  # fmt: skip
    out = subprocess.run(init, cwd=repo, env=bench._env(), capture_output=True, text=True)
    contract = repo / "data" / "contracts" / f"{Path(file_name).stem}.yaml"
    if out.returncode != 0 or not contract.is_file():
        raise RuntimeError(f"init failed on {name}:\n{out.stdout}\n{out.stderr}")
    seconds, peak_mb, timed_log = bench.measured(["dvc", "repro"], repo)
    summary = json.loads((repo / "models" / "train_summary.json").read_text())
    evaluate = json.loads((repo / "metrics" / "evaluate.json").read_text())
    paths = yaml.safe_load((repo / "dvc.yaml").read_text())["vars"][0]["paths"]
    scored = pd.read_csv(repo / paths["scored"], nrows=5)
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    # init adds the export and its contract and points dvc.yaml at them; the rest is outputs
    expected = {f"data/raw/{file_name}", f"data/contracts/{Path(file_name).stem}.yaml"}
    untracked = {line[3:] for line in status.splitlines() if line.startswith("??")}

    def best(family: str) -> float:
        scores = [c["cv_roc_auc_mean"] for c in summary["candidates"] if c["model"] == family]
        return max(scores) if scores else float("nan")

    return {
        "export": name,
        "rows": summary["train_rows"] + evaluate["test_rows"],
        "picked": summary["model"],
        "cv_picked": summary["cv_roc_auc_mean"],
        "cv_logreg": best("logreg"),
        "cv_hgb": best("hist_gradient_boosting"),
        "test_roc_auc": evaluate["roc_auc"],
        "id_in_scored": scored.columns[0] == id_column,
        "untracked_besides_export": sorted(untracked - expected),
        "seconds": seconds,
        "peak_mb": peak_mb,
        "stage_seconds": {k: round(v, 1) for k, v in bench.stage_seconds(timed_log).items()},
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=["snake", "telco", "majority"],
                        choices=sorted(EXPORTS))  # fmt: skip
    parser.add_argument("--workdir", type=Path, help="keep the repositories here")
    args = parser.parse_args(argv)
    exports = _exports_module()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gym-churn-exports-"))
    workdir.mkdir(parents=True, exist_ok=True)
    builders = sorted({BUILDER[n] for n in args.only})
    exports.main(["--source", str(PROJECT / "data/raw/gym_churn.csv"), "--out",
                  str(workdir / "exports"), "--only", *builders])  # fmt: skip
    rows = []
    for name in args.only:
        result = run_export(name, workdir / "exports" / EXPORTS[name][0], workdir)
        log.info("%s", result)
        rows.append(result)
    header = ("| export | rows | picked | CV picked | CV logreg | CV gradient boosting | "
              "test ROC-AUC | ID in scored | dvc repro s | peak MB |")  # fmt: skip
    lines = [header, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {r['export']} | {r['rows']} | {r['picked']} | {r['cv_picked']:.4f} | "
            f"{r['cv_logreg']:.4f} | {r['cv_hgb']:.4f} | {r['test_roc_auc']:.4f} | "
            f"{'yes' if r['id_in_scored'] else 'NO'} | {r['seconds']:.1f} | {r['peak_mb']:.0f} |"
        )
    for r in rows:
        stages = ", ".join(f"{k} {v:.0f}" for k, v in r["stage_seconds"].items())
        lines.append(f"\n{r['export']}: seconds per stage: {stages}")
    by_name = {r["export"]: r for r in rows}
    if {"scale_cat", "scale_num"} <= by_name.keys():
        ratio = by_name["scale_cat"]["seconds"] / by_name["scale_num"]["seconds"]
        lines.append(
            f"\n100,000 rows: categorical / numeric-only time {ratio:.2f}x (target <= 1.5x)"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
