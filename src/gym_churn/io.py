"""All file I/O of the project: tables, JSON, params, model files and figures.

Every writer goes through `_atomic_write`: the bytes land in a temporary file beside the target
and are renamed over it, so a run killed mid-write never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import secrets
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gym_churn.contract.spec import Contract, parse_contract
from gym_churn.errors import ContractError, DataValidationError, ModelFileError, ParamsError

if TYPE_CHECKING:
    import pandas as pd

    from gym_churn.params import Params

log = logging.getLogger(__name__)

# Figures in float outputs: enough for any metric, few enough that the last-bit noise of
# different BLAS builds never shows up as a diff in a pull request.
FLOAT_DIGITS = 6

# skops trusts plain sklearn estimators and numpy containers by default; these are the
# other types the pipeline's own model files hold. Anything else in a file is refused.
TRUSTED_MODEL_TYPES: tuple[str, ...] = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # Gradient boosting with native categories keeps an internal FunctionTransformer whose
    # function is functools.partial(sklearn.utils.validation.check_array, ...): both trusted
    # by name here, the partial only ever wraps that check.
    "functools.partial",
    "sklearn.utils.validation.check_array",
    # The dtype an imputer or encoder records of the data it was fitted on: a descriptor only.
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.tree._tree.Tree",
)


def _temp_beside(target: Path) -> tuple[int, str]:
    """A new, empty temporary file in `target`'s folder, open for writing: (fd, path).

    Created with mode 0666 less the umask, as any program creating the output would; not
    with tempfile.mkstemp, whose 0600 survives the rename and left every output private to
    its owner. O_EXCL keeps mkstemp's guarantee that the file is new."""
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = str(target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - a 48-bit name taken: draw another
            continue


def _atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    target = Path(path)
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(data: bytes, path: str | Path) -> None:
    _atomic_write(path, lambda handle: handle.write(data))


# ---------------------------------------------------------------- tables


SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"


def _sniff_csv(source: Path) -> str:
    """Look at the start of a CSV: refuse binary data, note a BOM or CRLF, find the delimiter."""
    with source.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if b"\x00" in head:
        raise DataValidationError(f"{source}: binary data (NUL bytes), not a CSV text file")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A cut through a multi-byte character at the end of the sample is not an error.
        if exc.start < len(head) - 4:
            raise DataValidationError(
                f"{source}: not UTF-8 text at byte {exc.start}; export the file as UTF-8 CSV"
            ) from None
        text = head[: exc.start].decode("utf-8-sig")
    if head.startswith(b"\xef\xbb\xbf"):
        log.info("%s: UTF-8 byte-order mark found and ignored", source)
    if b"\r\n" in head:
        log.info("%s: Windows (CRLF) line endings", source)
    header = text.splitlines()[0] if text.strip() else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    if delimiter != "," and counts[delimiter] > counts[","]:
        log.info("%s: read as %r-separated values", source, delimiter)
        return delimiter
    return ","


def _csv_options(source: Path) -> dict[str, Any]:
    # index_col=False: never turn leading columns into an index when rows run long.
    return {"sep": _sniff_csv(source), "encoding": "utf-8-sig", "index_col": False}


@contextlib.contextmanager
def _csv_errors(source: Path) -> Iterator[None]:
    """Turn pandas' parse failures into one DataValidationError naming the file."""
    import pandas as pd  # pandas where tables are read or written: reading params needs none

    try:
        with warnings.catch_warnings():
            # Rows longer than the header would be cut silently; refuse them instead.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            yield
    except pd.errors.ParserWarning:
        raise DataValidationError(
            f"{source}: some rows have more fields than the header has column names"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{source}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataValidationError(f"{source}: not a readable CSV file ({exc})") from None


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (any of , ; tab | as delimiter, any line ending, optional UTF-8 BOM) or
    parquet file. Binary or non-UTF-8 data and malformed rows raise DataValidationError."""
    source = Path(path)
    if not source.is_file():
        raise DataValidationError(f"{source}: file not found")
    import pandas as pd

    if source.suffix == ".parquet":
        return pd.read_parquet(source)
    if source.stat().st_size == 0:
        raise DataValidationError(f"{source}: the file is empty")
    with _csv_errors(source):
        frame = pd.read_csv(source, low_memory=False, **_csv_options(source))
    unnamed = [c for c in frame.columns if not str(c).strip() or str(c).startswith("Unnamed: ")]
    if len(unnamed) == len(frame.columns):
        raise DataValidationError(f"{source}: no header row with column names")
    return frame


def iter_table_chunks(path: str | Path, rows: int) -> Iterator[pd.DataFrame]:
    """Stream a CSV or parquet file in chunks of `rows` rows. The index keeps counting across
    chunks, so row numbers in errors still point into the file."""
    source = Path(path)
    if not source.is_file():
        raise DataValidationError(f"{source}: file not found")
    import pandas as pd

    if source.suffix == ".parquet":
        start = 0
        for batch in _parquet_file(source).iter_batches(batch_size=rows):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame
        return
    if source.stat().st_size == 0:
        raise DataValidationError(f"{source}: the file is empty")
    with _csv_errors(source):
        yield from pd.read_csv(source, chunksize=rows, **_csv_options(source))


def _parquet_file(source: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as exc:
        raise DataValidationError(f"{source}: not a readable parquet file ({exc})") from None


def table_rows(path: str | Path) -> int | None:
    """Rows in a parquet file, from its footer; None for CSV (known only by reading it)."""
    source = Path(path)
    if source.suffix != ".parquet" or not source.is_file():
        return None
    return _parquet_file(source).metadata.num_rows


def arrow_table(frame: pd.DataFrame) -> Any:
    """A frame as an Arrow table, categorical columns as plain text: a file's schema must not
    depend on which categories a chunk happened to hold."""
    import pyarrow as pa

    # one thread: a worker process is one core's share; more only contend with the others
    table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    return table.cast(
        pa.schema(
            f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
            for f in table.schema
        )
    )


def write_arrow_file(table: Any, path: str | Path) -> None:
    """An Arrow table as an Arrow IPC file: how scored chunks travel from worker processes
    (in a scratch folder in memory where there is one: no pipe, no pickling, and the reader
    maps the file instead of copying it)."""
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_arrow_file(path: str | Path) -> Any:
    """An Arrow IPC file as a table whose columns are the file's mapped pages (no copy)."""
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


DICTIONARY_PAGE_BYTES = 64 * 1024  # pyarrow's default is 1 MiB


def _is_text(arrow_type: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


@contextlib.contextmanager
def table_writer(path: str | Path) -> Iterator[Callable[[pd.DataFrame], None]]:
    """Append chunks (DataFrames, or Arrow tables as arrow_table makes them) to a CSV or
    parquet file that appears only when every chunk is written."""
    target = Path(path)
    # the writers below open the file by name and keep its mode (0666 less the umask)
    fd, tmp = _temp_beside(target)
    os.close(fd)
    state: dict[str, Any] = {}

    def write(frame: Any) -> None:
        import pandas as pd

        table = frame if not isinstance(frame, pd.DataFrame) else arrow_table(frame)
        if "writer" not in state:
            if target.suffix == ".parquet":
                import pyarrow.parquet as pq

                # a smaller dictionary page: long, mostly distinct text (reasons) falls back
                # to plain encoding sooner; 30% quicker to write, the file ~25% larger.
                # Min/max statistics for numbers only: on long text (reasons) they serve no
                # filter and cost a fifth of the writing
                state["writer"] = pq.ParquetWriter(
                    tmp, table.schema, dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES,
                    write_statistics=[f.name for f in table.schema if not _is_text(f.type)],
                )  # fmt: skip
            else:
                # pyarrow's CSV writer: several times faster than pandas' on wide text
                # columns; quotes only cells that need it, writes a gap as an empty cell
                import pyarrow.csv as pcsv

                state["writer"] = pcsv.CSVWriter(tmp, table.schema)
            state["schema"] = table.schema
        state["writer"].write_table(table.cast(state["schema"]))

    try:
        yield write
        if "writer" in state:
            state.pop("writer").close()
        os.replace(tmp, target)
    except BaseException:
        if "writer" in state:
            state.pop("writer").close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    target = Path(path)
    if target.suffix == ".parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        write_bytes(buffer.getvalue(), target)
    else:
        # streamed to the file in pandas' chunks: a whole-table string and its bytes were two
        # more copies of a large table (the per-member table of 10M members peaked at 11 GB)
        _atomic_write(
            target,
            lambda handle: frame.to_csv(handle, index=False, lineterminator="\n", encoding="utf-8"),
        )


def write_plot_data(frame: pd.DataFrame, path: str | Path) -> None:
    """Small CSV behind a dvc plot: floats rounded so diffs show only real changes."""
    write_table(frame.round(FLOAT_DIGITS), path)


# ---------------------------------------------------------------- JSON and params


def _round_floats(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, FLOAT_DIGITS)
    if isinstance(obj, dict):
        return {key: _round_floats(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round_floats(value) for value in obj]
    return obj


def sidecar(output: str | Path, what: str) -> Path:
    """A file beside the output: scored.parquet -> scored.drift.csv, scored.summary.json."""
    out = Path(output)
    return out.with_name(f"{out.stem}.{what}")


def write_json(obj: Any, path: str | Path) -> None:
    """`obj` as strict JSON, floats rounded to FLOAT_DIGITS. A NaN or infinity raises
    ValueError naming the file and the key, and nothing is written: JSON has no such number
    (Python would write `NaN`, which other readers refuse and `dvc metrics diff` shows as
    nan). A figure that does not apply is left out by the stage, which logs why."""
    rounded = _round_floats(obj)
    bad = _non_finite(rounded)
    if bad:
        raise ValueError(f"{path}: not a finite number at {', '.join(bad)}; JSON has no NaN")
    text = json.dumps(rounded, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_bytes(text.encode(), path)


def _non_finite(obj: Any, where: str = "") -> list[str]:
    """Paths (a.b[2]) of the NaN and infinite floats in a JSON-ready object."""
    if isinstance(obj, float):
        return [] if math.isfinite(obj) else [where or "(top)"]
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _non_finite(v, f"{where}.{k}".lstrip("."))]
    if isinstance(obj, list | tuple):
        return [p for i, v in enumerate(obj) for p in _non_finite(v, f"{where}[{i}]")]
    return []


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_params(path: str | Path) -> Params:
    # imported here: the params' schema and yaml cost gym-churn-score ~55 ms of start-up,
    # and it reads neither
    from gym_churn.params import parse_params

    source = Path(path)
    return parse_params(_read_yaml(source, ParamsError, "params file"), source=str(source))


def _read_yaml(source: Path, error: type[Exception], what: str) -> Any:
    import yaml

    # libyaml's parser when PyYAML has it (the safe loader either way): the pure-Python one
    # took ~0.07 s per file, twice in every stage
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(source.read_text(encoding="utf-8"), Loader=loader)
    except FileNotFoundError:
        raise error(f"{source}: {what} not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML ({exc})") from None


def load_contract(path: str | Path) -> Contract:
    source = Path(path)
    return parse_contract(_read_yaml(source, ContractError, "data contract"), source=str(source))


def write_text(text: str, path: str | Path) -> None:
    write_bytes(text.encode(), path)


# ---------------------------------------------------------------- model files


def _canonical_skops(data: bytes) -> bytes:
    """Rewrite a skops zip so that the same model always gives the same bytes.

    skops names array members and shared references after `id()`/uuid4 and stamps the current
    time, which would change dvc.lock on every run. Members are renamed after their content
    hash, references in schema.json follow, `__id__`s are renumbered and timestamps fixed.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        members = {name: src.read(name) for name in src.namelist()}
    schema = members.pop("schema.json")
    renamed = {
        name: hashlib.sha256(content).hexdigest()[:32] + Path(name).suffix
        for name, content in members.items()
    }

    # `__id__` marks shared references; renumbering in traversal order keeps them shared.
    ids: dict[int, int] = {}

    def rename_refs(node: Any) -> Any:
        if isinstance(node, list):
            return [rename_refs(value) for value in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "file" and isinstance(value, str):
                out[key] = renamed.get(value, value)
            elif key == "__id__" and isinstance(value, int):
                out[key] = ids.setdefault(value, len(ids))
            else:
                out[key] = rename_refs(value)
        return out

    new_schema = json.dumps(rename_refs(json.loads(schema)), indent=2).encode()
    # named after their content: identical content is stored once
    files = {renamed[name]: content for name, content in members.items()}
    return _stable_zip({"schema.json": new_schema, **files})


def _stable_zip(files: dict[str, bytes]) -> bytes:
    """A zip of the files, in name order, with a fixed timestamp: the same files always give
    the same bytes (dvc sees a change only when there is one)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return out.getvalue()


def save_model(model: Any, path: str | Path) -> None:
    import skops.io as sio  # heavy import, only for the stages that need it

    write_bytes(_canonical_skops(sio.dumps(model)), path)


def write_arrays(arrays: dict[str, Any], path: str | Path) -> None:
    """Named numpy arrays as one .npz file (numpy's own format, no pickle), byte for byte
    the same for the same arrays."""
    import numpy as np

    files = {}
    for name, array in arrays.items():
        member = io.BytesIO()
        np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
        files[f"{name}.npy"] = member.getvalue()
    write_bytes(_stable_zip(files), path)


def read_arrays(path: str | Path) -> dict[str, Any]:
    """The arrays write_arrays wrote; anything needing pickle is refused."""
    import numpy as np

    source = Path(path)
    try:
        with np.load(source, allow_pickle=False) as found:
            return {name: found[name] for name in found.files}
    except FileNotFoundError:
        raise ModelFileError(f"{source}: file not found") from None
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ModelFileError(f"{source}: not a readable .npz file ({exc})") from None


def load_model(path: str | Path) -> Any:
    """Load a skops model file, refusing any type neither skops nor TRUSTED_MODEL_TYPES trust."""
    import skops.io as sio

    source = Path(path)
    try:
        data = source.read_bytes()
        untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_MODEL_TYPES))
    except FileNotFoundError:
        raise ModelFileError(f"{source}: model file not found") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ModelFileError(f"{source}: not a skops model file ({exc})") from None
    if untrusted:
        raise ModelFileError(
            f"{source}: refusing to load; the file contains untrusted type(s) "
            f"{', '.join(untrusted)}"
        )
    return sio.loads(data, trusted=list(TRUSTED_MODEL_TYPES))


# ---------------------------------------------------------------- figures


def save_figure(fig: Any, path: str | Path) -> None:
    """Write a matplotlib Figure as PNG without the version stamp, then close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_bytes(buffer.getvalue(), path)
