"""End to end: every value the params schema accepts for the model, its calibration and the
threshold's objective runs through the whole pipeline on an export with many text columns
(issue 22: `-S train.calibration=isotonic` crashed in the score stage after 160 s, on more
column groups than reasons could enumerate coalitions for).

`gym-churn init` drafts the contract; every stage then runs on the defaults, and each other
value, one key at a time, runs what `dvc exp run -S key=value` would: every stage that
reads the key, each stage downstream whose inputs changed, and the report (it depends on
the whole params file). All in this process
(bench/run.py: each stage's own main with dvc.yaml's command, in its order; no interpreter
start-up per stage, which is most of a small export's `dvc repro`): dvc's own wiring is
tested by tests/test_e2e.py and tests/test_e2e_exports.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest
import yaml

from gym_churn.params import Threshold, Train
from gym_churn.scoring.shapley import MAX_BRUTE_FORCE_GROUPS
from tests.e2e_helpers import copy_project, load_bench, run

pytestmark = pytest.mark.e2e

ROWS = 300
# eleven text columns (as in the issue), each a handful of levels, and a few numbers and flags
TEXT_COLUMNS = {
    "plan": ["basic", "plus", "premium"],
    "region": ["north", "south", "east", "west"],
    "channel": ["web", "store", "phone"],
    "device": ["ios", "android", "desktop"],
    "payment": ["card", "transfer", "cash"],
    "language": ["en", "fr", "de"],
    "tier": ["bronze", "silver", "gold"],
    "source": ["ad", "friend", "search", "event"],
    "contact": ["email", "sms", "none"],
    "club": ["city", "suburb", "campus"],
    "billing": ["monthly", "quarterly", "yearly"],
}
# The keys the issue names, each value the params schema accepts, so a value added to the
# schema is run here too.
KEYS = {
    "train.model": get_args(Train.model_fields["model"].annotation),
    "train.calibration": get_args(Train.model_fields["calibration"].annotation),
    "train.threshold.objective": get_args(Threshold.model_fields["objective"].annotation),
}
# Fewer folds, trees and resamples: these runs check that every stage runs, not the width of a CI
# (a key params.yaml no longer has is left out).
LIGHTER = {
    "train.cv_folds": 3,
    "train.calibration_folds": 2,
    "train.random_forest.n_estimators": 25,
    "evaluate.permutation_repeats": 1,
    "profile.bootstrap": 100,
    "cluster.n_init": 2,
    "cluster.stability_resamples": 2,
    "cluster.k_max": 5,
}


def _bench_run() -> Any:
    return load_bench("run")


def many_text_export(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    """A member export with an ID, eleven text columns, numbers, Yes/No flags and a Yes/No
    target that depends on some of them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"member_id": [f"M{i:05d}" for i in range(rows)]})
    for column, levels in TEXT_COLUMNS.items():
        frame[column] = rng.choice(levels, size=rows)
    frame["tenure_months"] = rng.integers(0, 60, size=rows)
    frame["monthly_fee"] = rng.uniform(15, 90, size=rows).round(2)
    frame["visits_per_week"] = rng.uniform(0, 5, size=rows).round(2)
    frame["age"] = rng.integers(18, 75, size=rows)
    frame["autopay"] = rng.choice(["Yes", "No"], size=rows)
    frame["newsletter"] = rng.choice(["Yes", "No"], size=rows)
    score = (
        1.2 * (frame["plan"] == "basic")
        - 0.6 * frame["visits_per_week"]
        - 0.03 * frame["tenure_months"]
        + 0.8 * (frame["autopay"] == "No")
        + 0.5 * (frame["contact"] == "none")
        + rng.normal(0, 0.8, size=rows)
    )
    frame["left"] = np.where(score > np.quantile(score, 0.7), "Yes", "No")
    return frame


def _set(params: dict, key: str, value: Any) -> None:
    *sections, last = key.split(".")
    for section in sections:
        params = params[section]
    params[last] = value


def _get(params: dict, key: str) -> Any:
    for part in key.split("."):
        params = params[part]
    return params


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The project on the export, every stage run on the defaults; returns the folder and
    the (lightened) default params."""
    repo = copy_project(tmp_path_factory.mktemp("params"))
    many_text_export().to_csv(repo / "data" / "raw" / "many_text.csv", index=False)
    run(["gym-churn", "init", "--data", "data/raw/many_text.csv", "--target", "left",
         "--positive", "Yes", "--id", "member_id"], repo)  # fmt: skip
    defaults = yaml.safe_load((repo / "params.yaml").read_text())
    for key, value in LIGHTER.items():
        section, _, name = key.rpartition(".")
        if name in _get(defaults, section):
            _set(defaults, key, value)
    # auto compares the first candidate of each family only (half the fits of the defaults)
    first: dict[str, dict] = {}
    for candidate in defaults["train"]["auto"]:
        first.setdefault(candidate["model"], candidate)
    defaults["train"]["auto"] = list(first.values())
    (repo / "params.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    bench = _bench_run()
    stages = bench.stage_commands(repo)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(repo)
        codes = bench.run_in_process(stages)
    assert codes == dict.fromkeys((name for name, _ in stages), 0)
    return repo, defaults


def _check_outputs(repo: Path, key: str, value: Any) -> None:
    summary = json.loads((repo / "models" / "train_summary.json").read_text())
    recorded = {
        "train.model": summary["model_setting"],
        "train.calibration": summary["calibration"],
        "train.threshold.objective": summary["threshold_objective"],
    }
    assert recorded[key] == value
    members = pd.read_csv(repo / "data" / "raw" / "many_text.csv")
    scored = pd.read_csv(repo / "data" / "scored" / "members_scored.csv")
    assert scored["member_id"].tolist() == members["member_id"].tolist()
    at_risk = scored[scored["at_risk"] == 1]
    assert len(at_risk) > 0
    # every at-risk member is explained (a reason, or none reaching the minimum points)
    assert at_risk["reason_1"].notna().any()


def test_the_export_has_more_groups_than_coalitions_can_be_enumerated_for(
    project: tuple[Path, dict],
) -> None:
    repo, _ = project
    contract = yaml.safe_load((repo / "data" / "contracts" / "many_text.yaml").read_text())
    kinds = [f["kind"] for f in contract["features"].values()]
    assert kinds.count("categorical") == len(TEXT_COLUMNS)
    assert len(contract["features"]) > MAX_BRUTE_FORCE_GROUPS


def test_the_defaults_run(project: tuple[Path, dict]) -> None:
    repo, defaults = project
    for key in KEYS:
        _check_outputs(repo, key, _get(defaults, key))


@pytest.mark.parametrize(
    ("key", "value"),
    [(key, value) for key, values in KEYS.items() for value in values],
)
def test_every_accepted_value_runs_through_the_pipeline(
    project: tuple[Path, dict], key: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, defaults = project
    if _get(defaults, key) == value:
        pytest.skip("the default: test_the_defaults_run")
    params = json.loads(json.dumps(defaults))  # a deep copy
    _set(params, key, value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(repo)
    codes = _bench_run().run_like_dvc(repo, [key])
    # train first (it validates the whole file: a refusal would stop everything), then what
    # follows it, the score stage included (where issue 22's run crashed)
    assert next(iter(codes)) == "train"
    assert {"evaluate", "score", "campaign", "report"} <= codes.keys()
    assert set(codes.values()) == {0}
    _check_outputs(repo, key, value)
