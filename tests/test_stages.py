"""Stage entry points, run in-process as dvc.yaml calls them, on two businesses' exports.

Each stage's real `main(argv)` gets the arguments of its dvc.yaml command, in dvc.yaml's
order, inside a scratch project (params.yaml shrunk for speed, the export and its data
contract where dvc.yaml's `vars` point). A bad export or bad params gives exit code 1, one
error message and no output at all.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import gc
import hashlib
import importlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from gym_churn.alongside import forks
from gym_churn.contract.spec import ROW_KEY, contract_to_dict, without_columns
from gym_churn.io import load_contract, read_arrays, write_bytes, write_json
from gym_churn.models.runtime import LinearModel, from_arrays
from tests.conftest import (
    GYM_CONTRACT,
    GYM_CONTRACT_PATH,
    OTHER_CONTRACT,
    make_members,
    make_other,
)

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PATHS: dict[str, str] = DVC["vars"][0]["paths"]
STAGES: list[str] = list(DVC["stages"])
ROWS = 120
# What only the gym speaks of: its column names and the words of its contract and study.
GYM_WORDS = (*GYM_CONTRACT.raw_features, "gym", "visit", "class", "partner", "friend")


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
    params["drivers"].update(max_rows=1000)
    params["profile"].update(bootstrap=100, rule_leaves=4, rule_min_share=0.05)
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
    """The module and arguments of a dvc.yaml stage command, its paths pointed where `paths`
    points them (a scratch project of another business reads its own export and contract)."""
    cmd = DVC["stages"][stage]["cmd"]
    for key, value in paths.items():
        if value != PATHS[key]:
            cmd = re.sub(rf"(?<![\w/.-]){re.escape(PATHS[key])}(?![\w/.-])", value, cmd)
    python, dash_m, package, name, *argv = shlex.split(cmd)
    assert (python, dash_m, package, name) == ("python", "-m", "gym_churn.stages", stage)
    return f"gym_churn.stages.{stage}", argv


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

    def run(self, *stages: str, draw: bool = True) -> dict[str, int]:
        """Run `stages` in order; `draw=False` builds no figure at all (see FIGURE_STAGES).

        What a stage hands to another core (gym_churn.alongside) runs in this process here,
        where coverage sees it and the placeholders below apply; tests/test_alongside.py and
        the end-to-end runs (real dvc, tests/test_e2e*.py) fork."""
        with inside(self.root), pytest.MonkeyPatch.context() as patch:
            patch.setattr("gym_churn.alongside.forks", lambda: False)
            for module in FIGURE_STAGES:
                patch.setattr(f"gym_churn.stages.{module}.save_figure", _unrendered)
                if not draw:
                    patch.setattr(f"gym_churn.stages.{module}.plots", _Undrawn())
            return {stage: run_stage(stage, self.paths) for stage in stages}


# Rendering PNGs is most of a small run's time and test_plots' business: here each figure is
# built, then written as a placeholder (through the same atomic writer). The gym run of the
# whole pipeline builds none: the other business's run builds them all from what its stages
# computed, and test_plots draws the gym's columns.
FIGURE_STAGES = ("evaluate", "cluster", "profile", "report")
UNDRAWN = object()


class _Undrawn:
    """Stands in for gym_churn.plots: every figure function returns UNDRAWN."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: UNDRAWN


