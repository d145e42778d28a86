"""Real exports are messy: variants that must work, files that must be refused, and a fuzzer.

Every variant is generated here from the bundled export; no copies are committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gym_churn.columns import INTEGER_COLUMNS
from gym_churn.errors import DataValidationError
from gym_churn.io import read_table
from gym_churn.schema import apply_row_policies, required_columns
from gym_churn.schema import validate_members as validate
from gym_churn.stages import preprocess

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data/raw/gym_churn.csv"
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
N_ROWS = 200


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return pd.read_csv(RAW, nrows=N_ROWS)


def _csv(frame: pd.DataFrame, **kwargs) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode()


def _run_preprocess(tmp_path: Path, data: bytes, **overrides) -> tuple[int, Path, Path, Path]:
    params = json.loads(json.dumps(PARAMS))
    params["preprocess"].update(overrides)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    raw, out = tmp_path / "export.csv", tmp_path / "out" / "members.csv"
    metrics = tmp_path / "out" / "preprocess.json"
    raw.write_bytes(data)
    argv = ["--params", str(params_file), "--raw", str(raw), "--output", str(out)]
    code = preprocess.main([*argv, "--metrics", str(metrics)])
    return code, raw, out, metrics


# ---------------------------------------------------------------- variants that must work

VARIANTS: dict[str, tuple[Callable[[pd.DataFrame], bytes], str | None]] = {
    "label and derived columns": (
        lambda f: _csv(
            f.assign(
                Churn_label=f["Churn"].map({0: "stayed", 1: "left"}),
                Total_visits=f["Avg_class_frequency_total"] * f["Lifetime"],
            )
        ),
        "dropping 2 extra column(s): Churn_label, Total_visits",
    ),
    "reversed column order": (lambda f: _csv(f[f.columns[::-1]]), None),
    "CRLF line endings": (lambda f: _csv(f, lineterminator="\r\n"), "CRLF"),
    "UTF-8 BOM": (lambda f: b"\xef\xbb\xbf" + _csv(f), "byte-order mark"),
    "integers written as 5.0": (
        lambda f: _csv(f.astype(dict.fromkeys(INTEGER_COLUMNS, float))),
        None,
    ),
    "values rounded to 2 decimals": (lambda f: _csv(f.round(2)), None),
    "semicolon-separated": (lambda f: _csv(f, sep=";"), "';'-separated"),
    "tab-separated": (lambda f: _csv(f, sep="\t"), "'\\t'-separated"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_export_variants_run_with_a_note(
    tmp_path: Path, bundled: pd.DataFrame, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    make, note = VARIANTS[name]
    with caplog.at_level(logging.INFO):
        code, _, out, _ = _run_preprocess(tmp_path, make(bundled))
    assert code == 0, caplog.text
    members = pd.read_csv(out)
    assert len(members) == N_ROWS
    expected = bundled["Avg_additional_charges_total"]
    np.testing.assert_allclose(
        members["Avg_additional_charges_total"],
        expected.round(2) if "rounded" in name else expected,
        rtol=1e-12,
    )
    assert members["Contract_period"].tolist() == bundled["Contract_period"].tolist()
    if note:
        assert note in caplog.text


# ---------------------------------------------------------------- files that must be refused


def _set(column: str, rows: list[int], value) -> Callable[[pd.DataFrame], bytes]:
    def make(frame: pd.DataFrame) -> bytes:
        bad = frame.astype({column: object})
        bad.loc[rows, column] = value
        return _csv(bad)

    return make


REFUSED: dict[str, tuple[Callable[[pd.DataFrame], bytes], list[str]]] = {
    "missing column": (lambda f: _csv(f.drop(columns=["Lifetime"])), ["Lifetime", "missing"]),
    "missing values": (
        _set("Age", [4, 10, 11], None),
        ["'Age'", "not_nullable", "3 row(s)", "lines 6, 12, 13"],
    ),
    "text in a numeric column": (
        _set("Avg_additional_charges_total", [2], "lots"),
        ["'Avg_additional_charges_total'", "coerce_dtype", "1 row(s)", "lines 4"],
    ),
    "flag outside 0/1": (_set("Phone", [0, 1], 3), ["'Phone'", "isin([0, 1])", "2 row(s)"]),
    "negative spend": (
        _set("Avg_additional_charges_total", [7], -5.0),
        ["'Avg_additional_charges_total'", "greater_than_or_equal_to(0)", "lines 9"],
    ),
    "absurd visit frequency": (
        _set("Avg_class_frequency_total", [3], 90.0),
        ["'Avg_class_frequency_total'", "less_than_or_equal_to(21", "lines 5"],
    ),
    "absurd age": (_set("Age", [5], 240), ["'Age'", "in_range(14, 100)", "lines 7"]),
    "months left beyond contract": (
        _set("Month_to_end_contract", [8], 13.0),
        ["'Month_to_end_contract'", "Month_to_end_contract <= Contract_period", "lines 10"],
    ),
    "one class only": (lambda f: _csv(f.assign(Churn=0)), ["'Churn'", "two_classes"]),
    "empty file": (lambda f: b"", ["empty"]),
    "header only": (lambda f: _csv(f.iloc[:0]), ["no data rows"]),
    "duplicated members": (
        lambda f: _csv(pd.concat([f, f.iloc[[3, 9]]], ignore_index=True)),
        ["no_duplicate_members", "2 row(s)", f"lines {N_ROWS + 2}, {N_ROWS + 3}"],
    ),
    "binary garbage": (
        lambda f: bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        ["binary data"],
    ),
    "not UTF-8 text": (lambda f: _csv(f).replace(b"gender", b"g\xe9nder"), ["not UTF-8"]),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_untrustworthy_files_are_refused_clearly(
    tmp_path: Path, bundled: pd.DataFrame, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    make, expected = REFUSED[name]
    with caplog.at_level(logging.ERROR):
        code, raw, out, metrics = _run_preprocess(tmp_path, make(bundled))
    assert code == 1
    assert not out.exists()
    assert not metrics.exists()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert str(raw) in message
    for part in expected:
        assert part in message, message
    assert "Traceback" not in caplog.text


def test_refused_file_is_never_modified(tmp_path: Path, bundled: pd.DataFrame) -> None:
    data = _set("Phone", [0], 7)(bundled)
    _, raw, _, _ = _run_preprocess(tmp_path, data)
    assert hashlib.sha256(raw.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_missing_rows_can_be_dropped_and_are_counted(tmp_path: Path, bundled) -> None:
    code, _, out, metrics = _run_preprocess(
        tmp_path, _set("Lifetime", [1, 2, 50], None)(bundled), missing="drop"
    )
    assert code == 0
    counts = json.loads(metrics.read_text())
    assert counts["rows_dropped_missing"] == 3
    assert counts["rows_written"] == N_ROWS - 3
    members = pd.read_csv(out)
    assert 2 not in members["member_row"].tolist()  # row 1 (0-based) was dropped
    assert members["member_row"].tolist()[:2] == [1, 4]


@pytest.mark.parametrize(("policy", "rows"), [("drop", N_ROWS), ("keep", N_ROWS + 2)])
def test_duplicate_policy(tmp_path: Path, bundled: pd.DataFrame, policy: str, rows: int) -> None:
    data = _csv(pd.concat([bundled, bundled.iloc[[3, 9]]], ignore_index=True))
    code, _, out, metrics = _run_preprocess(tmp_path, data, duplicates=policy)
    assert code == 0
    assert len(pd.read_csv(out)) == rows
    assert json.loads(metrics.read_text())["rows_dropped_duplicates"] == N_ROWS + 2 - rows


# ---------------------------------------------------------------- fuzzing

CONTRACT = {"contract_periods": [1, 6, 12], "age_min": 14, "age_max": 100}


def _read_and_validate(path: Path) -> pd.DataFrame:
    frame, _ = apply_row_policies(
        read_table(path), required_columns("Churn"), missing="error", duplicates="error",
        source=str(path),
    )  # fmt: skip
    return validate(
        frame, target="Churn", source=str(path), max_visits_per_week=21,
        max_lifetime_months=600, **CONTRACT,
    )  # fmt: skip


corruption = st.one_of(
    st.tuples(st.just("replace_cell"), st.integers(0, 10**6), st.text(max_size=6)),
    st.tuples(st.just("delete_bytes"), st.integers(0, 10**6), st.integers(1, 40)),
    st.tuples(st.just("insert_bytes"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("swap_delimiter"), st.integers(0, 10**6), st.sampled_from([";", "\t", " "])),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=st.lists(corruption, min_size=1, max_size=3))
def test_fuzzed_exports_give_a_valid_run_or_the_documented_error(
    tmp_path: Path, changes: list[tuple]
) -> None:
    frame = pd.read_csv(RAW, nrows=25)
    data = bytearray(_csv(frame))
    for kind, position, payload in changes:
        at = position % max(len(data), 1)
        if kind == "replace_cell":
            lines = data.decode("utf-8", "replace").split("\n")
            row = lines[1 + at % (len(lines) - 2)] if len(lines) > 2 else ""
            cells = row.split(",")
            if len(lines) > 2 and cells:
                cells[at % len(cells)] = payload
                lines[1 + at % (len(lines) - 2)] = ",".join(cells)
            data = bytearray("\n".join(lines).encode())
        elif kind == "delete_bytes":
            del data[at : at + payload]
        elif kind == "insert_bytes":
            data[at:at] = payload
        elif kind == "truncate":
            del data[at:]
        else:
            data = data.replace(b",", payload.encode())
    path = tmp_path / "fuzzed.csv"
    path.write_bytes(bytes(data))
    try:
        members = _read_and_validate(path)
    except DataValidationError as exc:
        assert str(path) in str(exc)  # noqa: PT017 (either outcome is fine, not a raises test)
    else:
        assert len(members) > 0
        assert members["Churn"].isin([0, 1]).all()
        assert (members["Month_to_end_contract"] <= members["Contract_period"]).all()
