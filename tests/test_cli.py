"""Shared stage plumbing (gym_churn.cli): exit codes, the fast process exit and the bounded
native thread pools."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from gym_churn.cli import native_threads, stage_main
from gym_churn.errors import DataValidationError, GymChurnError


@pytest.mark.parametrize("code", [0, 1, 3])
def test_exit_with_keeps_the_code_and_runs_exit_handlers(code: int) -> None:
    # Skipping the final garbage collection must not skip atexit handlers (log flushing).
    script = (
        "import atexit\n"
        "from gym_churn.cli import exit_with\n"
        "atexit.register(lambda: print('handlers ran', flush=True))\n"
        f"exit_with({code})\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == code, run.stderr
    assert run.stdout == "handlers ran\n"


# ---------------------------------------------------------------- native thread pools


@pytest.mark.parametrize(("value", "threads"), [(None, 1), ("1", 1), ("2", 2), ("8", 8), ("0", 1)])
def test_native_threads_default_one_and_env_override(monkeypatch, value, threads):
    if value is None:
        monkeypatch.delenv("GYM_CHURN_THREADS", raising=False)
    else:
        monkeypatch.setenv("GYM_CHURN_THREADS", value)

    assert native_threads() == threads


@pytest.mark.parametrize("value", ["two", "1.5", ""])
def test_native_threads_bad_value_is_an_error(monkeypatch, value):
    monkeypatch.setenv("GYM_CHURN_THREADS", value)

    with pytest.raises(GymChurnError, match=f"GYM_CHURN_THREADS={value!r}: expected a whole"):
        native_threads()


def _pool_sizes() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info()}


@pytest.mark.parametrize(("value", "threads"), [(None, 1), ("2", 2), ("3", 3)])
def test_stage_main_bounds_the_native_pools_inside_the_body(monkeypatch, value, threads):
    import sklearn.ensemble  # noqa: F401 (loads the OpenMP runtime, so there is a pool to bound)

    if value is None:
        monkeypatch.delenv("GYM_CHURN_THREADS", raising=False)
    else:
        monkeypatch.setenv("GYM_CHURN_THREADS", value)
    seen: list[set[int]] = []
    main = stage_main(lambda argv: seen.append(_pool_sizes()))

    # start from pools of another size, so the body's size is stage_main's doing
    with threadpool_limits(limits=5):
        outside = _pool_sizes()
        assert main([]) == 0
        assert _pool_sizes() == outside  # restored after the body

    assert threadpool_info(), "no native thread pool loaded"
    assert seen == [{threads}]


def test_stage_main_with_a_bad_thread_setting_fails_cleanly(monkeypatch, caplog):
    monkeypatch.setenv("GYM_CHURN_THREADS", "many")
    ran = []

    assert stage_main(lambda argv: ran.append(argv))([]) == 1

    assert ran == []
    assert "GYM_CHURN_THREADS='many'" in caplog.text


# ---------------------------------------------------------------- stage_main


def test_stage_main_turns_a_user_error_into_exit_code_1(caplog):
    def body(argv):
        raise DataValidationError("exports/x.csv: column 'Age': rule number fails")

    with caplog.at_level(logging.ERROR):
        assert stage_main(body)(["--x"]) == 1

    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "exports/x.csv: column 'Age': rule number fails"
    assert record.exc_info is None  # the message is the whole story: no traceback


def test_stage_main_passes_argv_and_returns_0():
    seen = []

    assert stage_main(seen.append)(["--a", "b"]) == 0
    assert seen == [["--a", "b"]]


def test_stage_main_lets_a_bug_through():
    def body(argv):
        raise KeyError("a bug, not a user error")

    with pytest.raises(KeyError):
        stage_main(body)([])