def _unrendered(fig: Any, path: str | Path) -> None:
    if fig is not UNDRAWN:
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
    segment_names.json written as profile writes it (profile, which needs audit's flags and
    both splits, is not run, for speed; test_the_models_folder_carries_the_contract checks
    that a whole run leaves the same folder)."""
    project = make_project(root, business, params, export)
    stages = ("preprocess", "split", "train", "cluster")
    assert project.run(*stages) == dict.fromkeys(stages, 0)
    write_json({str(k): v for k, v in SEGMENT_NAMES.items()}, project.file("segment_names"))
    assert project.run("score") == {"score": 0}  # it completes the bundle
    models = project.file("model").parent
    assert project.file("train_summary").parent == project.file("cluster_model").parent == models
    return models


@pytest.fixture(scope="module", params=["gym", "other"])
def done(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, import_runs
) -> Project:
    """A scratch project after every stage of dvc.yaml ran once, in order. (`import_runs`:
    started first, the import checks' processes run while this one runs the pipeline.)"""
    project = make_project(tmp_path_factory.mktemp(request.param), request.param)
    codes = project.run(*STAGES, draw=request.param != "gym")
    assert codes == dict.fromkeys(STAGES, 0)
    return project


def _contract(project: Project):
    return load_contract(project.file("contract"))


# ---------------------------------------------------------------- the whole pipeline


def test_dvc_yaml_runs_the_stages_in_pipeline_order() -> None:
    assert STAGES == [
        "preprocess", "split", "train", "evaluate", "cluster", "profile", "score", "campaign",
        "report",
    ]  # fmt: skip
    _, argv = stage_argv("preprocess", PATHS)
    assert "--contract" in argv
    assert "--params" not in argv


def _options(stage: str) -> dict[str, str]:
    _, argv = stage_argv(stage, PATHS)
    return dict(zip(argv[::2], argv[1::2], strict=True))


@pytest.mark.parametrize(
    ("stage", "reads"),
    [
        ("train", {"--train": "train", "--members": "processed"}),
        ("evaluate", {"--members": "processed", "--summary": "train_summary",
                      "--model-all": "model_all"}),
        ("profile", {"--members": "processed", "--train": "train", "--test": "test",
                     "--assignments": "assignments", "--audit": "audit_table"}),
        ("score", {"--members": "processed", "--model-arrays": "model_arrays",
                   "--segment-arrays": "segment_arrays", "--member-scores": "member_scores"}),
        ("campaign", {"--test": "test", "--members": "processed"}),
        ("report", {"--summary": "train_summary", "--audit-metrics": "audit_metrics",
                    "--drivers": "drivers", "--tenure": "tenure", "--rules": "rules",
                    "--portraits": "portraits"}),
    ],
)  # fmt: skip
def test_each_stage_reads_what_an_earlier_stage_wrote(stage: str, reads: dict) -> None:
    options = _options(stage)
    for option, name in reads.items():
        assert options[option] == PATHS[name], (stage, option)
        writer = next(s for s in STAGES if PATHS[name] in stage_outputs(s, PATHS))
        assert STAGES.index(writer) < STAGES.index(stage), (stage, option, writer)
        assert PATHS[name] in map(_filled, DVC["stages"][stage]["deps"]), (stage, option)


def _filled(text: str) -> str:
    return re.sub(r"\$\{paths\.(\w+)\}", lambda m: PATHS[m.group(1)], text)


def test_every_dependency_a_stage_writes_comes_from_an_earlier_stage() -> None:
    writers = {out: s for s in STAGES for out in stage_outputs(s, PATHS)}
    for i, stage in enumerate(STAGES):
        for dep in map(_filled, DVC["stages"][stage]["deps"]):
            if dep in writers:
                assert STAGES.index(writers[dep]) < i, (stage, dep, writers[dep])


def test_profile_writes_the_rules_the_portraits_and_the_segment_names() -> None:
    options = _options("profile")
    for option, name in [("--rules", "rules"), ("--portraits", "portraits"),
                         ("--segment-names", "segment_names")]:  # fmt: skip
        assert options[option] == PATHS[name]
        assert PATHS[name] in stage_outputs("profile", PATHS)


def test_every_stage_that_saves_a_figure_has_it_replaced_here() -> None:
    savers = {s for s in STAGES if hasattr(importlib.import_module(f"gym_churn.stages.{s}"),
                                           "save_figure")}  # fmt: skip
    assert savers == set(FIGURE_STAGES)


def test_every_stage_writes_what_dvc_yaml_declares(done: Project) -> None:
    for stage in STAGES:
        for out in stage_outputs(stage, done.paths):
            path = done.root / out
            assert path.exists(), (stage, out)
            assert path.is_file() or any(path.iterdir()), (stage, out)


def _output_files(project: Project) -> list[Path]:
    found = []
    for stage in STAGES:
        for out in stage_outputs(stage, project.paths):
            path = project.root / out
            found += [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    return found


def _refuse(name: str) -> None:
    raise AssertionError(f"not strict JSON: {name}")


def test_every_json_a_stage_writes_is_strict_json(done: Project) -> None:
    written = [p for p in _output_files(done) if p.suffix == ".json"]

    assert len(written) >= 10  # every metrics file, the reports', the bundle's
    for path in written:
        json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)


def test_outputs_get_the_mode_the_umask_gives(done: Project) -> None:
    umask = os.umask(0o022)
    os.umask(umask)  # read, and put back

    modes = {str(p.relative_to(done.root)): p.stat().st_mode & 0o777 for p in _output_files(done)}

    assert modes
    assert {path: mode for path, mode in modes.items() if mode != 0o666 & ~umask} == {}


def test_drivers_leave_out_the_early_share_without_a_tenure_column(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(tmp_path, "other", params=small_params())
    contract = yaml.safe_load(project.file("contract").read_text())
    contract["features"]["tenure_months"]["role"] = "attribute"
    project.file("contract").write_text(yaml.safe_dump(contract, sort_keys=False))
    assert project.run("preprocess") == {"preprocess": 0}
    _audit_flags_nothing(project)

    assert project.run("split", "cluster") == {"split": 0, "cluster": 0}
    with caplog.at_level(logging.INFO):
        assert project.run("profile") == {"profile": 0}

    metrics = json.loads(project.file("drivers_metrics").read_text(), parse_constant=_refuse)
    assert "early_tenure_share_of_churners" not in metrics
    assert 0 < metrics["churn_rate"] < 1
    assert "the contract names no tenure column" in caplog.text
    assert "nan%" not in caplog.text


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


def _json(project: Project, name: str) -> Any:
    return json.loads(project.file(name).read_text())


def test_the_models_folder_carries_the_contract(done: Project) -> None:
    summary = _json(done, "train_summary")
    assert summary["contract"] == contract_to_dict(_contract(done))
    assert [c["model"] for c in summary["candidates"]] == ["hist_gradient_boosting", "logreg"]
    names = _json(done, "segment_names")
    assert sorted(names) == ["0", "1", "2"]  # cluster.k segments, named by profile
    assert all(isinstance(n, str) and n for n in names.values())
    assert len(set(names.values())) == 3
    # train_models (the scoring tests' shortcut) lays out the same folder, in the same shapes
    models = done.file("model").parent
    assert {p.name for p in models.iterdir()} == {
        Path(done.paths[n]).name
        for n in (
            "model",
            "train_summary",
            "scoring_settings",
            "runtime",
            "cluster_model",
            "segment_names",
        )
    }


def test_audit_names_the_flagged_features_and_the_cv_without_them(done: Project) -> None:
    contract = _contract(done)
    audit = _json(done, "audit_metrics")
    summary = _json(done, "train_summary")
    flagged = audit["flagged_features"]
    assert isinstance(flagged, list)
    assert set(flagged) <= set(contract.raw_features)
    assert audit["flagged_count"] == len(flagged)
    assert audit["cv_roc_auc"] == summary["all_columns"]["cv_roc_auc_mean"]
    assert 0 <= audit["cv_roc_auc_without_flagged"] <= 1
    # the model that lists members is the one without them (none is known_before_outcome)
    assert summary["excluded_features"] == flagged
    assert summary["cv_roc_auc_mean"] == audit["cv_roc_auc_without_flagged"]
    if not flagged:  # nothing left out: the same CV
        assert audit["cv_roc_auc_without_flagged"] == audit["cv_roc_auc"]
    if contract.id:  # the other export's highest fees are all held by members who stayed
        assert flagged == ["fee"]
        assert audit["cv_roc_auc_without_flagged"] != audit["cv_roc_auc"]
    assert 0.5 <= audit["max_single_feature_roc_auc"] <= 1
    table = pd.read_csv(done.root / "reports/audit.csv")
    assert len(table) == len(contract.model_features)


def test_the_listing_model_reads_no_flagged_column(done: Project) -> None:
    # train: the bundle's model (scores, explains, lists) is fitted without the flagged
    # columns and what is made from them; the model on every column keeps them
    contract = _contract(done)
    summary = _json(done, "train_summary")
    flagged = set(summary["excluded_features"])
    made_from = {e for e in contract.engineered if flagged & set(contract.sources(e))}
    assert not (flagged | made_from) & set(summary["features"])
    assert set(summary["all_columns"]["features"]) == set(contract.model_features)
    evaluate = _json(done, "evaluate_metrics")
    if not flagged:
        assert evaluate["listing_model_roc_auc"] == evaluate["roc_auc"]
    # the drift check still covers every column of the export, flagged ones included
    scoring = json.loads((done.file("model").parent / "scoring.json").read_text())
    assert set(scoring["reference"]) == set(contract.raw_features)


def _audit_flags_nothing(project: Project) -> None:
    """The audit table train would write, flagging no column (profile runs without train)."""
    contract = load_contract(project.file("contract"))
    audit = project.root / project.paths["audit_table"]
    audit.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"feature": contract.model_features, "flagged": False}).to_csv(audit, index=False)


