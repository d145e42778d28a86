"""Are the pipeline's written outputs the same bytes on any CPU path?

    python bench/determinism.py [--envs default,haswell,nehalem,npy-capped] [--rev REV]
                                [--keep] [--workdir DIR]

It takes a snapshot of this repository (its working tree without .git, .venv and the dvc
cache, or with --rev a commit's files from `git archive`), then for each environment copies
the snapshot to a temporary directory, makes that a git repository and runs
`dvc repro --force` there with the environment's variables and PYTHONPATH=<copy>/src (so the
snapshot's own code runs, not whatever the editable install points at). It compares the md5
of every output dvc.lock records (`outs` and `metrics` of every stage, models and data
included; a directory by dvc's directory hash) with the snapshot's dvc.lock (the committed
outputs, on a clean checkout), prints one row per output and one column per environment
("=" same bytes, "DIFF" different) and whether the environments agree with each other
("VARY": the bytes depend on the CPU path), names the files that differ inside a differing
output, and exits 1 if any output differs from the reference, 2 if a repro failed. (After a
change that moves outputs, and before dvc.lock is committed again, every environment shows
DIFF for them: then the last column is the one to read.)

Environments (each adds to the current environment; an OPENBLAS_CORETYPE set outside is
dropped unless the environment sets its own):
- default:     as is (on an AVX-512 machine numpy's AVX-512 kernels are used);
- haswell:     OPENBLAS_CORETYPE=Haswell (OpenBLAS's AVX2 kernels);
- nehalem:     OPENBLAS_CORETYPE=Nehalem (OpenBLAS's SSE kernels: another summation order);
- npy-capped:  NPY_DISABLE_CPU_FEATURES="X86_V4,AVX512_ICL" (numpy's dispatch capped at AVX2);
- haswell-npy-capped: both of the above (what a machine without AVX-512 runs);
- one-thread:  OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 (no parallel reductions).

Time: one `dvc repro --force` took 104-414 s on this project's 2-core machine on 2026-12-06,
while other work shared it (less on an idle machine), so the four default environments take
about 7 to 25 minutes; they run one after another. Temporary copies are removed
unless --keep or --workdir.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]


def say(text: str = "") -> None:
    """Write one line to stdout now (the runs are long: progress shows as it comes)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


ENVIRONMENTS: dict[str, dict[str, str]] = {
    "default": {},
    "haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "nehalem": {"OPENBLAS_CORETYPE": "Nehalem"},
    "npy-capped": {"NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL"},
    "haswell-npy-capped": {
        "OPENBLAS_CORETYPE": "Haswell",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL",
    },
    "one-thread": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
}
DEFAULT_ENVS = "default,haswell,nehalem,npy-capped"
EXCLUDED = (".git", ".venv", ".dvc/cache", ".dvc/tmp", ".pytest_cache", ".ruff_cache")


def lock_outputs(lock_path: Path) -> dict[str, str]:
    """Map every output path (outs and metrics, all stages) of a dvc.lock to its md5."""
    lock = yaml.safe_load(lock_path.read_text())
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
        if "md5" in out
    }


def file_md5s(root: Path, output: str) -> dict[str, str]:
    """md5 of each file of one output (a file or a directory), by path relative to root."""
    path = root / output
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in files
        if p.exists()
    }


def snapshot(destination: Path, rev: str | None) -> None:
    """The files to reproduce: a commit's (git archive) or the working tree's (without git,
    the venv or dvc's cache)."""
    if rev is not None:
        destination.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", rev], cwd=PROJECT, check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(destination)], input=archive.stdout, check=True)
        return

    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(PROJECT)
        return {n for n in names if str(relative / n).removeprefix("./") in EXCLUDED}

    shutil.copytree(PROJECT, destination, ignore=ignore, symlinks=True)


