"""src/ holds no knowledge of the bundled dataset: its column names live in its contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = yaml.safe_load((ROOT / "data" / "contracts" / "gym_churn.yaml").read_text())
NAMES = sorted(
    {CONTRACT["target"]["column"], *CONTRACT["features"], *CONTRACT.get("engineered", {})}
)
SOURCES = sorted((ROOT / "src").rglob("*.py"))


def _mentions(text: str, name: str) -> list[int]:
    """Line numbers where `name` stands as a word, in its own spelling (`churn` the word
    is the domain, `Churn` the column is the dataset)."""
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    return [i for i, line in enumerate(text.splitlines(), 1) if pattern.search(line)]


def test_the_check_finds_a_planted_name() -> None:
    assert _mentions('x = members["Contract_period"]\n', "Contract_period") == [1]
    assert _mentions("partner_share = 1\n", "Partner") == []  # part of another word


@pytest.mark.parametrize("name", NAMES)
def test_no_gym_column_name_in_src(name: str) -> None:
    hits = {
        str(path.relative_to(ROOT)): lines
        for path in SOURCES
        if (lines := _mentions(path.read_text(encoding="utf-8"), name))
    }
    assert not hits, f"{name!r} appears in {hits}"


def test_no_sentence_of_the_original_study_in_src() -> None:
    # The study's claims are declared as findings in the contract, not written in code.
    claims = [f["claim"] for f in CONTRACT.get("findings", [])]
    assert claims
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for claim in claims:
            assert claim not in text, f"{claim!r} in {path}"
