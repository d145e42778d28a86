"""The scorer writes what the output's name says, or refuses it before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from gym_churn.scoring.cli import main


@pytest.mark.parametrize("name", ["scored.xlsx", "scored.txt", "scored"])
def test_unknown_output_format_is_refused_before_loading_anything(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    # the models folder does not even exist: the format is checked first
    code = main(["--model", str(tmp_path / "nope"), "--input", "x.csv", "--output",
                 str(tmp_path / name)])  # fmt: skip
    assert code == 1
    assert "unknown output format" in caplog.text
    assert "write .csv or .parquet" in caplog.text
    assert not (tmp_path / name).exists()
