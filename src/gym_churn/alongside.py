"""Work a stage hands to the machine's other core while it computes the rest.

Stages run one after another and each computes on one core (cli.native_threads), so the
other core of a 2-core machine sat idle. Some figures need nothing a stage computes after
reading its inputs (the feature distributions, the correlations): a forked child process
draws them meanwhile. Fork shares the parent's loaded modules and data without copying or
pickling, so the child starts in milliseconds; the child only draws and writes figures
(matplotlib, numpy, pandas), never the native thread pools the models use. Only on Linux:
elsewhere fork is absent or unsafe (macOS), and the work runs in line, with the same files.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import sys
from collections.abc import Callable, Iterator

from gym_churn.errors import GymChurnError

log = logging.getLogger(__name__)


def forks() -> bool:
    """Whether work can go to a forked child here (Linux), or runs in line."""
    return sys.platform == "linux"


@contextlib.contextmanager
def alongside(task: Callable[[], None], what: str) -> Iterator[None]:
    """Run `task` while the with-block runs; the block ends when both are done.

    In a forked child where forks() says so, else in line before the block. The child
    failing raises GymChurnError naming `what` (its traceback went to stderr); the block
    failing stops the child first, so nothing is written after the stage failed.
    """
    if not forks():
        task()
        yield
        return
    child = multiprocessing.get_context("fork").Process(target=task, name=what, daemon=True)
    child.start()
    try:
        yield
    except BaseException:
        child.terminate()
        child.join()
        raise
    child.join()
    if child.exitcode != 0:
        raise GymChurnError(f"{what} failed (exit code {child.exitcode}); its error is above")
