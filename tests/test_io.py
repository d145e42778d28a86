"""File I/O: tables, JSON, params, atomic writes and safe model files (gym_churn.io)."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from gym_churn import io as gio
from gym_churn.contract.spec import contract_to_dict
from gym_churn.errors import ContractError, DataValidationError, ModelFileError, ParamsError

PARAMS_PATH = Path(__file__).parents[1] / "params.yaml"
CONTRACT_PATH = Path(__file__).parents[1] / "data" / "contracts" / "gym_churn.yaml"


class Untrusted:
    """A type no model file of the pipeline contains: loading it must be refused."""

    def __init__(self) -> None:
        self.payload = "anything"


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- tables


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member": [1, 2, 3],
            "Age": [29, 31, 45],
            "spend": [14.25, 113.5, 0.0],
            "name": ["a", "b, c", "d"],
        }
    )


def test_csv_round_trip(tmp_path, table):
    path = tmp_path / "out" / "members.csv"

    gio.write_table(table, path)
    back = gio.read_table(path)

    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    assert back["Age"].dtype == np.int64
    assert path.read_bytes().count(b"\r") == 0  # "\n" line endings on every OS


def test_csv_round_trip_of_data_floats_is_exact(tmp_path):
    frame = pd.DataFrame({"x": [0.123456789, 113.20293765105819, 2.0 / 3.0, 1234567.8]})
    path = tmp_path / "floats.csv"

    gio.write_table(frame, path)

    assert gio.read_table(path)["x"].tolist() == frame["x"].tolist()


def test_plot_data_is_rounded_to_six_decimals(tmp_path):
    frame = pd.DataFrame({"x": [0.123456789, 2.0 / 3.0]})
    path = tmp_path / "plot.csv"

    gio.write_plot_data(frame, path)

    assert path.read_text().splitlines() == ["x", "0.123457", "0.666667"]


def test_parquet_round_trip(tmp_path, table):
    pytest.importorskip("pyarrow")
    path = tmp_path / "members.parquet"

    gio.write_table(table, path)

    pd.testing.assert_frame_equal(gio.read_table(path), table, check_dtype=False)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"a,b\r\n1,2.5\r\n3,4\r\n", id="crlf"),
        pytest.param(b"\xef\xbb\xbfa,b\n1,2.5\n3,4\n", id="utf8_bom"),
        pytest.param(b"\xef\xbb\xbfa,b\r\n1,2.5\r\n3,4", id="bom_crlf_no_final_newline"),
    ],
)
def test_read_table_handles_line_endings_and_bom(tmp_path, raw):
    path = tmp_path / "export.csv"
    path.write_bytes(raw)

    frame = gio.read_table(path)

    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1, 3]
    assert frame["b"].tolist() == [2.5, 4.0]


@pytest.mark.parametrize("raw", [b"", b"\n", b"\r\n"], ids=["zero_bytes", "lf", "crlf"])
def test_empty_file_is_refused_naming_the_file(tmp_path, raw):
    path = tmp_path / "export.csv"
    path.write_bytes(raw)

    with pytest.raises(DataValidationError, match="empty") as info:
        gio.read_table(path)

    assert str(path) in str(info.value)


def test_missing_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "nope.csv"

    with pytest.raises(DataValidationError, match="not found") as info:
        gio.read_table(path)

    assert str(path) in str(info.value)


def test_binary_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"a,b\n\xff\xfe\x00\x81,2\n")

    with pytest.raises(DataValidationError, match="binary data") as info:
        gio.read_table(path)

    assert str(path) in str(info.value)


def test_write_json_rounds_floats_to_six_digits(tmp_path):
    path = tmp_path / "metrics.json"
    obj = {
        "a": 0.123456789,
        "b": [1.23456789, 2],
        "c": {"d": 2 / 3, "e": (0.1 + 0.2,)},
        "f": np.float64(1 / 7),
        "n": 10,
        "s": "text",
    }

    gio.write_json(obj, path)

    assert gio.read_json(path) == {
        "a": 0.123457,
        "b": [1.234568, 2],
        "c": {"d": 0.666667, "e": [0.3]},
        "f": 0.142857,
        "n": 10,
        "s": "text",
    }
    text = path.read_text()
    assert text.endswith("}\n")
    assert "0.30000000000000004" not in text


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        ({"share": float("nan")}, "share"),
        ({"a": {"b": [1.0, float("inf")]}}, "a.b[1]"),
        ({"x": np.float64("-inf")}, "x"),
        ([float("nan")], "[0]"),
    ],
)
def test_write_json_refuses_nan_and_infinity_naming_the_key(tmp_path, obj, where):
    path = tmp_path / "metrics.json"

    with pytest.raises(ValueError, match=rf"{path}: not a finite number at {re.escape(where)}"):
        gio.write_json(obj, path)

    assert _files(tmp_path) == []


def test_write_json_output_is_strict_json(tmp_path):
    path = tmp_path / "m.json"

    gio.write_json({"a": 1e-300, "b": [0.5, None], "c": 10**20}, path)

    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    assert json.loads(path.read_text(), parse_constant=refuse) == {
        "a": 0.0, "b": [0.5, None], "c": 10**20,
    }  # fmt: skip


def test_write_json_keeps_non_ascii(tmp_path):
    path = tmp_path / "m.json"

    gio.write_json({"title": "Mean ± std"}, path)

    assert "±" in path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- atomic writes


def test_atomic_write_replaces_the_file_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    gio.write_bytes(b"new", path)

    assert path.read_bytes() == b"new"
    assert _files(tmp_path) == ["out.bin"]


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=["umask022", "umask077", "umask002"])
def umask(request) -> Iterator[int]:
    """The process's umask set for one test, then restored."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _write_chunks(frame: pd.DataFrame, path: Path) -> None:
    with gio.table_writer(path) as write:
        write(frame)


