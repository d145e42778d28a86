"""The README's results table and params table stay in step with the pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


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


def _params_table() -> dict[str, str]:
    """Key -> documented default, from the one table of the README's "Parameters" section
    (its first run of table lines: a blank line ends a Markdown table)."""
    section = README.split("\n## Parameters\n", 1)[1]
    lines = section.lstrip("\n").splitlines()
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        table.append(line)
    assert table[:2] == ["| key | default | meaning |", "|---|---|---|"]
    rows = {}
    for line in table[2:]:
        match = re.match(r"^\| `([\w.*]+)` \| ([^|]*) \|", line)
        assert match, line
        rows[match.group(1)] = match.group(2).strip()
    return rows


def _section_keys() -> list[str]:
    return [f"{section}.{key}" for section, values in PARAMS.items() for key in values]


def test_the_new_sections_are_in_the_documented_keys() -> None:
    new = {"audit.min_pure_share", "drivers.min_overlap", "drivers.max_rows",
           "drivers.early_months", "profile.rule_leaves", "profile.rule_min_share"}  # fmt: skip
    assert new <= set(_section_keys())


@pytest.mark.parametrize("key", _section_keys())
def test_every_param_is_a_row_of_the_params_table(key: str) -> None:
    rows = _params_table()
    section, name = key.split(".")
    value = PARAMS[section][name]
    if isinstance(value, dict):  # one row for the group, or one per key inside it
        assert f"{key}.*" in rows or all(f"{key}.{k}" in rows for k in value), key
    elif key not in rows:
        elsewhere = f"| `{key}` |" in README
        pytest.fail(f"{key}: a row after the params table ends (a blank line ends a Markdown "
                    "table)" if elsewhere else f"{key}: not in the params table")  # fmt: skip


def _scalars(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += _scalars(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            out.append((f"{prefix}{key}", value))
    return out


@pytest.mark.parametrize(("key", "value"), _scalars(PARAMS))
def test_documented_defaults_are_params_yaml(key: str, value: Any) -> None:
    rows = _params_table()
    if key not in rows:  # a group row (`train.logreg.*`) describes its defaults in words
        return
    documented = rows[key].strip("`")
    if isinstance(value, str):
        assert documented == value, key
    else:
        assert float(documented) == pytest.approx(value), key
