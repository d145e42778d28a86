"""Shared stage plumbing (gym_churn.cli): exit codes and the fast process exit."""

from __future__ import annotations

import subprocess
import sys

import pytest


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