ONE = pd.DataFrame({"a": [1]})
WRITERS = {
    "a.bin": lambda path: gio.write_bytes(b"x", path),
    "report.md": lambda path: gio.write_text("report", path),
    "metrics.json": lambda path: gio.write_json({"a": 0.5}, path),
    "t.csv": lambda path: gio.write_table(ONE, path),
    "t.parquet": lambda path: gio.write_table(ONE, path),
    "chunks.csv": lambda path: _write_chunks(ONE, path),
    "chunks.parquet": lambda path: _write_chunks(ONE, path),
    "r.npz": lambda path: gio.write_arrays({"a": np.arange(3)}, path),
}


@pytest.mark.parametrize("replace", [False, True], ids=["new", "replaced"])
@pytest.mark.parametrize("name", WRITERS)
def test_outputs_get_the_mode_the_umask_gives(tmp_path, umask, name, replace):
    path = tmp_path / name
    if replace:  # an older output with another mode is replaced, its mode not kept
        path.write_bytes(b"old")
        path.chmod(0o600 if umask != 0o077 else 0o644)

    WRITERS[name](path)

    assert path.read_bytes() != b"old"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert _files(tmp_path) == [name]


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old content")

    def half_write(handle: IO[bytes]) -> None:
        handle.write(b"half of the new cont")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed mid-write"):
        gio._atomic_write(path, half_write)

    assert path.read_bytes() == b"old content"
    assert _files(tmp_path) == ["out.bin"]


