"""Work a stage hands to another core: done once, before the stage ends, failures loud."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gym_churn import alongside as module
from gym_churn.alongside import alongside, forks
from gym_churn.errors import GymChurnError


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def test_forks_where_fork_is_safe() -> None:
    assert forks() is (os.uname().sysname == "Linux")


@pytest.mark.parametrize("fork", [True, False])
def test_the_task_and_the_block_both_run_before_the_block_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    if fork and not forks():
        pytest.skip("no fork here")
    monkeypatch.setattr(module, "forks", lambda: fork)
    task = tmp_path / "task.txt"
    with alongside(lambda: _write(task, str(os.getpid())), "a task"):
        block = os.getpid()
    assert task.exists()  # the child finished before the block ended
    assert (int(task.read_text()) != block) is fork  # a child of its own, or this process


def test_the_task_runs_while_the_block_runs(tmp_path: Path) -> None:
    if not forks():
        pytest.skip("no fork here")
    started = tmp_path / "started"
    with alongside(lambda: (_write(started, "x"), time.sleep(0.5)), "a slow task"):
        deadline = time.monotonic() + 5
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists()  # the child got going while this block was still running


def _fail() -> None:
    raise RuntimeError("no figure")


def test_a_failed_task_fails_the_stage_with_its_name() -> None:
    if not forks():
        pytest.skip("no fork here")
    with (
        pytest.raises(GymChurnError, match="drawing the test figures failed"),
        alongside(_fail, "drawing the test figures"),
    ):
        pass


def test_a_failed_block_stops_the_task_before_it_writes(tmp_path: Path) -> None:
    if not forks():
        pytest.skip("no fork here")
    late = tmp_path / "late.txt"

    def slow() -> None:
        time.sleep(0.6)
        _write(late, "written after the stage failed")

    with pytest.raises(ValueError, match="bad input"), alongside(slow, "a slow task"):
        raise ValueError("bad input")
    time.sleep(0.9)
    assert not late.exists()
