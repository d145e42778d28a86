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


def stage_main(body: Callable[[list[str] | None], None]) -> Callable[[list[str] | None], int]:
    """Turn a stage body into `main(argv) -> exit code`.

    A GymChurnError (bad data, bad params, unsafe model file) becomes one clear error
    message and exit code 1, with no traceback: the message is the whole story.
    """

    @functools.wraps(body)
    def main(argv: list[str] | None = None) -> int:
        configure_logging()
        try:
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
