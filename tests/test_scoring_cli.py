"""The scoring command: a models folder alone scores an export, streamed in chunks, CSV or
parquet, keyed by the contract's ID (or the file's row), and a bad row leaves no output."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pandas as pd
import pytest

from gym_churn.contract.spec import ROW_KEY
from gym_churn.errors import DataValidationError
from gym_churn.io import read_json
from gym_churn.models.runtime import BoostedTrees, Centroids, LinearModel
from gym_churn.scoring.cli import load_scorer
from gym_churn.scoring.cli import main as score_main
from tests.conftest import TARGET, make_members, make_other
from tests.test_stages import small_params, train_models

FAMILY = "hist_gradient_boosting"
RAW = Path(__file__).resolve().parents[1] / "data/raw/gym_churn.csv"


@pytest.fixture(scope="module")
def gym_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models folder of a pipeline run on the gym export (no ID column)."""
    return train_models(tmp_path_factory.mktemp("gym"), "gym", params=small_params(FAMILY))


@pytest.fixture(scope="module")
def other_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models folder of a pipeline run on another business's export (ID customer_id)."""
    return train_models(tmp_path_factory.mktemp("other"), "other", params=small_params(FAMILY))


@pytest.fixture(scope="module")
def logreg_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models folder of a pipeline run on the other export with logistic regression."""
    return train_models(tmp_path_factory.mktemp("logreg"), "other", params=small_params("logreg"))


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _gym_export(rows: int, seed: int = 1) -> pd.DataFrame:
    return make_members(rows, seed).drop(columns=[TARGET])


def _score(models: Path, export: Path, output: Path, *extra: str) -> int:
    return score_main(["--model", str(models), "--input", str(export), "--output", str(output),
                       *extra])  # fmt: skip


def test_the_models_folder_holds_everything_scoring_needs(gym_models: Path) -> None:
    names = {p.name for p in gym_models.iterdir()}
    assert names == {
        "model.skops", "train_summary.json", "scoring.json", "segments.skops",
        "segment_names.json", "runtime.npz",
    }  # fmt: skip
    assert "contract" in read_json(gym_models / "train_summary.json")
    scorer = load_scorer(str(gym_models))
    assert scorer.contract.key == ROW_KEY
    # the runtime forms, not the skops files: scoring never imports scikit-learn
    assert isinstance(scorer.model, BoostedTrees)
    assert isinstance(scorer.assigner, Centroids)


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "logreg"])
def test_scoring_never_imports_scikit_learn_or_scipy(
    request: pytest.FixtureRequest, tmp_path: Path, family: str
) -> None:
    if family == "logreg":
        models = request.getfixturevalue("logreg_models")
        export = _write(make_other(300, seed=1).drop(columns=["left"]), tmp_path / "e.parquet")
    else:
        models = request.getfixturevalue("gym_models")
        export = _write(_gym_export(300), tmp_path / "export.parquet")
    script = (
        "import sys\n"
        "from gym_churn.scoring.cli import main\n"
        f"code = main(['--model', {str(models)!r}, '--input', {str(export)!r},"
        f" '--output', {str(tmp_path / 'out.parquet')!r}])\n"
        "heavy = {'sklearn', 'skops', 'scipy'}\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split("\n")[-2] == "0 []", done.stderr
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 300


def test_a_logistic_regression_bundle_scores_as_its_skops_model(
    tmp_path: Path, logreg_models: Path
) -> None:
    assert read_json(logreg_models / "train_summary.json")["model"] == "logreg"
    assert isinstance(load_scorer(str(logreg_models)).model, LinearModel)
    skops_only = tmp_path / "models"
    shutil.copytree(logreg_models, skops_only)
    (skops_only / "runtime.npz").unlink()  # scored through scikit-learn, as before
    assert not isinstance(load_scorer(str(skops_only)).model, LinearModel)
    members = make_other(400, seed=3).drop(columns=["left"])
    members.loc[::7, "plan"] = "weekly"  # a level the model never saw
    members.loc[::5, "fee"] = None
    export = _write(members, tmp_path / "export.csv")
    assert _score(logreg_models, export, tmp_path / "runtime.csv") == 0
    assert _score(skops_only, export, tmp_path / "skops.csv") == 0
    runtime, skops = _read(tmp_path / "runtime.csv"), _read(tmp_path / "skops.csv")
    assert runtime["reason_1"].notna().any()
    assert runtime["lever"].notna().any()
    pd.testing.assert_frame_equal(runtime, skops, check_exact=True)


@pytest.mark.parametrize(
    ("src", "dst"), [(".csv", ".csv"), (".parquet", ".parquet"), (".csv", ".parquet")]
)
def test_cli_scores_every_member(tmp_path: Path, gym_models: Path, src: str, dst: str) -> None:
    export = _write(_gym_export(300), tmp_path / f"export{src}")
    output = tmp_path / f"scored{dst}"
    assert _score(gym_models, export, output) == 0
    scored = _read(output)
    assert scored.columns[0] == ROW_KEY
    assert scored[ROW_KEY].tolist() == list(range(1, 301))  # the file's line - 1
    assert scored["churn_probability"].between(0, 1).all()
    assert scored["risk_decile"].between(1, 10).all()
    assert set(scored["at_risk"]) <= {0, 1}


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_chunks_give_the_same_result_and_keep_counting_rows(
    tmp_path: Path, gym_models: Path, suffix: str, workers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gym_churn.scoring.cli as cli

    spool = tmp_path / "spool"  # where worker processes leave their scored chunks
    spool.mkdir()
    monkeypatch.setattr(cli, "_spool_parent", lambda: str(spool))
    export = _write(_gym_export(2500), tmp_path / f"export{suffix}")
    whole, chunked = tmp_path / f"whole{suffix}", tmp_path / f"chunked{suffix}"
    assert _score(gym_models, export, whole) == 0
    # 1 MB of rows in flight: chunks of 1000 rows (the minimum chunk), scored here or by two
    # worker processes (a parquet export's size is known: four even chunks for two workers)
    assert _score(gym_models, export, chunked, "--memory-mb", "1", "--workers", workers) == 0
    pd.testing.assert_frame_equal(_read(whole), _read(chunked))
    assert _read(chunked)[ROW_KEY].tolist() == list(range(1, 2501))
    summary = read_json(tmp_path / "chunked.summary.json")
    assert summary["members"] == 2500
    assert summary["workers"] == int(workers)
    assert read_json(tmp_path / "whole.summary.json")["at_risk"] == summary["at_risk"]
    assert list(spool.iterdir()) == []  # every chunk's file and the folder removed


@pytest.mark.parametrize(
    ("budget", "total", "workers", "rows"),
    [
        (77_000, 1_000_000, 2, 71_429),  # 13 chunks would leave one worker alone at the end
        (77_000, 10_000_000, 2, 76_924),  # 130 chunks: already even
        (77_000, 1_000_000, 3, 66_667),  # 15 chunks, 5 a worker
        (77_000, 50_000, 2, 77_000),  # one chunk: scored in the main process
        (77_000, None, 2, 77_000),  # a CSV's size is unknown: the budget
        (77_000, 1_000_000, 1, 77_000),  # one process: nothing to balance
    ],
)
def test_chunks_come_in_a_multiple_of_the_workers(
    budget: int, total: int | None, workers: int, rows: int
) -> None:
    from gym_churn.scoring.cli import even_chunks

    got = even_chunks(budget, total, workers)
    assert got == rows
    assert got <= budget
    if total is not None and workers > 1 and total > budget:
        assert -(-total // got) % workers == 0


def test_cli_accepts_the_model_file_path(tmp_path: Path, gym_models: Path) -> None:
    export = _write(_gym_export(50), tmp_path / "export.csv")
    assert _score(gym_models / "model.skops", export, tmp_path / "s.csv") == 0


def test_cli_scores_from_anywhere_with_only_the_models_folder(
    tmp_path: Path, other_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "analyst"
    shutil.copytree(other_models, elsewhere / "models")
    _write(make_other(80, seed=5).drop(columns=["left"]), elsewhere / "export.csv")
    monkeypatch.chdir(elsewhere)  # no params.yaml, no contract file, no checkout here
    assert sorted(p.name for p in elsewhere.iterdir()) == ["export.csv", "models"]
    assert _score(Path("models"), Path("export.csv"), Path("scored.csv")) == 0
    scored = pd.read_csv(elsewhere / "scored.csv")
    assert len(scored) == 80
    assert scored.columns[0] == "customer_id"  # the export's ID comes through
    assert (elsewhere / "scored.drift.csv").is_file()
    assert read_json(elsewhere / "scored.summary.json")["members"] == 80


@pytest.fixture(scope="module")
def bundled_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models trained on the bundled export's first 2,000 members: a training base large
    enough for its distributions to be a fair reference (120 rows are not)."""
    export = pd.read_csv(RAW, nrows=2000)
    return train_models(tmp_path_factory.mktemp("bundled"), "gym", export, small_params(FAMILY))