def test_an_audit_table_of_another_contract_stops_profile(tmp_path: Path, caplog) -> None:
    project = make_project(tmp_path, "other", params=small_params())
    assert project.run("preprocess", "split", "cluster") == dict.fromkeys(
        ("preprocess", "split", "cluster"), 0
    )
    audit = project.file("audit_table")
    audit.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"feature": ["plan", "Lifetime"], "flagged": [False, True]}).to_csv(
        audit, index=False
    )
    with caplog.at_level(logging.ERROR):
        assert project.run("profile") == {"profile": 1}
    message = _one_error(caplog)
    assert project.paths["audit_table"] in message
    assert "['Lifetime'], not features of" in message
    _nothing_under(tmp_path, *stage_outputs("profile", project.paths))


def test_drivers_lead_with_the_ratios_one_row_per_raw_feature(done: Project) -> None:
    contract = _contract(done)
    table = pd.read_csv(done.file("drivers"))
    assert list(table.columns[:8]) == [
        "feature", "marginal_ratio", "marginal_low", "marginal_high",
        "adjusted_ratio", "adjusted_low", "adjusted_high", "label",
    ]  # fmt: skip
    assert table["feature"].tolist() == contract.raw_features
    for kind in ("marginal", "adjusted"):
        ratio, low, high = (table[f"{kind}_{s}"] for s in ("ratio", "low", "high"))
        known = ratio.notna() & low.notna() & high.notna()
        assert known.sum() >= len(table) // 2, kind
        assert (ratio[known] > 0).all(), kind
        assert (low[known] <= high[known]).all(), kind
    # the marginal CI is around its ratio (Katz, log scale); the adjusted one is a bootstrap's
    known = table["marginal_ratio"].notna()
    assert (table["marginal_low"][known] <= table["marginal_ratio"][known]).all()
    assert (table["marginal_ratio"][known] <= table["marginal_high"][known]).all()
    importance = pd.read_csv(done.root / done.paths["evaluate_plots"] / "importance.csv")
    # each feature's group is one evaluate measured reliance for (the report joins them)
    assert set(table["reliance_group"]) <= set(importance["columns"])
    metrics = _json(done, "drivers_metrics")
    members = pd.read_csv(done.file("processed"))
    assert metrics["churn_rate"] == pytest.approx(members[contract.target.column].mean())
    assert metrics["churn_rate_low"] <= metrics["churn_rate"] <= metrics["churn_rate_high"]


