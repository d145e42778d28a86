"""Checking an export against its data contract, and typing it.

One pass finds every broken rule, so a user fixes a file in one round: values that do not
parse (a word in a number column, a label that is neither positive nor negative), blanks
where the contract forbids them, and value rules (bounds, allowed values, whole numbers,
relations between columns, declared with pandera) on the values that did parse. Each broken
rule is reported once with its column, rule, count of rows, the first line numbers in the
file (line 1 is the header) and, where the contract can accept the data, the key to change.

Repeated members are one of those rules (`duplicates: error`), found by the same function on
every path: preprocess on the whole export, gym-churn-score chunk by chunk
(member_fingerprints, repeated_members, refuse_repeats).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from gym_churn.contract.spec import Contract, Feature, label_key, level_text
from gym_churn.errors import DataValidationError

log = logging.getLogger(__name__)

MAX_ROWS_SHOWN = 5
MAX_VALUES_SHOWN = 3
DUPLICATES = "no_duplicate_members"
EVERY_COLUMN = "(every column)"  # where a repeat without an ID is reported
DUPLICATES_FIX = (
    "if members may repeat, set `duplicates: drop` (keep the first) or `duplicates: keep` "
    "in the data contract"
)


@dataclass
class _Failures:
    """Broken rules found so far: (column, rule) -> row positions and example values."""

    found: dict[tuple[str, str], tuple[np.ndarray, list]] = field(default_factory=dict)
    fixes: dict[tuple[str, str], str] = field(default_factory=dict)  # what would accept it

    def add(
        self, column: str, rule: str, rows: np.ndarray, values: list, fix: str | None = None
    ) -> None:
        if len(rows) == 0:
            return
        old_rows, old_values = self.found.get((column, rule), (np.array([], dtype=int), []))
        self.found[(column, rule)] = (np.union1d(old_rows, rows), old_values + values)
        if fix:
            self.fixes[(column, rule)] = fix

    def message(self, source: str, order: list[str]) -> str:
        rank = {col: i for i, col in enumerate(order)}
        lines = [f"{source}: data contract violated"]
        for (column, rule), (rows, values) in sorted(
            self.found.items(), key=lambda item: (rank.get(item[0][0], len(rank)), item[0][1])
        ):
            numbers = [int(r) + 2 for r in rows]  # 0-based row + 1, + 1 for the header line
            shown = ", ".join(map(str, numbers[:MAX_ROWS_SHOWN]))
            more = " ..." if len(numbers) > MAX_ROWS_SHOWN else ""
            examples = ", ".join(repr(v) for v in values[:MAX_VALUES_SHOWN])
            where = "every column" if column == EVERY_COLUMN else f"column {column!r}"
            fix = self.fixes.get((column, rule))
            lines.append(
                f"  {where}: rule {rule} fails in {len(numbers)} row(s); "
                f"first lines {shown}{more}"
                + (f"; values {examples}" if values else "")
                + (f"; {fix}" if fix else "")
            )
        return "\n".join(lines)


def _blank(values: pd.Series) -> np.ndarray:
    missing = values.isna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        missing = missing | values.astype(str).str.strip().eq("").to_numpy()
    return missing


def _map_labels(values: pd.Series, mapping: dict[str, int]) -> pd.Series:
    """Map cells onto declared labels by label_key; unknown cells become NaN."""
    if pd.api.types.is_bool_dtype(values.dtype):
        # True/False cells match labels declared as true/false, or else as 1/0
        words = ("true", "false") if "true" in mapping or "false" in mapping else ("1", "0")
        keys = values.map({True: words[0], False: words[1]})
    elif pd.api.types.is_numeric_dtype(values.dtype):
        # one lookup per distinct value, not per cell: each cell finds its distinct value
        # (a gap finds none: -1, the NaN after the codes)
        unique = pd.unique(values.dropna())
        codes = np.array([*(mapping.get(label_key(v), np.nan) for v in unique), np.nan])
        where = pd.Index(unique).get_indexer(values.to_numpy())
        return pd.Series(codes[where], index=values.index, dtype=float)
    else:
        keys = values.astype(str).str.strip().str.lower().where(values.notna())
    return keys.map(mapping)


def _parse_column(
    name: str, values: pd.Series, spec: Feature, failures: _Failures, *, lenient: bool
) -> tuple[pd.Series, np.ndarray]:
    """The column typed (float for numbers and 0/1 flags, text for categories, NaN for a
    gap) and the mask of blank cells. Cells that do not parse are recorded as failures."""
    blank = _blank(values)
    if spec.kind == "binary":
        declared = spec.allowed if spec.allowed is not None else [0, 1]
        mapping = {label_key(declared[0]): 0, label_key(declared[1]): 1}
        parsed = _map_labels(values, mapping).astype(float)
        bad = np.flatnonzero(parsed.isna().to_numpy() & ~blank)
        failures.add(name, f"one_of{declared}", bad, values.iloc[bad].tolist(),
                     f"a flag has two values: features.{name}.values")  # fmt: skip
    elif spec.kind == "categorical":
        text = values.map(level_text).where(~blank)
        unknown = ~text.isin(spec.levels).to_numpy() & ~blank
        if unknown.any() and lenient:
            # Scoring a new month: a level the model never saw is treated as missing.
            log.warning(
                "column %r: %d row(s) with level(s) the model never saw (%s); scored as missing",
                name,
                int(unknown.sum()),
                ", ".join(repr(v) for v in pd.unique(text[unknown])[:MAX_VALUES_SHOWN]),
            )
        elif unknown.any():
            bad = np.flatnonzero(unknown)
            failures.add(name, f"one_of{spec.levels}", bad, values.iloc[bad].tolist(),
                         f"to accept a level, add it to features.{name}.values")  # fmt: skip
        parsed = text.where(~unknown).astype(object)
    else:
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            parsed = values.astype(float)
        else:
            parsed = pd.to_numeric(values, errors="coerce").astype(float)
            bad = np.flatnonzero(parsed.isna().to_numpy() & ~blank)
            failures.add(name, "number", bad, values.iloc[bad].tolist(),
                         f"fix the cells, or set features.{name}.kind: categorical")  # fmt: skip
    return parsed, blank


def _rules_schema(contract: Contract, columns: list[str]) -> pa.DataFrameSchema:
    """Value rules on parsed numbers, with pandera. Gaps pass (they have their own policy)."""
    finite = pa.Check(lambda s: np.isfinite(s) | s.isna(), name="finite")
    whole = pa.Check(lambda s: (s % 1 == 0) | s.isna(), name="whole_number")
    schema_columns = {}
    for col in columns:
        spec = contract.features[col]
        if spec.kind not in ("integer", "numeric"):
            continue
        checks = [finite]
        if spec.kind == "integer":
            checks.append(whole)
        if spec.min is not None:
            checks.append(pa.Check.ge(spec.min))
        if spec.max is not None:
            checks.append(pa.Check.le(spec.max))
        if spec.allowed is not None:
            checks.append(pa.Check.isin([float(v) for v in spec.allowed]))
        schema_columns[col] = pa.Column(float, checks, nullable=True)
    relations = []
    for rel in (r for r in contract.relations if r.enforce):
        used = contract.names_in(rel.rule, contract.raw_features)

        def holds(df: pd.DataFrame, rule: str = rel.rule, used: list[str] = used) -> pd.Series:
            # Rows with a gap in any column of the rule are not judged by it.
            gap = df[used].isna().any(axis=1)
            return df.eval(rule, engine="python").astype(bool) | gap

        relations.append(pa.Check(holds, name=rel.name or rel.rule))
    return pa.DataFrameSchema(schema_columns, checks=relations, strict=False, ordered=False)


def _blame(contract: Contract) -> dict[str, str]:
    out = {}
    for rel in contract.relations:
        first = contract.names_in(rel.rule, contract.raw_features)[0]
        out[rel.name or rel.rule] = rel.blame or first
    return out


def _rule_failures(
    parsed: pd.DataFrame, contract: Contract, columns: list[str], failures: _Failures
) -> None:
    try:
        _rules_schema(contract, columns).validate(parsed, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        blame = _blame(contract)
        # pandera reports a frame-wide rule once per column; keep the column it blames.
        frame_wide = cases["schema_context"] == "DataFrameSchema"
        cases = cases[~frame_wide | (cases["column"] == cases["check"].map(blame))]
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            rows = np.unique(group["index"].dropna().astype(int).to_numpy())
            positions = parsed.index.get_indexer(rows)
            failures.add(str(column), str(check), positions, group["failure_case"].tolist(),
                         _rule_fix(str(column), str(check), contract))  # fmt: skip


def _rule_fix(column: str, check: str, contract: Contract) -> str | None:
    """The contract key that would accept values breaking a value rule (None: fix the data)."""
    if column not in contract.features:
        return None
    if check.startswith("greater_than"):
        return f"if the values are right, lower features.{column}.min"
    if check.startswith("less_than"):
        return f"if the values are right, raise features.{column}.max"
    if check.startswith("isin"):
        return f"if the values are right, add them to features.{column}.values"
    if check == "whole_number":
        return f"for fractions set features.{column}.kind: numeric"
    names = {rel.name or rel.rule for rel in contract.relations}
    if check in names:
        return f"to count these rows instead of refusing them, set `enforce: false` on {check}"
    return None


def warm_up(contract: Contract) -> None:
    """Run the contract's value rules once, on no rows. pandera sets its checks up at the
    first validation of a process (0.2-0.3 s here: it imports hypothesis's strategies where
    hypothesis is installed); scoring does it once before forking its workers, which then
    inherit it instead of each paying for it on its first chunk."""
    columns = contract.raw_features
    empty = pd.DataFrame({col: pd.Series(dtype=float) for col in columns})
    _rules_schema(contract, columns).validate(empty)


@dataclass(frozen=True)
class Checked:
    members: pd.DataFrame  # key column first, then the raw features, then the target (0/1)
    counts: dict[str, int]  # rows read, and dropped by reason
    rows: np.ndarray | None = None  # each member's row label in the export as given
    # each member's member_fingerprints (None when the duplicates policy is keep): how
    # gym-churn-score finds a member repeated in a later chunk
    fingerprints: np.ndarray | None = None


def check_export(
    raw: pd.DataFrame,
    contract: Contract,
    *,
    source: str,
    labelled: bool = True,
    lenient_levels: bool = False,
    duplicates: str | None = None,
) -> Checked:
    """Check `raw` against the contract and return the typed members.

    `labelled=False` checks an export without the target (scoring); `lenient_levels=True`
    scores a categorical level the contract does not list as missing, with a warning,
    instead of refusing it. `duplicates` overrides the contract's policy (error, drop, keep;
    `uplift` keeps repeats). Columns the contract does not name are dropped (with a warning;
    ignored columns quietly). Raises DataValidationError describing every broken rule, with
    the contract key that would accept the data where there is one.
    """
    if raw.empty:
        raise DataValidationError(f"{source}: no data rows (the file is empty or only a header)")
    target = contract.target.column
    features = contract.raw_features
    snapshot = contract.snapshot
    required = [*([contract.id] if contract.id else []), *([snapshot] if snapshot else [])]
    required += features
    required += [target] if labelled else []
    missing = [col for col in required if col not in raw.columns]
    if missing:
        raise DataValidationError(
            f"{source}: missing required column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, raw.columns))}"
        )
    extra = [c for c in raw.columns if c not in required and c not in contract.ignore]
    if labelled or target in extra:
        extra = [c for c in extra if c != target]
    if extra:
        log.warning(
            "%s: %d column(s) not in the data contract, left out: %s",
            source,
            len(extra),
            ", ".join(map(str, extra)),
        )

    failures = _Failures()
    frame = raw.reset_index(drop=True)  # positions; raw.index still numbers the file's rows
    line_index = raw.index
    parsed: dict[str, pd.Series] = {}
    drop = np.zeros(len(frame), dtype=bool)
    for col in features:
        spec = contract.features[col]
        parsed[col], blank = _parse_column(col, frame[col], spec, failures, lenient=lenient_levels)
        if spec.missing == "error":
            rows = np.flatnonzero(blank)
            failures.add(col, "not_missing", rows, [None] * min(len(rows), MAX_VALUES_SHOWN),
                         f"to accept gaps set features.{col}.missing: keep (or drop)")  # fmt: skip
        elif spec.missing == "drop":
            drop |= blank
    if labelled:
        tgt = contract.target
        mapping = {label_key(v): 1 for v in tgt.positive} | {label_key(v): 0 for v in tgt.negative}
        labels = _map_labels(frame[target], mapping)
        blank = _blank(frame[target])
        bad = np.flatnonzero(labels.isna().to_numpy() & ~blank)
        failures.add(target, f"one_of{[*tgt.positive, *tgt.negative]}", bad,
                     frame[target].iloc[bad].tolist(),
                     "list every label under target.positive or target.negative")  # fmt: skip
        if tgt.unknown == "error":
            failures.add(target, "not_missing", np.flatnonzero(blank), [None],
                         "label these rows or remove them; or, if their outcome is not known "
                         "yet (members to score), set target.unknown: score")  # fmt: skip
        parsed[target] = labels  # NaN where the outcome is not known yet (unknown: score)
    typed = pd.DataFrame(parsed)
    typed.index = line_index
    _rule_failures(typed, contract, features, failures)

    key = contract.key
    if contract.id:
        ids = frame[contract.id]
        failures.add(contract.id, "not_missing", np.flatnonzero(_blank(ids)), [None],
                     "no contract key accepts it: fill in the IDs")  # fmt: skip
    typed.insert(0, key, frame[contract.id].to_numpy() if contract.id else line_index + 1)
    if snapshot:
        failures.add(snapshot, "not_missing", np.flatnonzero(_blank(frame[snapshot])), [None],
                     "no contract key accepts it: fill in each row's snapshot")  # fmt: skip
        typed.insert(1, snapshot, frame[snapshot].to_numpy())
    policy = duplicates or contract.duplicates
    # repeats among the rows kept; finding them costs a hash of every row, skipped for keep
    kept = typed[~drop] if drop.any() else typed  # a copy only when rows go
    fingerprints = member_fingerprints(kept, contract) if policy != "keep" else None
    repeated = np.zeros(len(frame), dtype=bool)
    if fingerprints is not None:
        repeated[np.flatnonzero(~drop)] = repeated_members(fingerprints)
    if policy == "error":
        where = np.flatnonzero(repeated)
        _add_repeats(failures, contract, where, typed[key].iloc[where].tolist())
    if failures.found:
        order = [*([contract.id] if contract.id else []), *features, target]
        raise DataValidationError(_with_lines(failures, line_index).message(source, order))

    counts = {"rows_read": len(frame), "rows_dropped_missing": int(drop.sum())}
    if drop.any():
        first = ", ".join(str(int(i) + 2) for i in line_index[drop][:MAX_ROWS_SHOWN])
        log.warning(
            "%s: dropped %d row(s) with a gap where the contract says drop; first lines %s",
            source,
            int(drop.sum()),
            first,
        )
    counts["rows_dropped_duplicates"] = int(repeated.sum())
    if repeated.any():
        log.warning("%s: dropped %d repeated member row(s)", source, int(repeated.sum()))
        fingerprints = fingerprints[~repeated[~drop]]
    if drop.any() or repeated.any():
        typed = typed[~drop & ~repeated]
    if labelled and typed[target].nunique() < 2:
        known = int(typed[target].notna().sum())
        raise DataValidationError(
            f"{source}: column {target!r}: rule two_classes fails; every one of the "
            f"{known} rows with a label has the same label, so no model can be trained or "
            "evaluated"
        )
    return Checked(
        members=_final_types(typed, contract, labelled),
        counts=counts,
        rows=typed.index.to_numpy(),
        fingerprints=fingerprints,
    )


def _with_lines(failures: _Failures, line_index: pd.Index) -> _Failures:
    """Failures with file row numbers (0-based data rows) instead of positions."""
    out = _Failures(fixes=failures.fixes)
    rows_of = np.asarray(line_index)
    for (column, rule), (positions, values) in failures.found.items():
        out.add(column, rule, rows_of[positions.astype(int)], values)
    return out


def member_fingerprints(members: pd.DataFrame, contract: Contract) -> np.ndarray:
    """A 64-bit hash per member (uint64) that repeats exactly when the member does: of the
    ID when the contract names one, else of every column but the row-number key. `members`
    as check_export types them before its last step (numbers as float, flags as 0.0/1.0,
    `Yes` and `yes` one value), so the same member hashes alike in any chunk of an export
    (Checked.fingerprints)."""
    if contract.id:
        # with snapshots a member repeats once per snapshot: the key is (id, snapshot)
        columns = contract.id if contract.snapshot is None else [contract.id, contract.snapshot]
        return pd.util.hash_pandas_object(members[columns], index=False).to_numpy()
    return pd.util.hash_pandas_object(members.drop(columns=[contract.key]), index=False).to_numpy()


# Each run of fingerprints carries a presence table: one bit per slot of its keys' top bits,
# 16 slots per key (2 bytes a key, a quarter of the run's own 8), so ~6% of new keys find
# their bit set by chance and are searched for; the rest are new for certain. Binary search
# of every key in runs of up to 10M was most of the cost of scoring's duplicate check
# (random reads far apart in memory).
SLOTS_PER_KEY = 16
# a run is merged into the one before it once it reaches 1/MERGE_RATIO of its size: fewer
# merges (each key is copied about log_4(chunks) times), a few more runs to look in
MERGE_RATIO = 4
RUN_BLOCK = 1 << 20  # keys whose presence bits are set at a time


@dataclass(frozen=True)
class _Run:
    keys: np.ndarray  # sorted fingerprints
    table: np.ndarray  # presence bits of the keys' top `bits` bits, packed in bytes
    bits: int


Seen = tuple[_Run, ...]  # fingerprints of earlier chunks: sorted runs, largest first


def _slots(keys: np.ndarray, bits: int) -> np.ndarray:
    """The keys' top `bits` bits, as array indices."""
    return (keys >> np.uint64(64 - bits)).astype(np.intp)


