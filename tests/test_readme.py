"""The README's results table and params table stay in step with the pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _table_rows(metrics_file: str) -> list[tuple[str, float]]:
    metrics = json.loads((ROOT / metrics_file).read_text())
    rows = re.findall(r"^\| `(\w+)` \| ([0-9.]+) \|", README, flags=re.MULTILINE)
    return [(key, float(value)) for key, value in rows if key in metrics]


@pytest.mark.parametrize("metrics_file", ["metrics/evaluate.json", "metrics/cluster.json"])
def test_results_table_matches_committed_metrics(metrics_file: str) -> None:
    metrics = json.loads((ROOT / metrics_file).read_text())
    rows = _table_rows(metrics_file)
    assert rows, "README has no results rows for this metrics file"
    for key, value in rows:
        assert value == pytest.approx(metrics[key], abs=5e-5), key


def _section_keys() -> list[str]:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    return [f"{section}.{key}" for section, values in params.items() for key in values]


@pytest.mark.parametrize("key", _section_keys())
def test_every_param_is_documented(key: str) -> None:
    section, name = key.split(".")
    assert f"`{key}" in README or f"`{section}.{name}." in README, key
