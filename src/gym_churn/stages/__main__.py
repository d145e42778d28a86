"""`python -m gym_churn.stages <stage> [options]`: run one stage, as dvc.yaml's commands do.

A command hands its stage to the stage server when there is one (stages._server: a process
with the libraries loaded that forks a child per stage), and starts one for the next
command when there is none.

The same as `python -m gym_churn.stages.<stage> [options]`, started faster: the cyclic
garbage collector is off while the stage's modules load (pandas, scikit-learn, matplotlib:
some 2,000 modules whose objects its passes traversed again and again, 5-10% of a stage's
run on the 2-core machine), then what they made is frozen out of its reach and collection
resumes for the stage's own work.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pkgutil
from types import ModuleType

import gym_churn.stages
from gym_churn.cli import exit_with


def stage_names() -> list[str]:
    """The stage modules of this package."""
    found = pkgutil.iter_modules(gym_churn.stages.__path__)
    return sorted(m.name for m in found if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(
        prog="python -m gym_churn.stages", description="Run one pipeline stage."
    )
    args.add_argument("stage", choices=stage_names())
    args.add_argument("options", nargs=argparse.REMAINDER, help="the stage's own options")
    parsed = args.parse_args(argv)
    if argv is None:  # a command: a stage server with the libraries loaded may run it
        from gym_churn.stages._server import served

        code = served(parsed.stage, parsed.options)
        if code is not None:
            return code
    return load_stage(parsed.stage).main(parsed.options)


def load_stage(stage: str) -> ModuleType:
    """The stage's module, imported with the collector off (see above)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(f"gym_churn.stages.{stage}")
    finally:
        gc.freeze()  # the modules' objects live as long as the process: never traverse them
        if enabled:
            gc.enable()


if __name__ == "__main__":
    exit_with(main())
