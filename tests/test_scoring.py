"""Scoring new exports: reasons agree with the model, deciles, segments, and the streamed CLI."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gym_churn import clustering
from gym_churn.columns import FEATURES, ID_COLUMN
from gym_churn.features import add_features
from gym_churn.io import load_params, save_model
from gym_churn.modeling import build_model, split_xy, typical_values
from gym_churn.schema import validate_members
from gym_churn.score import main as score_main
from gym_churn.scoring import Scorer, _proba, risk_decile, score, top_reasons

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data/raw/gym_churn.csv"
CONTRACT = {"contract_periods": [1, 6, 12], "age_min": 14, "age_max": 100}


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="module")
def members(params) -> pd.DataFrame:
    raw = pd.read_csv(RAW, nrows=1500)
    return validate_members(raw, target="Churn", source="bundled", **CONTRACT)


@pytest.fixture(scope="module")
def scorer(params, members: pd.DataFrame) -> Scorer:
    train = add_features(members, params.preprocess.features)
    X, y = split_xy(train, "Churn")
    cfg = params.train.model_copy(
        update={"hist_gradient_boosting": params.train.hist_gradient_boosting.model_copy(
            update={"max_iter": 40})}
    )  # fmt: skip
    model = build_model(cfg, seed=0).fit(X, y)
    proba = model.predict_proba(X)[:, 1]
    seg = clustering.segment(
        members, ["Contract_period", "Lifetime", "Avg_class_frequency_current_month"],
        y.to_numpy(), clustering.ClusterConfig("kmeans", 3, 2, 0),
        resamples=1, fraction=0.5, silhouette_rows=200,
    )  # fmt: skip
    return Scorer(
        model=model,
        threshold=0.5,
        decile_edges=np.quantile(proba, np.linspace(0.1, 0.9, 9)),
        typical=typical_values(members),
        assigner=seg.assigner,
        segment_names={0: "calm", 1: "middle", 2: "fading"},
        features=params.preprocess.features,
    )


def test_every_reason_agrees_with_the_model(scorer: Scorer, members: pd.DataFrame) -> None:
    out = score(scorer, members.drop(columns=["Churn"]))
    flagged = out[out["at_risk"] == 1]
    assert len(flagged) > 50
    assert (flagged["reason_1"] != "").all()
    checked = 0
    for _, row in flagged.iterrows():
        member = members.loc[members[ID_COLUMN] == row[ID_COLUMN]].drop(columns=["Churn"])
        for k in (1, 2, 3):
            feature = row[f"reason_{k}"]
            if not feature:
                continue
            changed = member.assign(**{feature: scorer.typical[feature]})
            lowered = _proba(scorer, changed)[0]
            assert lowered < row["churn_probability"], (row[ID_COLUMN], feature)
            assert row["churn_probability"] - lowered == pytest.approx(
                row[f"reason_{k}_risk_drop"], abs=1e-9
            )
            checked += 1
    assert checked > 100


def test_reasons_are_ordered_by_effect(scorer: Scorer, members: pd.DataFrame) -> None:
    out = score(scorer, members.drop(columns=["Churn"]))
    flagged = out[out["at_risk"] == 1]
    drops = flagged[["reason_1_risk_drop", "reason_2_risk_drop", "reason_3_risk_drop"]]
    filled = drops.dropna()
    assert (filled["reason_1_risk_drop"] >= filled["reason_2_risk_drop"]).all()
    assert (filled["reason_2_risk_drop"] >= filled["reason_3_risk_drop"]).all()


def test_unflagged_members_have_no_reasons(scorer: Scorer, members: pd.DataFrame) -> None:
    out = score(scorer, members.drop(columns=["Churn"]))
    calm = out[out["at_risk"] == 0]
    assert (calm["reason_1"] == "").all()
    assert calm["reason_1_risk_drop"].isna().all()


def test_member_at_typical_values_has_no_reason(scorer: Scorer, members: pd.DataFrame) -> None:
    typical = members.iloc[[0]].assign(**scorer.typical)
    reasons = top_reasons(scorer, typical, _proba(scorer, typical), 3)
    assert (reasons[["reason_1", "reason_2", "reason_3"]] == "").all(axis=None)


@pytest.mark.parametrize(
    ("proba", "expected"), [(0.0, 1), (0.05, 1), (0.1, 2), (0.55, 6), (0.95, 10), (1.0, 10)]
)
def test_risk_decile_against_edges(proba: float, expected: int) -> None:
    edges = np.linspace(0.1, 0.9, 9)
    assert risk_decile(np.array([proba]), edges)[0] == expected


def test_score_columns_and_segments(scorer: Scorer, members: pd.DataFrame) -> None:
    out = score(scorer, members.drop(columns=["Churn"]))
    assert list(out.columns[:6]) == [
        ID_COLUMN, "churn_probability", "risk_decile", "at_risk", "segment", "segment_name",
    ]  # fmt: skip
    assert out[ID_COLUMN].tolist() == members[ID_COLUMN].tolist()
    names = {0: "calm", 1: "middle", 2: "fading"}
    assert (out["segment"].map(names) == out["segment_name"]).all()
    assert out["at_risk"].tolist() == (out["churn_probability"] >= 0.5).astype(int).tolist()


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, scorer: Scorer) -> Path:
    folder = tmp_path_factory.mktemp("models")
    save_model(scorer.model, folder / "model.skops")
    save_model(scorer.assigner, folder / "segments.skops")
    summary = {
        "threshold": scorer.threshold,
        "risk_decile_edges": scorer.decile_edges.tolist(),
        "typical_values": scorer.typical,
    }
    (folder / "train_summary.json").write_text(json.dumps(summary))
    (folder / "segment_names.json").write_text(
        json.dumps({"0": "calm", "1": "middle", "2": "fading"})
    )
    return folder


def _export(tmp_path: Path, rows: int = 900, suffix: str = ".csv") -> tuple[Path, pd.DataFrame]:
    frame = pd.read_csv(RAW, nrows=rows).drop(columns=["Churn"])
    path = tmp_path / f"export{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path, frame


def _score(models: Path, export: Path, output: Path, *extra: str) -> int:
    argv = ["--model", str(models), "--input", str(export), "--output", str(output)]
    return score_main([*argv, "--params", str(ROOT / "params.yaml"), *extra])


@pytest.mark.parametrize(("src", "dst"), [(".csv", ".csv"), (".parquet", ".parquet")])
def test_cli_scores_every_member(tmp_path: Path, models_dir: Path, src: str, dst: str) -> None:
    export, frame = _export(tmp_path, suffix=src)
    output = tmp_path / f"scored{dst}"
    assert _score(models_dir, export, output) == 0
    scored = pd.read_parquet(output) if dst == ".parquet" else pd.read_csv(output)
    assert len(scored) == len(frame)
    assert scored[ID_COLUMN].tolist() == list(range(1, len(frame) + 1))
    assert scored["risk_decile"].between(1, 10).all()


def test_cli_chunks_give_the_same_result(tmp_path: Path, models_dir: Path) -> None:
    export, _ = _export(tmp_path, rows=2500)
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    assert _score(models_dir, export, whole) == 0
    # 1 MB of rows in flight: three chunks of 1000 rows (the minimum chunk)
    assert _score(models_dir, export, chunked, "--memory-mb", "1") == 0
    pd.testing.assert_frame_equal(pd.read_csv(whole), pd.read_csv(chunked))


def test_cli_accepts_the_model_file_path(tmp_path: Path, models_dir: Path) -> None:
    export, _ = _export(tmp_path, rows=50)
    assert _score(models_dir / "model.skops", export, tmp_path / "s.csv") == 0


def test_cli_bad_row_in_a_later_chunk_names_its_line_and_writes_nothing(
    tmp_path: Path, models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = pd.read_csv(RAW, nrows=2500).drop(columns=["Churn"]).astype({"Phone": object})
    frame.loc[2200, "Phone"] = "yes"
    export, output = tmp_path / "export.csv", tmp_path / "scored.csv"
    frame.to_csv(export, index=False)
    with caplog.at_level(logging.ERROR):
        code = _score(models_dir, export, output, "--memory-mb", "1")
    assert code == 1
    assert not output.exists()
    assert list(tmp_path.glob(".scored.csv.*")) == []
    assert "'Phone'" in caplog.text
    assert "lines 2202" in caplog.text


def test_cli_export_without_a_column_is_refused(tmp_path: Path, models_dir: Path, caplog) -> None:
    _, frame = _export(tmp_path, rows=30)
    export = tmp_path / "short.csv"
    frame.drop(columns=["Age"]).to_csv(export, index=False)
    with caplog.at_level(logging.ERROR):
        assert _score(models_dir, export, tmp_path / "s.csv") == 1
    assert "missing required column(s) Age" in caplog.text


def test_typical_values_mode_for_flags_median_for_numbers() -> None:
    frame = pd.DataFrame({col: [0, 0, 1] for col in FEATURES})
    frame["Age"] = [20, 30, 90]
    typical = typical_values(frame)
    assert typical["Partner"] == 0
    assert typical["Age"] == 30


def test_params_file_is_read_safely(tmp_path: Path) -> None:
    # yaml.safe_load refuses Python object tags outright.
    bad = tmp_path / "params.yaml"
    bad.write_text("base: !!python/object/apply:os.system ['true']\n")
    from gym_churn.errors import ParamsError

    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def _score_process(models: Path, export: Path, output: Path, stderr) -> int:
    cmd = [sys.executable, "-m", "gym_churn.score", "--model", str(models), "--input",
           str(export), "--output", str(output), "--params", str(ROOT / "params.yaml")]  # fmt: skip
    return subprocess.run(cmd, stderr=stderr, stdout=subprocess.DEVNULL, timeout=120).returncode


def test_progress_bar_on_a_terminal_quiet_in_a_pipe(tmp_path: Path, models_dir: Path) -> None:
    export, _ = _export(tmp_path, rows=200)
    leader, follower = pty.openpty()  # a terminal, as an analyst at a shell has
    # 24 x 80: a new pseudo-terminal is 0 columns wide, and tqdm fits its bar to the width.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        assert _score_process(models_dir, export, tmp_path / "a.csv", follower) == 0
        os.close(follower)
        screen = b""
        with contextlib.suppress(OSError):  # EIO once the terminal's output is drained
            while chunk := os.read(leader, 65536):
                screen += chunk
    finally:
        os.close(leader)
    assert b"200 members [" in screen
    assert b" members/s]" in screen
    logged = tmp_path / "ci.log"  # a file or pipe, as CI has
    with logged.open("w") as log:
        assert _score_process(models_dir, export, tmp_path / "b.csv", log) == 0
    text = logged.read_text()
    assert "200 members scored" in text  # the log line, without the bar
    assert " members/s]" not in text
    assert "\r" not in text
