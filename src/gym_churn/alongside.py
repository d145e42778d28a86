"""Work a stage hands to the machine's other core while it computes the rest.

Stages run one after another and each computes on one core (cli.native_threads), so the
other core of a 2-core machine sat idle. Some work needs nothing a stage computes later (the
feature distributions, the model files), and some splits into independent parts (each k of
the k-scan): a forked child process does it meanwhile. Fork shares the parent's loaded
modules and data without copying or pickling, so the child starts in milliseconds. Only on
Linux: elsewhere fork is absent or unsafe (macOS), and the work runs in line, with the same
files and figures. Work that uses the native thread pools goes to a child only with one
native thread (in_two): an OpenMP pool of more does not survive a fork.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from gym_churn.cli import native_threads
from gym_churn.errors import GymChurnError

T = TypeVar("T")


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


def in_two(compute: Callable[[list[T]], pd.DataFrame], items: list[T], what: str) -> pd.DataFrame:
    """`compute(items)`, one numeric row per item in order, with the items shared by two
    processes: a forked child computes every second one, this process the others.

    For work that uses the native thread pools (k-means refits): only with one native
    thread (cli.native_threads, the default), since an OpenMP pool does not survive a fork;
    otherwise, or where forks() says no, everything runs here. The child's rows come back
    as a .npy file (numbers only, no pickle) and take this process's column types.
    """
    if not forks() or native_threads() != 1 or len(items) < 2:
        return compute(items)
    with tempfile.TemporaryDirectory(prefix="gym-churn-") as folder:
        rows = Path(folder) / "rows.npy"

        def child() -> None:
            np.save(rows, compute(items[1::2]).to_numpy(dtype=float), allow_pickle=False)

        with alongside(child, what):
            here = compute(items[0::2])
        there = pd.DataFrame(np.load(rows, allow_pickle=False), columns=here.columns)
    there = there.astype(here.dtypes.to_dict())
    order = [*range(0, len(items), 2), *range(1, len(items), 2)]
    both = pd.concat([here, there], ignore_index=True)
    return both.set_axis(order).sort_index().reset_index(drop=True)
