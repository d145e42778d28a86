"""Shared command-line plumbing of the stages: logging set-up and clean failure."""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from gym_churn.errors import GymChurnError

log = logging.getLogger("gym_churn")


def configure_logging() -> None:
    level = os.environ.get("GYM_CHURN_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def native_threads() -> int:
    """Threads for the native (OpenMP, BLAS) pools: GYM_CHURN_THREADS, else one.

    One, because OpenMP workers spin-wait at every barrier: when the cores are shared (a
    second `dvc repro`, `dvc exp run -j 2`, a test suite) two threads per process spun for
    minutes on work that takes seconds (a CV run of 3 s took 79 s beside two busy
    processes on the 2-core machine). The pipeline's work is small per call, so one thread
    loses little when the machine is quiet. Set GYM_CHURN_THREADS to use more cores.
    """
    value = os.environ.get("GYM_CHURN_THREADS", "1")
    try:
        return max(1, int(value))
    except ValueError:
        raise GymChurnError(f"GYM_CHURN_THREADS={value!r}: expected a whole number") from None


def stage_main(body: Callable[[list[str] | None], None]) -> Callable[[list[str] | None], int]:
    """Turn a stage body into `main(argv) -> exit code`.

    A GymChurnError (bad data, bad params, unsafe model file) becomes one clear error
    message and exit code 1, with no traceback: the message is the whole story. The body
    runs with the native thread pools bounded (native_threads).
    """

    @functools.wraps(body)
    def main(argv: list[str] | None = None) -> int:
        configure_logging()
        try:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=native_threads()):
                body(argv)
        except GymChurnError as exc:
            log.error("%s", exc)
            return 1
        return 0

    return main


def exit_with(code: int) -> NoReturn:
    """End a stage or command process with `code`, skipping the final garbage collection.

    Interpreter shutdown garbage-collects the objects of the ~2,000 modules a stage imports,
    0.1-0.3 s a process here, paid once per stage under `dvc repro`. Freezing them first
    moves them out of the collector's reach; atexit handlers and file closing still run,
    and every output was already written atomically.
    """
    gc.freeze()
    sys.exit(code)


def parser(
    description: str | None, *paths: str, with_params: bool = True
) -> argparse.ArgumentParser:
    """An argument parser taking `--params` and the given required path options."""
    result = argparse.ArgumentParser(description=description)
    if with_params:
        result.add_argument("--params", required=True, help="params.yaml")
    for name in paths:
        result.add_argument(f"--{name.replace('_', '-')}", dest=name, required=True)
    return result
