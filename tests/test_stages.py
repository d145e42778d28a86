"""Stage entry points, run in-process as dvc.yaml calls them, on two businesses' exports.

Each stage's real `main(argv)` gets the arguments of its dvc.yaml command, in dvc.yaml's
order, inside a scratch project (params.yaml shrunk for speed, the export and its data
contract where dvc.yaml's `vars` point). A bad export or bad params gives exit code 1, one
error message and no output at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from gym_churn.contract.spec import ROW_KEY, contract_to_dict
from gym_churn.io import load_contract, write_bytes, write_json
from tests.conftest import GYM_CONTRACT_PATH, OTHER_CONTRACT, make_members, make_other

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PATHS: dict[str, str] = DVC["vars"][0]["paths"]
STAGES: list[str] = list(DVC["stages"])
ROWS = 120


def small_params(model: str = "auto") -> dict[str, Any]:
    """The project's params.yaml, shrunk so the whole pipeline runs in seconds."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    train = params["train"]
    train.update(model=model, cv_folds=3)
    train["auto"] = [{"model": "hist_gradient_boosting"}, {"model": "logreg", "C": 0.5}]
    params["evaluate"]["permutation_repeats"] = 2
    params["cluster"].update(
        k=3, k_min=2, k_max=4, n_init=2, stability_resamples=2, dendrogram_rows=50
    )
    params["profile"]["bootstrap"] = 100
    return params


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Run in `folder`, as dvc runs a stage in the project root (some paths are relative)."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def stage_argv(stage: str, paths: dict[str, str]) -> tuple[str, list[str]]:
    """The module and arguments of a dvc.yaml stage command, ${paths.*} filled from `paths`."""
    cmd = re.sub(r"\$\{paths\.(\w+)\}", lambda m: paths[m.group(1)], DVC["stages"][stage]["cmd"])
    python, dash_m, module, *argv = shlex.split(cmd)
    assert (python, dash_m, module) == ("python", "-m", f"gym_churn.stages.{stage}")
    return module, argv


def run_stage(stage: str, paths: dict[str, str]) -> int:
    module, argv = stage_argv(stage, paths)
    return importlib.import_module(module).main(argv)


def stage_outputs(stage: str, paths: dict[str, str]) -> list[str]:
    """Every file or folder a dvc.yaml stage declares (outs and metrics), paths filled."""
    spec = DVC["stages"][stage]
    declared = [*spec.get("outs", []), *spec.get("metrics", [])]
    names = [next(iter(d)) if isinstance(d, dict) else d for d in declared]
    return [re.sub(r"\$\{paths\.(\w+)\}", lambda m: paths[m.group(1)], n) for n in names]


@dataclass(frozen=True)
class Project:
    """A scratch project: where dvc.yaml's paths point, the export and its contract."""

    root: Path
    paths: dict[str, str]
    export: pd.DataFrame
    raw_digest: str

    def file(self, name: str) -> Path:
        return self.root / self.paths[name]

    def run(self, *stages: str) -> dict[str, int]:
        with inside(self.root), pytest.MonkeyPatch.context() as patch:
            for module in FIGURE_STAGES:
                patch.setattr(f"gym_churn.stages.{module}.save_figure", _unrendered)
            return {stage: run_stage(stage, self.paths) for stage in stages}


# Rendering PNGs is most of a small run's time and test_plots' business: here each figure is
# built, then written as a placeholder (through the same atomic writer).
FIGURE_STAGES = ("evaluate", "cluster", "profile")


