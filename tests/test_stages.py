"""Stage entry points: a bad input or bad params gives one clear error, exit 1, no output."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gym_churn.stages import preprocess

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data/raw/gym_churn.csv"


@pytest.fixture
def raw_head() -> pd.DataFrame:
    return pd.read_csv(RAW, nrows=60)


def _run(tmp_path: Path, frame: pd.DataFrame, params: Path = ROOT / "params.yaml") -> tuple:
    raw, out = tmp_path / "export.csv", tmp_path / "out" / "members.csv"
    frame.to_csv(raw, index=False)
    metrics = tmp_path / "out" / "preprocess.json"
    code = preprocess.main(
        [
            "--params",
            str(params),
            "--raw",
            str(raw),
            "--output",
            str(out),
            "--metrics",
            str(metrics),
        ]
    )
    return code, raw, out


def test_preprocess_writes_validated_members(tmp_path: Path, raw_head: pd.DataFrame) -> None:
    code, _, out = _run(tmp_path, raw_head)
    assert code == 0
    members = pd.read_csv(out)
    assert len(members) == len(raw_head)
    assert {"freq_change", "contract_months_used"} <= set(members.columns)


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("Partner", 2, "isin([0, 1])"),
        ("Age", 300, "in_range(14, 100)"),
        ("Lifetime", "many", "coerce_dtype('float64')"),
        ("Month_to_end_contract", 13.0, "Month_to_end_contract <= Contract_period"),
    ],
)
def test_preprocess_rejects_bad_rows_cleanly(
    tmp_path: Path, raw_head: pd.DataFrame, caplog: pytest.LogCaptureFixture, column, value, rule
) -> None:
    bad = raw_head.astype({column: object})
    bad.loc[[3, 7], column] = value
    with caplog.at_level(logging.ERROR):
        code, raw, out = _run(tmp_path, bad)
    assert code == 1
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())
    message = caplog.text
    assert str(raw) in message
    assert f"'{column}'" in message
    assert rule in message
    assert "first lines 5, 9" in message
    assert "Traceback" not in message


def test_preprocess_rejects_bad_params(tmp_path: Path, raw_head: pd.DataFrame, caplog) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["split"]["tets_size"] = params["split"].pop("test_size")
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params))
    with caplog.at_level(logging.ERROR):
        code, _, out = _run(tmp_path, raw_head, params=bad)
    assert code == 1
    assert not out.exists()
    assert "split.tets_size: unknown key" in caplog.text
    assert "split.test_size: required key is missing" in caplog.text


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"k": 1}, "cluster.k: Input should be greater than or equal to 2"),
        ({"k": 80}, "cluster.k / cluster.k_max: must not exceed 60 members"),
        ({"columns": ["Age", "Shoe_size"]}, "cluster.columns: unknown column(s) Shoe_size"),
    ],
)
def test_cluster_rejects_impossible_k_and_unknown_columns(
    tmp_path: Path, raw_head: pd.DataFrame, caplog: pytest.LogCaptureFixture, override, message
) -> None:
    from gym_churn.stages import cluster

    code, _, members = _run(tmp_path, raw_head)
    assert code == 0
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["cluster"].update(override)
    params_file = tmp_path / "params-k.yaml"
    params_file.write_text(yaml.safe_dump(params))
    out = tmp_path / "cluster"
    argv = ["--params", str(params_file), "--input", str(members)]
    for name in ("model", "assignments", "metrics", "k-scan"):
        argv += [f"--{name}", str(out / name)]
    with caplog.at_level(logging.ERROR):
        code = cluster.main([*argv, "--figures", str(out / "figures")])
    assert code == 1
    assert message in caplog.text
    assert not out.exists()


# Every stage is its own process under `dvc repro`, so a heavy library imported where it is
# not used costs start-up time on every run (about 0.3 s each for skops and matplotlib).
HEAVY = ("sklearn", "skops", "matplotlib", "seaborn", "pandera")


@pytest.mark.parametrize(
    ("stage", "allowed"),
    [
        ("preprocess", {"pandera"}),
        ("split", set()),
        ("train", {"sklearn"}),
        ("evaluate", {"sklearn"}),
        ("cluster", {"sklearn"}),
        ("profile", {"sklearn"}),
    ],
)
def test_stage_modules_import_only_the_libraries_they_need(stage: str, allowed: set) -> None:
    script = (
        "import sys\n"
        f"import gym_churn.stages.{stage}\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert set(run.stdout.split()) <= allowed