def _run(keys: np.ndarray) -> _Run:
    """A run of sorted `keys` with its presence table."""
    bits = max(6, min(40, int(np.ceil(np.log2(max(1, len(keys)) * SLOTS_PER_KEY)))))
    table = np.zeros(2 ** (bits - 3), dtype=np.uint8)
    # a block of keys at a time: the slots and their bytes take 16 bytes a key, and a whole
    # run of 8.5M at once made the largest part of scoring's peak (10M members: 1.05 GB)
    for at in range(0, len(keys), RUN_BLOCK):
        slots = _slots(keys[at : at + RUN_BLOCK], bits)  # sorted, as the keys are
        byte = slots >> 3
        marks = np.left_shift(1, slots & 7).astype(np.uint8)
        starts = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        # OR of the marks that share a byte (the keys are sorted: contiguous), and OR into
        # the table: the last byte of a block may be the next block's first
        table[byte[starts]] |= np.bitwise_or.reduceat(marks, starts)
    return _Run(keys, table, bits)


def repeated_members(fingerprints: np.ndarray, seen: Seen = ()) -> np.ndarray:
    """True where a member repeats one earlier in `fingerprints`, or one in `seen` (the
    fingerprints of earlier chunks, as remember_members returns them)."""
    repeated = pd.Series(fingerprints).duplicated(keep="first").to_numpy()
    if not seen:
        return repeated
    # sorted keys: each search starts near the last one's end (5x quicker on 10M)
    order = np.argsort(fingerprints)
    keys = fingerprints[order]
    found = np.zeros(len(keys), dtype=bool)
    for run in seen:
        slots = _slots(keys, run.bits)
        maybe = np.flatnonzero((run.table[slots >> 3] >> (slots & 7)) & 1)
        near = np.minimum(np.searchsorted(run.keys, keys[maybe]), len(run.keys) - 1)
        found[maybe] |= run.keys[near] == keys[maybe]
    hit = np.empty_like(found)
    hit[order] = found
    return repeated | hit


