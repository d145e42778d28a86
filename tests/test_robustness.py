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

from gym_churn.contract.checks import check_export
from gym_churn.errors import DataValidationError
from gym_churn.io import read_table
from gym_churn.stages import preprocess
from tests.conftest import GYM_CONTRACT, GYM_CONTRACT_PATH, TARGET

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data/raw/gym_churn.csv"
CONTRACT = yaml.safe_load(GYM_CONTRACT_PATH.read_text(encoding="utf-8"))
WHOLE = GYM_CONTRACT.of_kind("binary", "integer")
N_ROWS = 200


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return pd.read_csv(RAW, nrows=N_ROWS)


def _csv(frame: pd.DataFrame, **kwargs) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode()


def _run_preprocess(
    tmp_path: Path, data: bytes, features: dict | None = None, **overrides
) -> tuple[int, Path, Path, Path]:
    """Run the preprocess stage on `data` with the gym contract, top-level keys and feature
    specs overridden."""
    contract = json.loads(json.dumps(CONTRACT))
    contract.update(overrides)
    for name, changes in (features or {}).items():
        contract["features"][name].update(changes)
    contract_file = tmp_path / "contract.yaml"
    contract_file.write_text(yaml.safe_dump(contract, allow_unicode=True), encoding="utf-8")
    raw, out = tmp_path / "export.csv", tmp_path / "out" / "members.csv"
    metrics = tmp_path / "out" / "preprocess.json"
    raw.write_bytes(data)
    argv = ["--contract", str(contract_file), "--raw", str(raw), "--output", str(out)]
    argv += ["--to-score", str(tmp_path / "out" / "to_score.csv")]
    code = preprocess.main([*argv, "--metrics", str(metrics)])
    return code, raw, out, metrics


# ---------------------------------------------------------------- variants that must work