def _unrendered(fig: Any, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)
    write_bytes(b"figure built, not rendered (tests)\n", path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_project(
    root: Path,
    business: str,
    params: dict[str, Any] | None = None,
    export: pd.DataFrame | None = None,
) -> Project:
    """The gym export (make_members, the bundled contract file) or another business's
    (make_other, a contract YAML written from OTHER_CONTRACT), laid out as dvc.yaml expects.
    `export` replaces the generated rows."""
    paths = dict(PATHS)
    if business == "gym":
        rows = make_members(ROWS)
        contract_text = GYM_CONTRACT_PATH.read_text()
    else:
        rows = make_other(ROWS)
        contract_text = yaml.safe_dump(OTHER_CONTRACT, sort_keys=False)
        paths.update(raw="data/raw/other.csv", contract="data/contracts/other.yaml")
    export = rows if export is None else export
    for name, text in [
        ("raw", export.to_csv(index=False)),
        ("contract", contract_text),
        ("params", yaml.safe_dump(params or small_params(), sort_keys=False)),
    ]:
        (root / paths[name]).parent.mkdir(parents=True, exist_ok=True)
        (root / paths[name]).write_text(text)
    return Project(root, paths, export, _digest(root / paths["raw"]))


# What profile would name the cluster.k = 3 segments of small_params().
SEGMENT_NAMES = {0: "calm", 1: "middle", 2: "fading"}


def train_models(
    root: Path,
    business: str,
    export: pd.DataFrame | None = None,
    params: dict[str, Any] | None = None,
) -> Path:
    """The models folder a pipeline run leaves: model.skops and train_summary.json (with the
    contract) from the real train stage, segments.skops from the real cluster stage, and
    segment_names.json written as profile writes it (profile itself is not run, for speed)."""
    project = make_project(root, business, params, export)
    stages = ("preprocess", "split", "train", "cluster")
    assert project.run(*stages) == dict.fromkeys(stages, 0)
    write_json({str(k): v for k, v in SEGMENT_NAMES.items()}, project.file("segment_names"))
    models = project.file("model").parent
    assert project.file("train_summary").parent == project.file("cluster_model").parent == models
    return models


@pytest.fixture(scope="module", params=["gym", "other"])
def done(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A scratch project after every stage of dvc.yaml ran once, in order."""
    project = make_project(tmp_path_factory.mktemp(request.param), request.param)
    codes = project.run(*STAGES)
    assert codes == dict.fromkeys(STAGES, 0)
    return project


def _contract(project: Project):
    return load_contract(project.file("contract"))


# ---------------------------------------------------------------- the whole pipeline


def test_dvc_yaml_runs_the_stages_in_pipeline_order() -> None:
    assert STAGES == [
        "check_params", "preprocess", "split", "train", "evaluate", "cluster", "profile",
    ]  # fmt: skip
    _, argv = stage_argv("preprocess", PATHS)
    assert "--contract" in argv
    assert "--params" not in argv


def test_every_stage_writes_what_dvc_yaml_declares(done: Project) -> None:
    for stage in STAGES:
        for out in stage_outputs(stage, done.paths):
            path = done.root / out
            assert path.exists(), (stage, out)
            assert path.is_file() or any(path.iterdir()), (stage, out)


def test_raw_export_is_never_written(done: Project) -> None:
    assert _digest(done.file("raw")) == done.raw_digest


def test_member_tables_are_keyed_by_the_contract_key(done: Project) -> None:
    contract = _contract(done)
    key = contract.key
    if contract.id:
        expected = done.export[contract.id].tolist()
    else:
        assert key == ROW_KEY
        expected = list(range(1, len(done.export) + 1))  # the file's data line - 1
    processed = pd.read_csv(done.file("processed"))
    assert processed.columns[0] == key
    assert processed[key].tolist() == expected
    train, test = pd.read_csv(done.file("train")), pd.read_csv(done.file("test"))
    assert sorted([*train[key], *test[key]]) == sorted(expected)
    assert set(train[key]).isdisjoint(test[key])
    for name in ("assignments", "scored"):
        table = pd.read_csv(done.file(name))
        assert table.columns[0] == key, name
        assert table[key].tolist() == expected, name


def test_preprocess_types_the_export_by_its_contract(done: Project) -> None:
    contract = _contract(done)
    processed = pd.read_csv(done.file("processed"))
    target = contract.target.column
    assert set(processed[target]) == {0, 1}
    assert processed.columns[0] == contract.key
    assert set(processed.columns) == {contract.key, *contract.model_features, target}
    metrics = yaml.safe_load(done.file("preprocess_metrics").read_text())
    assert metrics["rows_read"] == metrics["rows_written"] == len(done.export)
    if contract.id:  # the other export: Y/N flag as 0/1, gaps kept, the date left out
        assert set(processed["senior"]) == {0, 1}
        assert processed["fee"].isna().sum() == done.export["fee"].isna().sum() > 0
        assert "signup_date" not in processed.columns


def test_the_models_folder_carries_the_contract(done: Project) -> None:
    summary = yaml.safe_load(done.file("train_summary").read_text())
    assert summary["contract"] == contract_to_dict(_contract(done))
    assert [c["model"] for c in summary["candidates"]] == ["hist_gradient_boosting", "logreg"]
    names = yaml.safe_load(done.file("segment_names").read_text())
    assert sorted(names) == ["0", "1", "2"]  # cluster.k segments, named by profile


# hist_gradient_boosting: the scoring tests load the model files it writes.
@pytest.mark.parametrize("family", ["logreg", "random_forest"])
def test_evaluate_loads_the_model_train_wrote_for_every_family(tmp_path: Path, family) -> None:
    params = small_params(family)
    params["train"]["random_forest"]["n_estimators"] = 20
    project = make_project(tmp_path, "other", params)
    stages = ("preprocess", "split", "train", "evaluate")
    assert project.run(*stages) == dict.fromkeys(stages, 0)
    assert yaml.safe_load(project.file("train_summary").read_text())["model"] == family


# ---------------------------------------------------------------- clean failures


def _one_error(caplog: pytest.LogCaptureFixture) -> str:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "Traceback" not in caplog.text
    return message


def _nothing_under(root: Path, *outputs: str) -> None:
    for out in outputs:
        assert not (root / out).exists(), out
    assert list(root.rglob(".*.tmp")) == []  # no temporary file of an atomic write left


def _break(frame: pd.DataFrame, column: str, value: Any, rows=(3, 7)) -> pd.DataFrame:
    bad = frame.astype({column: object})
    bad.loc[list(rows), column] = value
    return bad


@pytest.mark.parametrize(
    ("business", "column", "value", "rule"),
    [
        ("gym", "Partner", 2, "one_of[0, 1]"),
        ("gym", "Age", 300, "less_than_or_equal_to(100"),
        ("gym", "Lifetime", "many", "number"),
        ("gym", "Month_to_end_contract", 9, "months_left_within_contract"),
        ("other", "plan", "gold", "one_of['basic', 'plus', 'premium']"),
        ("other", "left", "Maybe", "one_of['Yes', 'No']"),
        ("other", "customer_id", None, "not_missing"),
        ("other", "calls", 500, "calls_plausible"),
    ],
)
def test_preprocess_refuses_a_bad_export_with_one_message_and_no_output(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, business, column, value, rule
) -> None:
    project = make_project(tmp_path, business)
    bad = _break(project.export, column, value)
    if column == "Month_to_end_contract":  # 9 months left on a 6-month contract
        bad.loc[[3, 7], "Contract_period"] = 6
    raw = project.file("raw")
    raw.write_text(bad.to_csv(index=False))
    digest = _digest(raw)
    with caplog.at_level(logging.ERROR):
        assert project.run("preprocess") == {"preprocess": 1}
    message = _one_error(caplog)
    assert project.paths["raw"] in message
    assert f"column {column!r}: rule {rule}" in message
    assert "first lines 5, 9;" in message
    _nothing_under(tmp_path, *stage_outputs("preprocess", project.paths))
    assert _digest(raw) == digest


@pytest.mark.parametrize("stage", ["check_params", "split"])
def test_a_misspelled_param_stops_the_stage(tmp_path: Path, caplog, stage: str) -> None:
    params = small_params()
    params["split"]["tets_size"] = params["split"].pop("test_size")
    params["profil"] = {"bootstrap": 100}
    project = make_project(tmp_path, "gym", params)
    assert project.run("preprocess") == {"preprocess": 0}
    with caplog.at_level(logging.ERROR):
        assert project.run(stage) == {stage: 1}
    message = _one_error(caplog)
    assert "split.tets_size: unknown key" in message
    assert "split.test_size: required key is missing" in message
    assert "profil: unknown section (misspelled?); the sections are base, split" in message
    _nothing_under(tmp_path, *stage_outputs(stage, project.paths))


@pytest.mark.parametrize("name", ["params", "contract"])
def test_yaml_files_are_read_safely(tmp_path: Path, caplog, name: str) -> None:
    project = make_project(tmp_path, "gym")
    project.file(name).write_text("base: !!python/object/apply:os.system ['touch ran']\n")
    stage = "split" if name == "params" else "preprocess"
    with caplog.at_level(logging.ERROR):
        assert project.run(stage) == {stage: 1}
    assert "not valid YAML" in _one_error(caplog)
    assert not (tmp_path / "ran").exists()  # yaml.safe_load refuses Python object tags


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"k": 1}, "cluster.k: Input should be greater than or equal to 2"),
        ({"k": ROWS + 1}, f"cluster.k / cluster.k_max: must not exceed {ROWS} members"),
        ({"k_max": ROWS + 1}, f"cluster.k / cluster.k_max: must not exceed {ROWS} members"),
    ],
)
def test_cluster_refuses_an_impossible_k(tmp_path: Path, caplog, override, message) -> None:
    params = small_params()
    params["cluster"].update(override)
    project = make_project(tmp_path, "other", params)
    assert project.run("preprocess") == {"preprocess": 0}
    with caplog.at_level(logging.ERROR):
        assert project.run("cluster") == {"cluster": 1}
    assert message in _one_error(caplog)
    _nothing_under(tmp_path, *stage_outputs("cluster", project.paths))


def test_cluster_needs_a_segment_column(tmp_path: Path, caplog) -> None:
    project = make_project(tmp_path, "other")
    assert project.run("preprocess") == {"preprocess": 0}
    contract = yaml.safe_load(project.file("contract").read_text())
    for spec in contract["features"].values():
        spec["segment"] = False
    project.file("contract").write_text(yaml.safe_dump(contract))
    with caplog.at_level(logging.ERROR):
        assert project.run("cluster") == {"cluster": 1}
    assert "no feature has segment: true" in _one_error(caplog)
    _nothing_under(tmp_path, *stage_outputs("cluster", project.paths))


# ---------------------------------------------------------------- start-up cost

# Every stage is its own process under `dvc repro`, so a heavy library imported where it is
# not used costs start-up time on every run (about 0.3 s each for skops and matplotlib).
HEAVY = ("sklearn", "skops", "matplotlib", "seaborn", "pandera")


# Stages whose allowed sets grow along the list share one fresh process: importing them in
# this order, a library present after a stage's import but not allowed to it was imported by
# that stage (an earlier one would have been caught first). preprocess needs its own.
IMPORT_RUNS = [
    [("preprocess", {"pandera"})],
    [("check_params", set()), ("split", set()), ("train", {"sklearn"}), ("evaluate", {"sklearn"}),
     ("cluster", {"sklearn"}), ("profile", {"sklearn"})],
]  # fmt: skip


@pytest.mark.parametrize("stages", IMPORT_RUNS, ids=["preprocess", "the-others"])
def test_stage_modules_import_only_the_libraries_they_need(stages: list) -> None:
    script = "import importlib, sys\n" + "".join(
        f"importlib.import_module('gym_churn.stages.{stage}')\n"
        f"print({stage!r}, *[m for m in {HEAVY!r} if m in sys.modules])\n"
        for stage, _ in stages
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    loaded = {line.split()[0]: set(line.split()[1:]) for line in run.stdout.splitlines()}
    assert loaded == {stage: loaded[stage] & allowed for stage, allowed in stages}