def remember_members(seen: Seen, fingerprints: np.ndarray) -> Seen:
    """`seen` with `fingerprints` added (new arrays; `seen`'s are not changed). Kept as
    sorted runs, each at least MERGE_RATIO times the size of the next, merged as they fill
    up: one sorted array re-sorted for every chunk took 65 s over the 130 chunks of 10M rows
    (on a busy machine); here each fingerprint is merged a few times, and a lookup checks a
    few runs' presence tables."""
    runs = [*(run.keys for run in seen), np.sort(fingerprints)]
    kept = len(seen)  # runs not merged keep their presence table
    while len(runs) > 1 and len(runs[-2]) < MERGE_RATIO * len(runs[-1]):
        last = runs.pop()
        runs[-1] = _merge_sorted(runs[-1], last)
        kept = min(kept, len(runs) - 1)
    return (*seen[:kept], *(_run(keys) for keys in runs[kept:]))


def _merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two sorted arrays as one, in one pass (no sort): b's items go where they belong."""
    out = np.empty(len(a) + len(b), dtype=a.dtype)
    at = np.searchsorted(a, b) + np.arange(len(b))
    from_a = np.ones(len(out), dtype=bool)
    from_a[at] = False
    out[at] = b
    out[from_a] = a
    return out


def _add_repeats(failures: _Failures, contract: Contract, rows: np.ndarray, keys: list) -> None:
    """The repeated members at `rows` as one failure; `keys`: their member keys, in order."""
    if contract.id:
        failures.add(contract.id, DUPLICATES, rows, keys[:MAX_VALUES_SHOWN], DUPLICATES_FIX)
    else:  # rows equal in every column: there is no one value to show
        failures.add(EVERY_COLUMN, DUPLICATES, rows, [], DUPLICATES_FIX)


def refuse_repeats(contract: Contract, rows: np.ndarray, keys: np.ndarray, source: str) -> None:
    """Raise the error check_export raises for repeated members, for repeats found across
    chunks: `rows` are their 0-based data rows in the file, `keys` their member keys."""
    failures = _Failures()
    _add_repeats(failures, contract, np.asarray(rows, dtype=int), list(keys))
    raise DataValidationError(failures.message(source, [EVERY_COLUMN]))


def _final_types(members: pd.DataFrame, contract: Contract, labelled: bool) -> pd.DataFrame:
    """Whole-number columns as int64 where they have no gap; the file's order kept."""
    out = members.reset_index(drop=True)
    whole = [c for c in contract.of_kind("binary", "integer") if not out[c].isna().any()]
    # a blank target (unknown: score) stays NaN: preprocess sets those rows apart
    if labelled and not out[contract.target.column].isna().any():
        whole.append(contract.target.column)
    out = out.astype(dict.fromkeys(whole, "int64"))
    if contract.id is None:  # the row-number key
        out[contract.key] = out[contract.key].astype("int64")
    return out