def test_tenure_table_counts_every_member_once(done: Project) -> None:
    contract = _contract(done)
    members = pd.read_csv(done.file("processed"))
    tenure = pd.read_csv(done.file("tenure"))
    known = members[members[contract.tenure].notna()]
    months = np.floor(known[contract.tenure]).astype(int)
    assert tenure["tenure"].tolist() == sorted(set(months))
    assert tenure["members"].sum() == len(known)
    assert tenure["churned"].sum() == known[contract.target.column].sum()
    assert tenure["cumulative_share_of_churners"].iloc[-1] == pytest.approx(1)
    assert (tenure["low"] <= tenure["churn_rate"]).all()
    assert (tenure["churn_rate"] <= tenure["high"]).all()


def test_rule_segments_partition_the_members(done: Project) -> None:
    members = pd.read_csv(done.file("processed"))
    rules = pd.read_csv(done.file("rules"))
    profile = _json(done, "profile_metrics")
    assert 2 <= len(rules) <= small_params()["profile"]["rule_leaves"]
    assert profile["rule_segments"] == len(rules)
    assert rules["id"].tolist() == list(range(1, len(rules) + 1))
    assert rules["members"].sum() == len(members)
    assert rules["share"].sum() == pytest.approx(1)
    assert rules["churned"].sum() == members[_contract(done).target.column].sum()
    assert rules["churn_rate"].is_monotonic_decreasing  # riskiest first
    assert rules["rule"].map(lambda r: isinstance(r, str) and r != "").all()
    for key in ("kmeans_nmi_with_churn", "rule_nmi_with_churn"):
        assert 0 <= profile[key] <= 1, key
    portraits = _json(done, "portraits")["portraits"]
    names = {str(p["id"]): p["name"] for p in portraits}
    assert names == _json(done, "segment_names")


def test_the_scored_table_holds_every_member_scored_out_of_fold(done: Project) -> None:
    contract = _contract(done)
    scored = pd.read_csv(done.file("scored"))
    members = pd.read_csv(done.file("processed"))
    assert list(scored.columns[:6]) == [
        contract.key, "churn_probability", "risk_decile", "at_risk", "segment", "segment_name",
    ]  # fmt: skip
    assert scored[contract.key].tolist() == members[contract.key].tolist()
    assert scored["churn_probability"].between(0, 1).all()
    assert set(scored["risk_decile"]) <= set(range(1, 11))
    names = {int(k): v for k, v in _json(done, "segment_names").items()}
    assert (scored["segment"].map(names) == scored["segment_name"]).all()
    metrics = _json(done, "score_metrics")
    assert metrics["at_risk_share"] == pytest.approx(scored["at_risk"].mean())
    # the probabilities are train's out-of-fold scores of every member, in the same order
    oof = pd.read_csv(done.file("member_scores"))
    assert oof[contract.key].tolist() == members[contract.key].tolist()
    assert scored["churn_probability"].to_numpy() == pytest.approx(
        oof["churn_probability"].to_numpy(), abs=1e-6
    )
    from sklearn.metrics import roc_auc_score

    y = members[contract.target.column]
    assert metrics["scored_members_roc_auc"] == pytest.approx(
        roc_auc_score(y, oof["churn_probability"]), abs=1e-6
    )


