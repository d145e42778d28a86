"""bench/determinism.py: every output dvc.lock records is compared by md5 with the reference
lock and across environments; a difference or a failed repro exits non-zero. The repro itself
is faked here (the real one is the bench's job: minutes per environment)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e_helpers import load_bench

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    return load_bench("determinism")


def _lock(root: Path, scored: str, figures: str) -> None:
    lock = {
        "schema": "2.0",
        "stages": {
            "split": {"cmd": "x", "deps": [{"path": "p.py", "md5": "d0"}]},  # no outputs
            "score": {
                "cmd": "x",
                "deps": [{"path": "src/a.py", "md5": "d1"}],  # deps are not outputs
                "outs": [
                    {"path": "data/scored.csv", "md5": scored, "size": 3},
                    {"path": "metrics/score.json", "md5": "m1", "size": 2},
                ],
            },
            "plots": {"cmd": "x", "outs": [{"path": "plots/figures", "md5": figures + ".dir"}]},
        },
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))


def test_lock_outputs_are_every_stages_outs_with_their_md5(bench, tmp_path: Path) -> None:
    _lock(tmp_path, "s1", "f1")
    assert bench.lock_outputs(tmp_path / "dvc.lock") == {
        "data/scored.csv": "s1",
        "metrics/score.json": "m1",
        "plots/figures": "f1.dir",
    }


def test_file_md5s_of_a_file_and_of_a_directory(bench, tmp_path: Path) -> None:
    (tmp_path / "figs/sub").mkdir(parents=True)
    (tmp_path / "figs/a.png").write_bytes(b"a")
    (tmp_path / "figs/sub/b.png").write_bytes(b"b")
    (tmp_path / "one.csv").write_bytes(b"a")
    found = bench.file_md5s(tmp_path, "figs")
    assert sorted(found) == ["figs/a.png", "figs/sub/b.png"]
    assert found["figs/a.png"] == bench.file_md5s(tmp_path, "one.csv")["one.csv"]
    assert bench.file_md5s(tmp_path, "missing.csv") == {}


@pytest.mark.parametrize(
    ("runs", "code", "verdict"),
    [
        ({"default": ("s1", "f1"), "nehalem": ("s1", "f1")}, 0, "0 vary"),
        ({"default": ("s1", "f1"), "nehalem": ("s2", "f1")}, 1, "1 vary"),  # CPU-dependent
        ({"default": ("s2", "f1"), "nehalem": ("s2", "f1")}, 1, "0 vary"),  # moved, stable
        ({"default": ("s1", "f1"), "nehalem": None}, 2, "0 vary"),  # a repro failed
    ],
)
def test_outputs_are_compared_with_the_reference_and_across_environments(
    bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, runs, code, verdict
) -> None:
    def snapshot(destination: Path, rev: str | None) -> None:
        _lock(destination, "s1", "f1")

    def run_environment(name: str, source: Path, workdir: Path):
        copy = workdir / name
        if runs[name] is None:
            return copy, 1.0, False
        _lock(copy, *runs[name])
        return copy, 1.0, True

    monkeypatch.setattr(bench, "snapshot", snapshot)
    monkeypatch.setattr(bench, "run_environment", run_environment)
    assert bench.main(["--envs", ",".join(runs), "--workdir", str(tmp_path / "w")]) == code
    out = capsys.readouterr().out
    assert f"{verdict} between environments" in out
    row = next(line for line in out.splitlines() if line.startswith("data/scored.csv"))
    assert row.split()[-1] == ("VARY" if verdict == "1 vary" else "agree")


def test_an_unknown_environment_is_refused(bench) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--envs", "default,pentium"])