VARIANTS: dict[str, tuple[Callable[[pd.DataFrame], bytes], str | None]] = {
    "label and derived columns": (
        lambda f: _csv(
            f.assign(
                Churn_label=f[TARGET].map({0: "stayed", 1: "left"}),
                Total_visits=f["Avg_class_frequency_total"] * f["Lifetime"],
            )
        ),
        "2 column(s) not in the data contract, left out: Churn_label, Total_visits",
    ),
    "reversed column order": (lambda f: _csv(f[f.columns[::-1]]), None),
    "CRLF line endings": (lambda f: _csv(f, lineterminator="\r\n"), "CRLF"),
    "UTF-8 BOM": (lambda f: b"\xef\xbb\xbf" + _csv(f), "byte-order mark"),
    "BOM and CRLF": (
        lambda f: b"\xef\xbb\xbf" + _csv(f, lineterminator="\r\n"),
        "byte-order mark",
    ),
    "integers written as 5.0": (lambda f: _csv(f.astype(dict.fromkeys(WHOLE, float))), None),
    "values rounded to 2 decimals": (lambda f: _csv(f.round(2)), None),
    "every value quoted": (lambda f: _csv(f, quoting=1), None),
    "semicolon-separated": (lambda f: _csv(f, sep=";"), "';'-separated"),
    "tab-separated": (lambda f: _csv(f, sep="\t"), "'\\t'-separated"),
    "pipe-separated": (lambda f: _csv(f, sep="|"), "'|'-separated"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_export_variants_run_with_a_note(
    tmp_path: Path, bundled: pd.DataFrame, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    make, note = VARIANTS[name]
    with caplog.at_level(logging.INFO):
        code, _, out, metrics = _run_preprocess(tmp_path, make(bundled))
    assert code == 0, caplog.text
    members = pd.read_csv(out)
    assert len(members) == N_ROWS
    assert members["member_row"].tolist() == list(range(1, N_ROWS + 1))
    expected = bundled["Avg_additional_charges_total"]
    np.testing.assert_allclose(
        members["Avg_additional_charges_total"],
        expected.round(2) if "rounded" in name else expected,
        rtol=1e-12,
    )
    assert members["Contract_period"].tolist() == bundled["Contract_period"].tolist()
    assert members[TARGET].tolist() == bundled[TARGET].tolist()
    assert set(GYM_CONTRACT.engineered) <= set(members.columns)
    assert json.loads(metrics.read_text())["rows_written"] == N_ROWS
    if note:
        assert note in caplog.text


# ---------------------------------------------------------------- files that must be refused


def _set(column: str, rows: list[int], value) -> Callable[[pd.DataFrame], bytes]:
    def make(frame: pd.DataFrame) -> bytes:
        bad = frame.astype({column: object})
        bad.loc[rows, column] = value
        return _csv(bad)

    return make


def _broken_in_three_ways(frame: pd.DataFrame) -> bytes:
    bad = frame.astype({"Age": object, TARGET: object})
    bad.loc[3, "Age"] = "thirty"
    bad.loc[5, "Avg_class_frequency_current_month"] = -1.0
    bad.loc[7, TARGET] = "maybe"
    return _csv(bad)


REFUSED: dict[str, tuple[Callable[[pd.DataFrame], bytes], list[str]]] = {
    "missing column": (lambda f: _csv(f.drop(columns=["Lifetime"])), ["Lifetime", "missing"]),
    "missing values": (
        _set("Age", [4, 10, 11], None),
        ["'Age'", "not_missing", "3 row(s)", "lines 6, 12, 13"],
    ),
    "text in a numeric column": (
        _set("Avg_additional_charges_total", [2], "lots"),
        ["'Avg_additional_charges_total'", "rule number", "1 row(s)", "lines 4", "'lots'"],
    ),
    "flag outside 0/1": (_set("Phone", [0, 1], 3), ["'Phone'", "one_of[0, 1]", "2 row(s)"]),
    "negative spend": (
        _set("Avg_additional_charges_total", [7], -5.0),
        ["'Avg_additional_charges_total'", "greater_than_or_equal_to(0.0)", "lines 9"],
    ),
    "absurd visit frequency": (
        _set("Avg_class_frequency_total", [3], 90.0),
        ["'Avg_class_frequency_total'", "less_than_or_equal_to(21.0)", "lines 5"],
    ),
    "absurd age": (_set("Age", [5], 240), ["'Age'", "less_than_or_equal_to(100.0)", "lines 7"]),
    "months left beyond contract": (
        _set("Month_to_end_contract", [8], 13.0),
        ["'Month_to_end_contract'", "months_left_within_contract", "lines 10"],
    ),
    "three rules at once": (
        _broken_in_three_ways,
        [
            "'Age': rule number",
            "'Avg_class_frequency_current_month': rule greater_than",
            f"{TARGET!r}: rule one_of[1, 0]",
            "lines 5;",
            "lines 7;",
            "lines 9;",
        ],
    ),
    "label not 0/1": (_set(TARGET, [2], "yes"), [f"{TARGET!r}", "one_of[1, 0]", "'yes'"]),
    "one class only": (lambda f: _csv(f.assign(Churn=0)), [f"{TARGET!r}", "two_classes"]),
    "empty file": (lambda f: b"", ["empty"]),
    "header only": (lambda f: _csv(f.iloc[:0]), ["no data rows"]),
    "duplicated members": (
        lambda f: _csv(pd.concat([f, f.iloc[[3, 9]]], ignore_index=True)),
        ["no_duplicate_members", "2 row(s)", f"lines {N_ROWS + 2}, {N_ROWS + 3}"],
    ),
    "rows longer than the header": (
        lambda f: _csv(f).replace(b"\n", b",7\n", 3).replace(b",7\n", b"\n", 1),
        ["more fields than the header"],
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
    # no partial outputs: neither the members nor the metrics, nor a temporary file
    assert not out.exists()
    assert not metrics.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
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


def test_a_bad_contract_is_refused_before_the_data_is_read(tmp_path: Path, bundled) -> None:
    code, _, out, _ = _run_preprocess(tmp_path, _csv(bundled), features={"Age": {"kind": "integr"}})
    assert code == 1
    assert not out.exists()


def test_missing_rows_can_be_dropped_and_are_counted(tmp_path: Path, bundled) -> None:
    code, _, out, metrics = _run_preprocess(
        tmp_path, _set("Lifetime", [1, 2, 50], None)(bundled), {"Lifetime": {"missing": "drop"}}
    )
    assert code == 0
    counts = json.loads(metrics.read_text())
    assert counts["rows_dropped_missing"] == 3
    assert counts["rows_written"] == N_ROWS - 3
    members = pd.read_csv(out)
    assert 2 not in members["member_row"].tolist()  # row 1 (0-based) was dropped
    assert members["member_row"].tolist()[:2] == [1, 4]


def test_kept_gaps_reach_the_output_and_the_engineered_features(tmp_path: Path, bundled) -> None:
    code, _, out, _ = _run_preprocess(
        tmp_path,
        _set("Avg_class_frequency_total", [4, 9], None)(bundled),
        {"Avg_class_frequency_total": {"missing": "keep"}},
    )
    assert code == 0
    members = pd.read_csv(out)
    gaps = members["Avg_class_frequency_total"].isna()
    assert gaps.tolist() == [i in (4, 9) for i in range(N_ROWS)]
    assert members["freq_change"].isna().tolist() == gaps.tolist()


@pytest.mark.parametrize(("policy", "rows"), [("drop", N_ROWS), ("keep", N_ROWS + 2)])
def test_duplicate_policy(tmp_path: Path, bundled: pd.DataFrame, policy: str, rows: int) -> None:
    data = _csv(pd.concat([bundled, bundled.iloc[[3, 9]]], ignore_index=True))
    code, _, out, metrics = _run_preprocess(tmp_path, data, duplicates=policy)
    assert code == 0
    assert len(pd.read_csv(out)) == rows
    assert json.loads(metrics.read_text())["rows_dropped_duplicates"] == N_ROWS + 2 - rows


# ---------------------------------------------------------------- fuzzing


def _read_and_check(path: Path) -> pd.DataFrame:
    return check_export(read_table(path), GYM_CONTRACT, source=str(path)).members


corruption = st.one_of(
    st.tuples(st.just("replace_cell"), st.integers(0, 10**6), st.text(max_size=6)),
    st.tuples(st.just("delete_bytes"), st.integers(0, 10**6), st.integers(1, 40)),
    st.tuples(st.just("insert_bytes"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("swap_delimiter"), st.integers(0, 10**6), st.sampled_from([";", "\t", " "])),
)


@settings(
    max_examples=20,
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
        members = _read_and_check(path)
    except DataValidationError as exc:
        assert str(path) in str(exc)  # noqa: PT017 (either outcome is fine, not a raises test)
    else:
        assert len(members) > 0
        assert members[TARGET].isin([0, 1]).all()
        assert (members["Month_to_end_contract"] <= members["Contract_period"]).all()
        assert members["Age"].between(14, 100).all()
        assert members["member_row"].is_unique
