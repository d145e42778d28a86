"""Work a stage hands to another core: done before the stage ends, results in order,
failures loud."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

from gym_churn import alongside as module
from gym_churn.alongside import alongside, forks, in_two
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
    go, saw = tmp_path / "go", tmp_path / "saw-go"

    def task() -> None:  # waits for the block: run before it, in line, it would wait in vain
        deadline = time.monotonic() + 5
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        if go.exists():
            _write(saw, "x")

    with alongside(task, "a task waiting for the block"):
        _write(go, "x")
    assert saw.exists()  # the child got going while this block was still running


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


def _rows(items: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"k": items, "third": [k / 3 for k in items], "pid": [os.getpid()] * len(items)}
    )


@pytest.mark.parametrize("items", [[2, 3, 4, 5, 6, 7, 8, 9, 10], [4, 5], [7]])
def test_in_two_gives_the_rows_compute_gives_in_order(items: list[int]) -> None:
    result = in_two(_rows, items, "a scan")
    expected = _rows(items)
    pd.testing.assert_frame_equal(result.drop(columns="pid"), expected.drop(columns="pid"))
    assert result["k"].dtype == expected["k"].dtype  # whole numbers stay whole (k_scan.csv)
    # with two items or more, every second row came from another process where it forks
    helpers = set(result["pid"]) - {os.getpid()}
    assert len(helpers) == (1 if forks() and len(items) > 1 else 0)
    if len(items) > 1:
        assert set(result["pid"].iloc[1::2]) == (helpers or {os.getpid()})
        assert set(result["pid"].iloc[0::2]) == {os.getpid()}


@pytest.mark.parametrize(("fork", "threads"), [(False, 1), (True, 2)])
def test_in_two_stays_in_this_process_without_fork_or_with_native_threads(
    monkeypatch: pytest.MonkeyPatch, fork: bool, threads: int
) -> None:
    # an OpenMP pool of more than one thread does not survive a fork: no second process
    monkeypatch.setattr(module, "forks", lambda: fork)
    monkeypatch.setattr(module, "native_threads", lambda: threads)
    result = in_two(_rows, [2, 3, 4, 5], "a scan")
    assert set(result["pid"]) == {os.getpid()}
    assert result["k"].tolist() == [2, 3, 4, 5]


def _fail_on_odd(items: list[int]) -> pd.DataFrame:
    if any(k % 2 for k in items):
        raise RuntimeError("no fit")
    return _rows(items)


def test_in_two_fails_with_its_name_when_the_child_fails() -> None:
    if not forks():
        pytest.skip("no fork here")
    with pytest.raises(GymChurnError, match="the test scan failed"):
        in_two(_fail_on_odd, [2, 3, 4, 5], "the test scan")