def test_atomic_write_failure_creates_no_file(tmp_path):
    path = tmp_path / "sub" / "out.bin"

    def fail(handle: IO[bytes]) -> None:
        handle.write(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gio._atomic_write(path, fail)

    assert not path.exists()
    assert _files(path.parent) == []


# ---------------------------------------------------------------- params


def test_load_params_real_file():
    params = gio.load_params(PARAMS_PATH)

    assert params.base.seed == yaml.safe_load(PARAMS_PATH.read_text())["base"]["seed"]


def test_load_params_misspelled_key_names_file_and_key(tmp_path):
    raw = yaml.safe_load(PARAMS_PATH.read_text())
    raw["split"]["tset_size"] = raw["split"].pop("test_size")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))

    with pytest.raises(ParamsError) as info:
        gio.load_params(path)

    message = str(info.value)
    assert message.startswith(str(path))
    assert "split.tset_size: unknown key" in message


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "not found"),
        ("base: [unclosed\n", "not valid YAML"),
        ("", "expected a mapping"),
    ],
)
def test_load_params_bad_file(tmp_path, content, match):
    path = tmp_path / "params.yaml"
    if content is not None:
        path.write_text(content)

    with pytest.raises(ParamsError, match=match) as info:
        gio.load_params(path)

    assert str(path) in str(info.value)


# ---------------------------------------------------------------- data contracts


def test_load_contract_real_file():
    contract = gio.load_contract(CONTRACT_PATH)

    raw = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))
    assert contract.target.column == raw["target"]["column"]
    assert contract.raw_features == list(raw["features"])


def test_load_contract_round_trips_through_yaml(tmp_path):
    contract = gio.load_contract(CONTRACT_PATH)
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(contract_to_dict(contract), allow_unicode=True))

    assert gio.load_contract(path) == contract


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param(None, "data contract not found", id="missing-file"),
        pytest.param("target: [unclosed\n", "not valid YAML", id="bad-yaml"),
        pytest.param("", "expected a mapping", id="empty-file"),
        pytest.param("- a\n- b\n", "expected a mapping, got list", id="a-list"),
        pytest.param("target: {column: y, positive: [1], negative: [0]}\n"
                     "features: {x: {kind: integer, mn: 0}}\n",
                     "features.x.mn: unknown key", id="invalid-contract"),
        pytest.param("target: {column: y, positive: [1], negative: [0]}\n"
                     "features: {y: {kind: binary}}\n",
                     "'y' is the target or ID column", id="contradicts-itself"),
    ],
)  # fmt: skip
def test_load_contract_bad_file_names_the_file(tmp_path, content, match):
    path = tmp_path / "contracts" / "mine.yaml"
    if content is not None:
        path.parent.mkdir()
        path.write_text(content)

    with pytest.raises(ContractError, match=match) as info:
        gio.load_contract(path)

    assert str(info.value).startswith(str(path))


def test_iter_table_chunks_keeps_counting_rows(tmp_path, table):
    path = tmp_path / "members.csv"
    gio.write_table(pd.concat([table] * 3, ignore_index=True), path)

    chunks = list(gio.iter_table_chunks(path, rows=4))

    assert [len(c) for c in chunks] == [4, 4, 1]
    assert [c.index[0] for c in chunks] == [0, 4, 8]
    assert pd.concat(chunks)["name"].tolist() == table["name"].tolist() * 3


def test_table_rows_reads_a_parquet_footer_and_not_a_csv(tmp_path, table):
    parquet, csv = tmp_path / "members.parquet", tmp_path / "members.csv"
    gio.write_table(table, parquet)
    gio.write_table(table, csv)

    assert gio.table_rows(parquet) == len(table)
    assert gio.table_rows(csv) is None
    assert gio.table_rows(tmp_path / "absent.parquet") is None  # reading it says so


def test_an_unreadable_parquet_is_one_clear_error(tmp_path):
    path = tmp_path / "export.parquet"
    path.write_bytes(b"member_id,age\n1,30\n")  # CSV text under a parquet name

    for read in (gio.table_rows, lambda p: next(gio.iter_table_chunks(p, rows=10))):
        with pytest.raises(DataValidationError, match="not a readable parquet file") as info:
            read(path)
        assert str(info.value).startswith(str(path))


# ---------------------------------------------------------------- model files


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=200, n_features=5, random_state=0)


