"""Helpers for end-to-end tests: a throwaway git+dvc copy of the project and real commands."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

PROJECT = Path(__file__).resolve().parents[1]


def command_env() -> dict[str, str]:
    """This interpreter's bin dir first on PATH: dvc stages call `python`."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GIT_DIR", None)
    return env


# No single command of the suite takes a minute here; a hung one fails its test instead of CI.
COMMAND_TIMEOUT = 600


def run(
    cmd: list[str], cwd: Path, check: bool = True, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**command_env(), **(extra_env or {})}
    result = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    return [name for name in out.stdout.split("\0") if name]


def copy_project(dest: Path) -> Path:
    """Copy the git-tracked files into `dest` as a fresh git repository with one commit."""
    for name in tracked_files():
        src = PROJECT / name
        if not src.is_file():
            continue  # deleted in the working tree but not yet committed
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "config", "user.email", "ci@example.com"], dest)
    run(["git", "config", "user.name", "CI"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "snapshot"], dest)
    return dest


def git_status(repo: Path) -> str:
    return run(["git", "status", "--porcelain"], repo).stdout


def run_detaching(
    cmd: list[str],
    cwd: Path,
    log: Path,
    extra_env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
) -> str:
    """Run a command that leaves detached processes behind (dvc's queue workers), with its
    output in a file: a detached process inherits the output, and one slow to exit would
    hold a pipe open and the test waiting after the command itself has finished. Then kill
    whatever still runs in `cwd`. Returns the output; raises if the command failed.
    Variables whose names start with one of `unset` are removed from its environment."""
    env = {**command_env(), **(extra_env or {})}
    env = {k: v for k, v in env.items() if not (unset and k.startswith(unset))}
    try:
        with log.open("w") as out:
            code = subprocess.run(
                cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                timeout=COMMAND_TIMEOUT, check=False,
            ).returncode  # fmt: skip
    finally:
        kill_processes_in(cwd)
    text = log.read_text()
    if code != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {code}\n{text}")
    return text


def kill_processes_in(folder: Path) -> list[int]:
    """SIGKILL every process whose working directory is inside `folder` (Linux /proc)."""
    root, killed = folder.resolve(), []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = (proc / "cwd").resolve(strict=True)
        except OSError:
            continue  # gone, or not ours to inspect
        if cwd == root or root in cwd.parents:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
    return killed


def plots_with_data(root: Path) -> list[str]:
    """The titles of dvc.yaml's plots that dvc draws in `root`: those with a data row in at
    least one of their files (a plot whose files hold only a header, such as the backtest of
    an export with one snapshot, draws nothing)."""
    import yaml

    drawn = []
    for plot in yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["plots"]:
        ((title, spec),) = plot.items()
        files = spec["y"] if isinstance(spec.get("y"), dict) else {title: None}
        if any(
            (root / name).is_file() and len((root / name).read_text().splitlines()) > 1
            for name in files
        ):
            drawn.append(title)
    return drawn


def load_bench(name: str) -> ModuleType:
    """bench/<name>.py as a module: bench/ is not a package, so it is imported by its path."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", PROJECT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Fewer resamples: the e2e tests of other exports read words, IDs and files, not the width of
# a CI; it keeps the whole suite inside CI's time budget. (section, key, value)
LIGHTER = [
    ("evaluate", "permutation_repeats", 3),
    ("cluster", "n_init", 3),
    ("cluster", "stability_resamples", 3),
]


def lighten(params: Path) -> None:
    """Set the LIGHTER keys in a params.yaml in place, keeping its comments."""
    text = params.read_text()
    for section, key, value in LIGHTER:
        pattern = rf"(^{section}:\n(?:[ #].*\n|\n)*?\s+{key}:\s*)\d+"
        text, count = re.subn(pattern, rf"\g<1>{value}", text, count=1, flags=re.MULTILINE)
        assert count == 1, (section, key)
    params.write_text(text)