def test_score_refuses_out_of_fold_scores_of_other_members(
    done: Project, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # scores train wrote for another export (or rows in another order) would be joined to
    # the wrong members: one clear error, nothing written
    shuffled = pd.read_csv(done.file("member_scores")).iloc[::-1]
    stale = tmp_path / "member_scores.csv"
    shuffled.to_csv(stale, index=False)
    outputs = ("scoring_settings", "runtime", "scored", "score_metrics")
    moved = {name: str(tmp_path / "out" / Path(done.paths[name]).name) for name in outputs}
    paths = {**done.paths, "member_scores": str(stale), **moved}
    with inside(done.root), caplog.at_level(logging.ERROR):
        assert run_stage("score", paths) == 1
    message = _one_error(caplog)
    assert str(stale) in message
    assert "same order" in message
    assert not (tmp_path / "out").exists()


def test_gym_churn_score_on_the_test_split_gives_evaluates_probabilities(
    done: Project, tmp_path: Path
) -> None:
    from sklearn.metrics import roc_auc_score

    from gym_churn.io import load_model, read_table
    from gym_churn.models.predict import predict
    from gym_churn.scoring.cli import main as score_main
    from gym_churn.scoring.scorer import DIGITS

    contract = _contract(done)
    test = read_table(done.file("test"))
    export = tmp_path / "test_export.csv"
    # the split as an export holds it: flags in their declared labels (N/Y), not 0/1
    as_read = test.drop(columns=[contract.target.column]).assign(**{
        col: test[col].map(dict(enumerate(spec.allowed)))
        for col, spec in contract.features.items() if spec.kind == "binary" and spec.allowed
    })  # fmt: skip
    as_read.to_csv(export, index=False)
    output = tmp_path / "scored.csv"
    models = done.file("model").parent
    assert (
        score_main(["--model", str(models), "--input", str(export), "--output", str(output)]) == 0
    )
    cli = pd.read_csv(output)
    # the function evaluate scores the test split with, on the model train saved for listing
    # (without the columns the audit flagged)
    excluded = _json(done, "train_summary")["excluded_features"]
    evaluated = predict(load_model(done.file("model")), without_columns(contract, excluded), test)
    # the table writes probabilities to DIGITS decimals: evaluate's to within half a last digit
    np.testing.assert_allclose(
        cli["churn_probability"].to_numpy(), evaluated, rtol=0, atol=0.5 * 10.0**-DIGITS + 1e-12
    )
    y = test[contract.target.column]
    assert roc_auc_score(y, cli["churn_probability"]) == pytest.approx(
        _json(done, "evaluate_metrics")["listing_model_roc_auc"], abs=1e-6
    )


def test_the_per_member_table_and_the_scorer_agree_on_the_same_probabilities(
    done: Project,
) -> None:
    # the score stage's table holds out-of-fold probabilities; the scorer turns exactly those
    # into the same deciles, at_risk, segments, reasons and lever
    from gym_churn.io import read_table
    from gym_churn.scoring.load import load_scorer
    from gym_churn.scoring.scorer import describe

    contract = _contract(done)
    table = read_table(done.file("scored"))
    members = read_table(done.file("processed"))
    again = describe(
        load_scorer(str(done.file("model").parent)), members, table["churn_probability"]
    )
    derived = [c for c in again.columns if c not in (contract.key, "segment_name")]
    for col in derived:
        if col.endswith("_points") or col == "churn_probability":
            np.testing.assert_allclose(table[col], again[col], rtol=0, atol=1e-9)
        else:
            assert table[col].fillna("").tolist() == again[col].tolist(), col
    assert (table["at_risk"] == 1).any()
    assert table.loc[table["at_risk"] == 1, "reason_1"].notna().all()


def test_the_campaign_replays_the_list_on_the_test_members(done: Project) -> None:
    # no member's outcome is unknown in these exports: the campaign is a replay on the test
    # split, scored by the trained model, with each listed member's outcome (issue 24)
    from gym_churn.io import read_table
    from gym_churn.models.predict import inputs, probability
    from gym_churn.scoring.campaign import holdout_size
    from gym_churn.scoring.load import load_scorer
    from gym_churn.segments.profiles import wilson

    contract = _contract(done)
    key, target = contract.key, contract.target.column
    params = small_params()["campaign"]
    curve = read_table(done.file("campaign_curve"))
    listed = read_table(done.file("campaign_list"))
    test = read_table(done.file("test"))
    metrics = _json(done, "campaign_metrics")
    details = _json(done, "campaign_details")
    best = curve.iloc[int(curve["profit"].to_numpy().argmax())]
    assert metrics["best_contact_share"] == pytest.approx(best["contact_share"])
    assert metrics["best_expected_profit"] == pytest.approx(best["profit"])
    assert int(curve["contacted"].iloc[-1]) == len(test) == details["members"]
    affordable = int(params["budget"] // params["offer_cost"])
    assert metrics["listed"] == len(listed) == min(int(best["contacted"]), affordable) > 0
    assert details["mode"] == "replay"
    assert (listed["mode"] == "replay").all()
    assert list(listed.columns[:3]) == ["mode", key, target]
    # the test members, riskiest first by the trained model, each with their own outcome
    proba = probability(load_scorer(done.file("bundle")).model, inputs(test, contract))
    riskiest = test.assign(p=np.round(proba, 6)).sort_values("p", ascending=False, kind="stable")
    assert listed[key].tolist() == riskiest[key].head(len(listed)).tolist()
    np.testing.assert_allclose(listed["churn_probability"], riskiest["p"].head(len(listed)))
    outcome = test.set_index(key)[target]
    assert listed[target].tolist() == outcome.loc[listed[key]].tolist()
    assert (listed["reason_1"].fillna("") != "").all()  # every listed member is explained
    # the hold-out: sized by the power calculation at the listed members' mean probability
    held, power = holdout_size(len(listed), riskiest["p"].head(len(listed)).mean(),
                               params["min_effect_points"], params["power"],
                               params["holdout_max_share"])  # fmt: skip
    assert metrics["held_out"] == (listed["group"] == "holdout").sum() == held
    assert metrics["holdout_power"] == pytest.approx(power, abs=1e-6)
    # churn among the listed and the unlisted test members, as they happened
    churned = int(listed[target].sum())
    unlisted = outcome.drop(index=listed[key])
    assert details["replay_listed"] == len(listed)
    assert details["replay_listed_churned"] == churned
    assert metrics["replay_listed_churn_rate"] == pytest.approx(churned / len(listed), abs=1e-6)
    assert details["replay_unlisted"] == len(unlisted)
    assert details["replay_unlisted_churned"] == int(unlisted.sum())
    low, high = wilson(churned, len(listed))
    assert details["replay_listed_churn_low"] == pytest.approx(low, abs=1e-6)
    assert details["replay_listed_churn_high"] == pytest.approx(high, abs=1e-6)
    # no past campaign: the assumed success rate
    assert metrics["success_rate_source"] == 0
    assert metrics["success_rate"] == params["success_rate"]
    assert not any(k.startswith("measured_") for k in details)
    # the report calls it a replay, never this month's list
    report = done.file("report").read_text()
    assert "a replay" in report
    assert "this month" not in report.lower()


def _past_list(done: Project, folder: Path, effect: bool) -> Path:
    """A campaign list as sent last month, of the export's members, under the past-campaigns
    folder: half held out. With `effect`, the held-out are members who churned and the
    contacted ones who stayed (the offer kept everyone); without, both groups alike."""
    from gym_churn.io import read_table, write_table

    contract = _contract(done)
    members = read_table(done.file("processed"))
    y = members[contract.target.column]
    churners, stayers = members[y == 1], members[y == 0]
    n = min(len(churners), len(stayers)) // 2
    if effect:
        held, contact = churners.head(n), stayers.head(n)
    else:
        held = pd.concat([churners.head(n // 2), stayers.head(n // 2)])
        contact = pd.concat([churners.iloc[n // 2 : n], stayers.iloc[n // 2 : n]])
    listed = pd.concat([held.assign(group="holdout"), contact.assign(group="contact")])
    path = folder / "2026-11.csv"
    write_table(listed[[contract.key, "group"]], path)
    return path


def test_a_past_campaign_and_its_outcomes_change_the_campaign_metrics(
    done: Project, tmp_path: Path
) -> None:
    # closing the loop (issue 24): last month's list committed under the folder dvc.yaml
    # names, read against this export's outcomes, changes metrics/campaign.json
    import shutil

    assert PATHS["campaigns"] in DVC["stages"]["campaign"]["deps"]
    before = _json(done, "campaign_metrics")
    for effect in (True, False):
        root = tmp_path / str(effect)
        shutil.copytree(done.root, root)
        project = Project(root, done.paths, done.export, done.raw_digest)
        folder = project.file("campaigns")
        folder.mkdir(parents=True, exist_ok=True)
        past = _past_list(project, folder, effect)
        assert project.run("campaign", "report", draw=False) == {"campaign": 0, "report": 0}
        after, details = _json(project, "campaign_metrics"), _json(project, "campaign_details")
        assert details["measured_list"] == str(project.paths["campaigns"] + "/" + past.name)
        assert after["measured_kept_points"] == pytest.approx(100.0 if effect else 0.0)
        assert details["measured_kept_points_low"] < after["measured_kept_points"]
        report = project.file("report").read_text()
        assert past.name in report
        if effect:  # the CI excludes 0: the list now uses the measured rate and its CI
            assert after["success_rate_source"] == 1
            assert after["success_rate"] == after["measured_success_rate"] == 1.0
            assert details["success_rate_low"] == details["measured_success_rate_low"] < 1.0
            assert after != before
            assert "uses the measured rate" in report
        else:  # the CI includes 0: the assumed rate, the list as before
            assert after["success_rate_source"] == 0
            assert after["success_rate"] == before["success_rate"]
            assert {k: v for k, v in after.items() if not k.startswith("measured_")} == before
            assert "keeps the assumed success rate" in report


def test_the_latest_past_campaign_is_read_and_a_list_without_outcomes_waits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gym_churn.contract.spec import parse_contract
    from gym_churn.errors import ContractError
    from gym_churn.io import write_table
    from gym_churn.stages.campaign import latest_campaign, past_effect
    from tests.conftest import PANEL_CONTRACT

    contract = parse_contract(PANEL_CONTRACT)  # keyed by customer_id and month
    folder = tmp_path / "campaigns"
    assert latest_campaign(folder) is None  # no folder: nothing to read
    folder.mkdir()
    (folder / "README.md").write_text("past lists\n")
    assert past_effect(folder, pd.DataFrame(), contract) is None
    ids = [f"c{i}" for i in range(8)]
    listed = pd.DataFrame({"customer_id": ids, "month": "2024-05",
                           "group": ["contact", "holdout"] * 4})  # fmt: skip
    write_table(listed.assign(month="2024-04"), folder / "2024-04.csv")
    write_table(listed, folder / "2024-05.csv")
    assert latest_campaign(folder) == folder / "2024-05.csv"
    members = pd.DataFrame({"customer_id": ids * 2, "month": ["2024-04"] * 8 + ["2024-05"] * 8,
                            "left": [0] * 8 + [np.nan] * 8})  # fmt: skip
    # May's outcomes are not in this export yet: not measured, said, no failure
    with caplog.at_level(logging.WARNING):
        assert past_effect(folder, members, contract) is None
    assert "2024-05.csv: not measured yet" in caplog.text
    members["left"] = [0] * 8 + [0, 1] * 4  # now they are: contacted 0 of 4, held-out 4 of 4
    effect = past_effect(folder, members, contract)
    assert effect is not None
    assert (effect["kept_points"], effect["contacted"], effect["held_out"]) == (100.0, 4, 4)
    # a replay was never sent: refused
    write_table(listed.assign(mode="replay"), folder / "2024-06.csv")
    with pytest.raises(ContractError, match="replay"):
        past_effect(folder, members, contract)


def test_the_report_is_written_in_the_exports_words(done: Project) -> None:
    contract = _contract(done)
    report = done.file("report").read_text()
    assert report.startswith("#")
    assert not re.search(r"\bnan\b", report, flags=re.IGNORECASE)
    assert contract.target.label in report
    if contract.id:  # the other business: none of the gym's words
        for word in GYM_WORDS:
            assert not re.search(rf"\b{word}(e?s)?\b", report, flags=re.IGNORECASE), word
        assert "plan" in report
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        assert (done.file("report").parent / link).resolve().is_file(), link


def test_the_page_embeds_the_charts_its_own_run_drew(
    done: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report draws its charts in two processes and embeds them in the page: the page is
    built once both are done, not from what the folder (which dvc keeps) held before."""
    if not forks():
        pytest.skip("the charts are drawn in one process where it cannot fork")
    project = dataclasses.replace(done, root=tmp_path / "project")
    shutil.copytree(done.root, project.root)

    def slow_save(fig: Any, path: str | Path) -> None:
        time.sleep(0.1)  # drawing takes time: the other process's charts come later
        write_bytes(f"drawn in this run: {Path(path).stem}\n".encode(), path)

    monkeypatch.setattr("gym_churn.stages.report.plots", _Undrawn())
    monkeypatch.setattr("gym_churn.stages.report.save_figure", slow_save)
    with inside(project.root):
        assert run_stage("report", project.paths) == 0  # forks: no forks() patch here
    report = project.file("report")
    html = (project.root / "reports/report.html").read_text()
    embedded = {base64.b64decode(d) for d in re.findall(r"data:image/png;base64,([^\"]+)", html)}
    # the report's own charts the page shows (the Markdown links the same ones)
    links = re.findall(r"\]\(([^)]*figures/report/[^)]+\.png)\)", report.read_text())
    shown = {(report.parent / link).read_bytes() for link in links}
    assert len(shown) >= 2
    assert all(b.startswith(b"drawn in this run") for b in shown)
    assert shown <= embedded


# hist_gradient_boosting: the scoring tests load the model files it writes.
@pytest.mark.parametrize("family", ["logreg", "random_forest"])
def test_evaluate_loads_the_model_train_wrote_for_every_family(tmp_path: Path, family) -> None:
    params = small_params(family)
    params["train"]["random_forest"]["n_estimators"] = 20
    project = make_project(tmp_path, "other", params)
    stages = ("preprocess", "split", "train", "evaluate")
    assert project.run(*stages) == dict.fromkeys(stages, 0)
    assert yaml.safe_load(project.file("train_summary").read_text())["model"] == family
    # logistic regression has a runtime form, which evaluate reads; a forest has none
    for arrays in ("model_arrays", "model_all_arrays"):
        runtime, _ = from_arrays(read_arrays(project.file(arrays)))
        assert isinstance(runtime, LinearModel) if family == "logreg" else runtime is None


def test_drivers_adjusts_for_a_category_level_few_members_hold(tmp_path: Path) -> None:
    # A level one member holds (real exports have rare levels): its stratum supports one
    # side only, yet it is too small to withhold the ratio, and the outcome model must fit.
    export = make_other(ROWS)
    export["region"] = export["region"].replace("r11", "r10")
    export.loc[5, "region"] = "r11"
    params = small_params()
    # 120 members over 12 regions leave thin strata: overlap is not what this test is about
    params["drivers"]["min_overlap"] = 0.5
    project = make_project(tmp_path, "other", params=params, export=export)
    # three columns keep the run quick
    kept = ("plan", "region", "calls")
    contract = yaml.safe_load(project.file("contract").read_text())
    dropped = [c for c in contract["features"] if c not in kept]
    contract["features"] = {c: contract["features"][c] for c in kept}
    contract["ignore"] = {c: "not needed here" for c in [*contract["ignore"], *dropped]}
    del contract["engineered"]
    project.file("contract").write_text(yaml.safe_dump(contract, sort_keys=False))
    assert project.run("preprocess") == {"preprocess": 0}
    _audit_flags_nothing(project)
    stages = ("split", "cluster", "profile")
    assert project.run(*stages) == dict.fromkeys(stages, 0)
    table = pd.read_csv(project.file("drivers")).set_index("feature")
    # plan is adjusted for region, rare level and all
    assert table.loc["plan", "adjusted_for"] == "region"
    assert table.loc["plan", ["adjusted_low", "adjusted_high"]].notna().all()


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


@pytest.mark.parametrize("stage", ["split", "report"])
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
# not used costs start-up time on every run (about 0.3 s each for skops and matplotlib, more
# for scipy.stats).
HEAVY = ("sklearn", "skops", "matplotlib", "seaborn", "pandera", "scipy", "shap")

MODELS = {"sklearn", "scipy"}  # scikit-learn loads scipy

# Stages whose allowed sets grow along the list share one fresh process: importing them in
# this order, a library present after a stage's import but not allowed to it was imported by
# that stage (an earlier one would have been caught first). preprocess needs its own.
# skops and matplotlib are never imported with a stage module: only when a model is saved or
# loaded, or a figure drawn. report computes nothing heavy (Wilson intervals without scipy);
IMPORT_RUNS = [
    [("preprocess", {"pandera"})],
    [("split", set()), ("report", set()),
     ("train", MODELS), ("evaluate", MODELS), ("cluster", MODELS), ("profile", MODELS),
     ("score", MODELS), ("campaign", MODELS)],
]  # fmt: skip


def test_the_import_runs_cover_every_stage() -> None:
    assert sorted(s for run in IMPORT_RUNS for s, _ in run) == sorted(STAGES)


def _import_script(stages: list) -> str:
    return "import importlib, sys\n" + "".join(
        f"importlib.import_module('gym_churn.stages.{stage}')\n"
        f"print({stage!r}, *[m for m in {HEAVY!r} if m in sys.modules])\n"
        for stage, _ in stages
    )


@pytest.fixture(scope="module")
def import_runs() -> Iterator[list[subprocess.Popen]]:
    """The import runs, in fresh processes. Each takes seconds of start-up, so `done` starts
    them before its pipeline runs, and they run beside it."""
    runs = [
        subprocess.Popen([sys.executable, "-c", _import_script(stages)], text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for stages in IMPORT_RUNS
    ]  # fmt: skip
    yield runs
    for run in runs:
        run.kill()
        run.communicate()


@pytest.mark.parametrize("index", range(len(IMPORT_RUNS)), ids=["preprocess", "the-others"])
def test_stage_modules_import_only_the_libraries_they_need(import_runs, index: int) -> None:
    stages = IMPORT_RUNS[index]
    stdout, stderr = import_runs[index].communicate(timeout=120)
    assert import_runs[index].returncode == 0, stderr
    loaded = {line.split()[0]: set(line.split()[1:]) for line in stdout.splitlines()}
    assert loaded == {stage: loaded[stage] & allowed for stage, allowed in stages}


@pytest.mark.parametrize(
    ("value", "low", "high", "left_out"),
    [
        (float("inf"), float("nan"), float("nan"), {"value", "low", "high"}),  # from a mean of 0
        (float("nan"), float("nan"), float("nan"), {"value", "low", "high"}),  # no member
        (2.0, 1.5, float("inf"), {"high"}),
        (0.25, 0.2, 0.3, set()),
    ],
)
def test_profile_leaves_out_a_findings_undefined_figures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, value, low, high, left_out
) -> None:
    from gym_churn.report.content import finding_ci as _finding_ci
    from gym_churn.report.content import finding_value as _finding_value
    from gym_churn.stages.profile import _defined

    found = {"claim": "visits change", "measure": "relative_change", "value": value,
             "low": low, "high": high, "n": 0}  # fmt: skip

    with caplog.at_level(logging.WARNING):
        (kept,) = _defined([found])

    assert left_out.isdisjoint(kept)
    assert {"claim", "measure", "n"} <= kept.keys()
    assert ("why" in kept) == bool(left_out) == ("visits change" in caplog.text)
    write_json({"findings": [kept]}, tmp_path / "portraits.json")  # strict: raises on NaN
    assert _finding_value(kept)
    assert _finding_ci(kept)


def test_audit_detail_leaves_out_the_tail_a_flagged_column_does_not_have() -> None:
    from gym_churn.stages.train import defined_fields

    rows = [
        {"feature": "a", "low_tail_members": 0, "low_tail_upto": np.nan, "high_tail_from": 3.5},
        {"feature": "b", "low_tail_members": 4, "low_tail_upto": 1.0, "high_tail_from": np.nan},
    ]

    assert defined_fields(rows) == [
        {"feature": "a", "low_tail_members": 0, "high_tail_from": 3.5},
        {"feature": "b", "low_tail_members": 4, "low_tail_upto": 1.0},
    ]


def test_reading_params_needs_no_pandas() -> None:
    # one YAML file: pandas (~0.2 s of start-up) is io's only for tables
    script = (
        "import sys\nfrom gym_churn.io import load_params\n"
        f"load_params({str(ROOT / 'params.yaml')!r})\nprint('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


def test_the_launcher_runs_the_named_stage_with_its_options(tmp_path: Path) -> None:
    from gym_churn.stages.__main__ import main as launch

    project = make_project(tmp_path, "gym", small_params())
    assert project.run("preprocess") == {"preprocess": 0}
    _, argv = stage_argv("split", project.paths)
    bad = tmp_path / "bad.yaml"
    bad.write_text("profil:\n  bootstrap: 10\n")
    before = gc.get_freeze_count()

    with inside(project.root):
        assert launch(["split", *argv]) == 0
        assert project.file("train").is_file()
        # the stage's own verdict on its options
        assert launch(["split", *argv[:argv.index("--params")], "--params", str(bad),
                       *argv[argv.index("--params") + 2:]]) == 1  # fmt: skip
    # collection is back on for the stage's work; the imports' objects were frozen
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before


@pytest.mark.parametrize("argv", [[], ["nope"], ["__main__"]])
def test_the_launcher_refuses_anything_but_a_stage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from gym_churn.stages.__main__ import main as launch

    with pytest.raises(SystemExit) as stopped:
        launch(argv)

    assert stopped.value.code == 2
    assert "python -m gym_churn.stages" in capsys.readouterr().err


def test_every_stage_command_goes_through_the_launcher() -> None:
    from gym_churn.stages.__main__ import stage_names

    assert stage_names() == sorted(STAGES)
    for stage in STAGES:
        assert shlex.split(DVC["stages"][stage]["cmd"])[:4] == [
            "python", "-m", "gym_churn.stages", stage
        ]  # fmt: skip