def _fitted(xy: tuple[np.ndarray, np.ndarray], seed: int = 0) -> Pipeline:
    X, y = xy
    model = HistGradientBoostingClassifier(max_iter=10, max_leaf_nodes=7, random_state=seed)
    return Pipeline([("model", model)]).fit(X, y)


def test_model_round_trip_gives_identical_probabilities(tmp_path, xy):
    model = _fitted(xy)
    path = tmp_path / "model.skops"

    gio.save_model(model, path)
    loaded = gio.load_model(path)

    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(loaded.predict_proba(xy[0]), model.predict_proba(xy[0]))
    assert _files(tmp_path) == ["model.skops"]


def test_saving_twice_gives_identical_bytes(tmp_path, xy):
    model = _fitted(xy)

    gio.save_model(model, tmp_path / "a.skops")
    gio.save_model(model, tmp_path / "b.skops")
    gio.save_model(_fitted(xy), tmp_path / "c.skops")  # a fresh fit with the same seed

    first = (tmp_path / "a.skops").read_bytes()
    assert (tmp_path / "b.skops").read_bytes() == first
    assert (tmp_path / "c.skops").read_bytes() == first


def test_different_models_give_different_bytes(tmp_path, xy):
    gio.save_model(_fitted(xy, seed=0), tmp_path / "a.skops")
    gio.save_model(_fitted((xy[0], 1 - xy[1]), seed=0), tmp_path / "b.skops")

    assert (tmp_path / "a.skops").read_bytes() != (tmp_path / "b.skops").read_bytes()


def test_model_with_an_untrusted_custom_type_is_refused(tmp_path, xy):
    import skops.io as sio

    path = tmp_path / "model.skops"
    path.write_bytes(sio.dumps({"model": _fitted(xy), "extra": Untrusted()}))

    with pytest.raises(ModelFileError, match="untrusted") as info:
        gio.load_model(path)

    assert str(path) in str(info.value)
    assert "Untrusted" in str(info.value)


def _tamper_schema(data: bytes, module: str, name: str) -> bytes:
    """Point the top-level object of a skops file at another type."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        members = {info.filename: src.read(info.filename) for info in src.infolist()}
    schema = json.loads(members["schema.json"])
    schema["__module__"], schema["__class__"] = module, name
    members["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for filename, content in members.items():
            dst.writestr(filename, content)
    return out.getvalue()


@pytest.mark.parametrize(("module", "name"), [("os", "system"), ("builtins", "eval")])
def test_tampered_model_file_is_refused(tmp_path, xy, module, name):
    path = tmp_path / "model.skops"
    gio.save_model(_fitted(xy), path)
    path.write_bytes(_tamper_schema(path.read_bytes(), module, name))

    with pytest.raises(ModelFileError, match="refusing to load") as info:
        gio.load_model(path)

    assert f"{module}.{name}" in str(info.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "not found"),
        (b"definitely not a zip file", "not a skops model file"),
    ],
)
def test_unreadable_model_file_is_refused(tmp_path, content, match):
    path = tmp_path / "model.skops"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ModelFileError, match=match):
        gio.load_model(path)


# ---------------------------------------------------------------- figures


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path):
    from gym_churn.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = tmp_path / "figures" / "line.png"

    gio.save_figure(fig, path)

    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not plt.fignum_exists(fig.number)
    assert b"Matplotlib version" not in path.read_bytes()


def test_arrow_file_round_trip_keeps_types_and_text(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"id": [3, 1], "p": [0.25, np.nan], "reason": ["visits: 0.4 a week", ""], "k": [1, 0]}
    )
    table = gio.arrow_table(frame)
    gio.write_arrow_file(table, tmp_path / "chunk.arrow")
    back = gio.read_arrow_file(tmp_path / "chunk.arrow")
    assert back.equals(table)
    pd.testing.assert_frame_equal(back.to_pandas(), frame)