def test_a_shifted_export_warns_about_that_column_and_no_other(
    tmp_path: Path, bundled_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the other 2,000 members: as they are, and with every member's last-month visits halved
    frame = pd.read_csv(RAW, skiprows=range(1, 2001)).drop(columns=[TARGET])
    column = "Avg_class_frequency_current_month"
    calm, shifted = tmp_path / "calm.csv", tmp_path / "shifted.csv"
    for path, data in [(calm, frame), (shifted, frame.assign(**{column: frame[column] / 2}))]:
        export = _write(data, tmp_path / f"export_{path.name}")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert _score(bundled_models, export, path) == 0
        drifted = read_json(path.with_name(f"{path.stem}.summary.json"))["drifted"]
        warned = [r.getMessage() for r in caplog.records if "drifted" in r.getMessage()]
        if path is calm:
            assert drifted == []
            assert warned == []
        else:
            assert drifted == [column]
            assert len(warned) == 1
            assert warned[0].startswith(column)
    table = pd.read_csv(tmp_path / "shifted.drift.csv").set_index("feature")
    assert table.loc[column, "psi"] > 0.2
    assert (table.drop(index=column)["psi"] < 0.2).all()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_carries_the_export_id_into_the_output(
    tmp_path: Path, other_models: Path, suffix: str
) -> None:
    frame = make_other(150, seed=3).drop(columns=["left"]).sample(frac=1, random_state=0)
    export = _write(frame, tmp_path / f"export{suffix}")
    output = tmp_path / f"scored{suffix}"
    assert _score(other_models, export, output, "--memory-mb", "1") == 0
    scored = _read(output)
    assert scored.columns[0] == "customer_id"
    assert ROW_KEY not in scored.columns
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()


def test_cli_scores_an_unseen_category_level_with_a_warning(
    tmp_path: Path, other_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = make_other(60, seed=4).drop(columns=["left"])
    frame.loc[[5, 9], "plan"] = "platinum"  # a plan launched after training
    export = _write(frame, tmp_path / "export.csv")
    output = tmp_path / "scored.csv"
    with caplog.at_level(logging.WARNING):
        assert _score(other_models, export, output) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'plan'" in w and "'platinum'" in w and "2 row(s)" in w for w in warnings)
    scored = pd.read_csv(output).set_index("customer_id")
    assert len(scored) == 60
    assert scored["churn_probability"].notna().all()
    assert scored.loc[["C0005", "C0009"], "segment_name"].notna().all()


def test_cli_bad_row_in_a_later_chunk_names_its_line_and_writes_nothing(
    tmp_path: Path, gym_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = _gym_export(2500).astype({"Phone": object})
    frame.loc[2200, "Phone"] = "yes"
    export, output = _write(frame, tmp_path / "export.csv"), tmp_path / "scored.csv"
    with caplog.at_level(logging.ERROR):
        assert _score(gym_models, export, output, "--memory-mb", "1") == 1
    assert not output.exists()
    assert list(tmp_path.glob(".scored.csv.*")) == []  # no temporary file left either
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "column 'Phone': rule one_of[0, 1] fails in 1 row(s); first lines 2202;" in errors[0]


def test_cli_export_without_a_column_is_refused(tmp_path: Path, gym_models: Path, caplog) -> None:
    export = _write(_gym_export(30).drop(columns=["Age"]), tmp_path / "short.csv")
    with caplog.at_level(logging.ERROR):
        assert _score(gym_models, export, tmp_path / "s.csv") == 1
    assert "missing required column(s) Age" in caplog.text
    assert not (tmp_path / "s.csv").exists()


# ---------------------------------------------------------------- the progress bar


def test_progress_bar_on_a_terminal(tmp_path: Path, gym_models: Path) -> None:
    export = _write(_gym_export(200), tmp_path / "export.csv")
    leader, follower = pty.openpty()  # a terminal, as an analyst at a shell has
    # 24 x 80: a new pseudo-terminal is 0 columns wide, and tqdm fits its bar to the width.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    cmd = [sys.executable, "-m", "gym_churn.scoring.cli", "--model", str(gym_models),
           "--input", str(export), "--output", str(tmp_path / "a.csv")]  # fmt: skip
    try:
        run = subprocess.run(cmd, stderr=follower, stdout=subprocess.DEVNULL, timeout=120)
        os.close(follower)
        screen = b""
        with contextlib.suppress(OSError):  # EIO once the terminal's output is drained
            while chunk := os.read(leader, 65536):
                screen += chunk
    finally:
        os.close(leader)
    assert run.returncode == 0, screen.decode(errors="replace")
    assert b"200 members [" in screen
    assert b" members/s]" in screen


def test_no_progress_bar_in_a_pipe_only_the_log_line(
    tmp_path: Path, gym_models: Path, capsys: pytest.CaptureFixture, caplog
) -> None:
    # Under pytest stderr is captured, not a terminal, as in CI logs.
    export = _write(_gym_export(200), tmp_path / "export.csv")
    with caplog.at_level(logging.INFO):
        assert _score(gym_models, export, tmp_path / "b.csv") == 0
    assert "200 members scored" in caplog.text
    err = capsys.readouterr().err
    assert " members/s]" not in err
    assert "\r" not in err


def _with_policy(models: Path, policy: str, dest: Path) -> Path:
    """A copy of the models folder whose contract says `duplicates: policy`."""
    import json

    copy = Path(shutil.copytree(models, dest))
    summary = read_json(copy / "train_summary.json")
    summary["contract"]["duplicates"] = policy
    (copy / "train_summary.json").write_text(json.dumps(summary))
    return copy


REPEATS = {40: 3, 2495: 10}  # row -> the row it repeats: within the first chunk, across


def _repeated_export(rows: int, repeats: dict[int, int]) -> tuple[pd.DataFrame, list[int]]:
    """A labelled gym export of `rows` rows where rows repeat others exactly, and the rows
    a drop policy keeps."""
    frame = make_members(rows, 1)
    for row, first in repeats.items():
        frame.loc[row] = frame.loc[first]
    return frame, [r for r in range(rows) if r not in repeats]


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    "repeats", [REPEATS, {2495: 10}], ids=["first-within-a-chunk", "across-chunks"]
)
def test_repeated_members_are_refused_as_preprocess_refuses_them(
    tmp_path: Path,
    gym_models: Path,
    caplog: pytest.LogCaptureFixture,
    workers: str,
    repeats: dict[int, int],
) -> None:
    from gym_churn.contract.checks import check_export

    labelled, _ = _repeated_export(2500, repeats)
    frame = labelled.drop(columns=[TARGET])
    export, output = _write(frame, tmp_path / "export.parquet"), tmp_path / "scored.csv"
    with caplog.at_level(logging.ERROR):
        code = _score(gym_models, export, output, "--memory-mb", "1", "--workers", workers)

    assert code == 1
    assert not output.exists()
    assert list(tmp_path.glob(".scored*")) == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    # chunk by chunk, the first repeat stops the run, naming its line (row + 2)
    first = min(repeats) + 2
    assert f"rule no_duplicate_members fails in 1 row(s); first lines {first};" in errors[0]
    assert "`duplicates: drop`" in errors[0]
    # preprocess, on the same rows with their label, refuses the same rule, naming them all
    contract = load_scorer(str(gym_models)).contract
    lines = ", ".join(str(r + 2) for r in sorted(repeats))
    every = rf"no_duplicate_members fails in {len(repeats)} row\(s\); first lines {lines};"
    with pytest.raises(DataValidationError, match=every):
        check_export(labelled, contract, source="export")


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(("policy", "dropped"), [("drop", True), ("keep", False)])
def test_the_contracts_duplicates_rule_holds_across_chunks(
    tmp_path: Path, gym_models: Path, workers: str, policy: str, dropped: bool
) -> None:
    labelled, kept = _repeated_export(2500, REPEATS)
    frame = labelled.drop(columns=[TARGET])
    models = _with_policy(gym_models, policy, tmp_path / "models")
    export, output = _write(frame, tmp_path / "export.parquet"), tmp_path / "scored.parquet"

    assert _score(models, export, output, "--memory-mb", "1", "--workers", workers) == 0

    scored = _read(output)
    rows = kept if dropped else list(range(2500))
    assert scored[ROW_KEY].tolist() == [r + 1 for r in rows]
    summary = read_json(tmp_path / "scored.summary.json")
    assert summary["members"] == len(rows)
    assert summary["at_risk"] == int(scored["at_risk"].sum())