def copy_tree(source: Path, destination: Path) -> None:
    """Copy the snapshot and make it a git repository (dvc wants one)."""
    shutil.copytree(source, destination, symlinks=True)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run([*git, *args], cwd=destination, check=True, stdout=subprocess.DEVNULL)


def run_environment(name: str, source: Path, workdir: Path) -> tuple[Path, float, bool]:
    """Copy the snapshot and run `dvc repro --force` in it; return the copy, seconds and
    whether it succeeded."""
    copy = workdir / name
    copy_tree(source, copy)
    # the copy's own code: an editable install would run the original tree's
    python_path = os.pathsep.join(filter(None, [str(copy / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, **ENVIRONMENTS[name], "PYTHONPATH": python_path}
    if "OPENBLAS_CORETYPE" not in ENVIRONMENTS[name]:
        env.pop("OPENBLAS_CORETYPE", None)
    start = time.perf_counter()
    with (workdir / f"{name}.log").open("w") as log:
        done = subprocess.run(
            ["dvc", "repro", "--force"], cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return copy, time.perf_counter() - start, done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default=DEFAULT_ENVS, help=f"of {', '.join(ENVIRONMENTS)}")
    parser.add_argument("--rev", help="reproduce this commit (default: the working tree)")
    parser.add_argument("--workdir", type=Path, help="where the copies go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the copies")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.envs.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENVIRONMENTS]
    if unknown:
        parser.error(f"unknown environments {unknown}; known: {list(ENVIRONMENTS)}")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gym-churn-determinism-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "snapshot"
    snapshot(source, args.rev)
    reference = lock_outputs(source / "dvc.lock")
    results: dict[str, dict[str, str]] = {}
    failed = []
    try:
        for name in names:
            copy, seconds, ok = run_environment(name, source, workdir)
            say(f"{name}: dvc repro --force {'ok' if ok else 'FAILED'} in {seconds:.0f} s")
            if not ok:
                failed.append(name)
                say(f"  log: {workdir / f'{name}.log'}")
                continue
            results[name] = {"__copy__": str(copy), **lock_outputs(copy / "dvc.lock")}

        done = [n for n in names if n in results]
        width = max(len(p) for p in reference)
        say()
        header = "  ".join(f"{n:>{max(len(n), 4)}}" for n in done)
        say(f"{'output':<{width}}  {header}  environments")
        differing, varying = [], []
        for output in sorted(reference):
            cells = []
            for name in done:
                same = results[name].get(output) == reference[output]
                cells.append(f"{'=' if same else 'DIFF':>{max(len(name), 4)}}")
                if not same:
                    differing.append((name, output))
            agree = len({results[n].get(output) for n in done}) <= 1
            if not agree:
                varying.append(output)
            say(f"{output:<{width}}  " + "  ".join(cells) + f"  {'agree' if agree else 'VARY'}")

        if differing:
            say("\nFiles that differ from the snapshot's:")
            for output in sorted({o for _, o in differing}):
                names_here = [n for n, o in differing if o == output]
                everywhere = len(names_here) == len(done) > 1 and output not in varying
                if everywhere:  # the same bytes in every environment: said once
                    names_here = names_here[:1]
                ours = file_md5s(source, output)
                for name in names_here:
                    theirs = file_md5s(Path(results[name]["__copy__"]), output)
                    changed = [
                        f for f in sorted(set(theirs) | set(ours)) if theirs.get(f) != ours.get(f)
                    ]
                    if not ours:  # a dvc-cached output: git (and so --rev) does not hold it
                        changed = ["(not in the snapshot: compare the md5s above)"]
                    which = "every environment" if everywhere else name
                    say(f"  {output} ({which}): {', '.join(changed)}")
        say(
            f"\n{len(reference)} outputs x {len(done)} environments: {len(differing)} differ "
            f"from the reference dvc.lock; {len(varying)} vary between environments"
            + (f" ({', '.join(varying)})" if varying else "")
        )
    finally:
        if args.keep or args.workdir is not None:
            say(f"copies kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        return 2
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
