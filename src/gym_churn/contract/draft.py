"""Drafting a data contract from an export (`gym-churn init`). Pure functions.

The draft infers what the data shows and nothing more: each column's kind, a lower bound
of 0 for numbers that never go below it, the allowed values of a flag, a category or a
short list of numbers, and a missing-value policy (gaps already present are kept as
missing). Dates, free text, constant columns and unmarked IDs are left out with a note.
Meaning cannot be inferred: roles (lever, attribute, behaviour, tenure) and words are left
for the user, and the draft says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import RESERVED, label_key
from gym_churn.errors import ContractError

# A text column with at most this many levels, and fewer levels than half its rows, is a
# category; more is free text. Gradient boosting splits natively on up to 255 levels.
MAX_LEVELS = 100
# A category with more levels is left out of the k-means segments by default (the model and
# the rule segments still use it).
MAX_SEGMENT_LEVELS = 12
# Integers with at most this many distinct values, not a run of consecutive numbers, are
# taken as a fixed menu (contract lengths of 1, 6 and 12 months).
MAX_MENU_VALUES = 3
# Labels that read as "yes, this member churned" when --positive is not given.
POSITIVE_WORDS = ("1", "true", "yes", "y", "churn", "churned", "left", "cancelled", "canceled")
# An --id column with fewer distinct values than this share of its rows is refused as no ID
# (a column such as a plan); above it, repeats are repeated members (`duplicates`).
MIN_ID_SHARE = 0.5
DATE_SHARE = 0.95  # share of cells that must parse as dates for a text column to be a date
ID_NOTE = "unique on every row, like an ID: left out (pass --id to key by it)"
# Who the rows are and who acts, guessed from words in the export's file name (first match
# wins); with none of them the neutral words "customer(s)" and "company" are drafted.
POPULATIONS = (
    (("employee", "staff", "attrition", "hr", "workforce"), ("employee", "employees", "company")),
    (("loan", "bank", "credit", "account", "deposit"), ("customer", "customers", "bank")),
    (("gym", "fitness", "club"), ("member", "members", "club")),
    (("member",), ("member", "members", "organisation")),
    (("subscriber", "telco", "mobile", "phone"), ("subscriber", "subscribers", "company")),
    (("student", "school", "course"), ("student", "students", "school")),
    (("patient", "clinic"), ("patient", "patients", "clinic")),
)
NEUTRAL_POPULATION = ("customer", "customers", "company")


def population_words(file_stem: str) -> dict[str, str]:
    """The contract's `population` drafted from a file name: `hr_attrition_2026` ->
    employee / employees / company; nothing recognised -> customer / customers / company."""
    tokens = [t for t in re.split(r"[^a-z]+", file_stem.lower()) if t]
    for words, (one, many, actor) in POPULATIONS:
        if any(t.startswith(w) for t in tokens for w in words):
            return {"one": one, "many": many, "actor": actor}
    one, many, actor = NEUTRAL_POPULATION
    return {"one": one, "many": many, "actor": actor}


def readable(name: str) -> str:
    """A column name as words: `Avg_monthly_fee` -> "avg monthly fee", `SeniorCitizen` ->
    "senior citizen"; a name that already reads as words is kept."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    words = re.sub(r"[_\-.]+", " ", spaced).split()
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words) or str(name)


@dataclass(frozen=True)
class Draft:
    contract: dict[str, Any]  # ready for YAML (and for parse_contract)
    notes: list[str]  # what the user should know and review


def _target(values: pd.Series, column: str, positive: str | None) -> dict[str, Any]:
    levels = list(pd.unique(values.dropna()))
    if len(levels) != 2:
        shown = ", ".join(repr(v) for v in levels[:6])
        raise ContractError(
            f"target {column!r} must have exactly two values, found {len(levels)}: {shown}"
        )
    keys = {label_key(v): v for v in levels}
    if positive is not None:
        if label_key(positive) not in keys:
            raise ContractError(
                f"--positive {positive!r} is not a value of {column!r} "
                f"(values: {', '.join(repr(v) for v in levels)})"
            )
        pos = keys[label_key(positive)]
    else:
        guessed = [v for k, v in keys.items() if k in POSITIVE_WORDS]
        if len(guessed) != 1:
            raise ContractError(
                f"cannot tell which value of {column!r} means churned "
                f"({', '.join(repr(v) for v in levels)}); pass --positive VALUE"
            )
        pos = guessed[0]
    neg = next(v for v in levels if v is not pos and label_key(v) != label_key(pos))
    return {"column": column, "positive": [_plain(pos)], "negative": [_plain(neg)]}


def _plain(value: Any) -> Any:
    """A YAML-friendly scalar: numpy numbers as Python numbers, whole floats as ints."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.dropna().astype(str).head(500)
    if sample.empty or not sample.str.contains(r"\d[-/.]\d|\d{4}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_SHARE)


def _blank(values: pd.Series) -> pd.Series:
    blank = values.isna()
    if not pd.api.types.is_numeric_dtype(values.dtype):
        blank |= values.astype(str).str.strip().eq("")
    return blank


def draft_feature(name: str, values: pd.Series) -> tuple[dict[str, Any] | None, str | None]:
    """(feature spec, note) for one column, or (None, why it is left out)."""
    blank = _blank(values)
    present = values[~blank]
    distinct = pd.unique(present)
    gaps = int(blank.sum())
    spec: dict[str, Any]
    if len(distinct) <= 1:
        return None, "constant (one value): carries no information"
    if pd.api.types.is_bool_dtype(values.dtype):
        spec = {"kind": "binary", "values": [False, True]}
    elif pd.api.types.is_numeric_dtype(values.dtype):
        numbers = present.astype(float)
        whole = bool((numbers % 1 == 0).all())
        if set(numbers.unique()) <= {0.0, 1.0}:
            spec = {"kind": "binary", "values": [0, 1]}
        elif whole:
            spec = {"kind": "integer"}
            menu = np.sort(numbers.unique())
            if len(menu) <= MAX_MENU_VALUES and np.any(np.diff(menu) > 1):
                spec["values"] = [_plain(v) for v in menu]
        else:
            spec = {"kind": "numeric"}
        if spec["kind"] != "binary" and "values" not in spec and numbers.min() >= 0:
            spec["min"] = 0
    else:
        text = present.astype(str).str.strip()
        levels = pd.unique(text)
        if _looks_like_dates(text):
            return None, (
                "a date: left out (a model cannot use a raw date; derive a number such as "
                "months since joining in the export, or as an engineered feature)"
            )
        if len(levels) == len(text) > 1 and not text.str.contains(r"\s").any():
            return None, ID_NOTE  # unique codes; unique sentences are free text (below)
        # one spelling per label: `Yes` and `yes` are one value of a flag
        spelling: dict[str, Any] = {}
        for v in levels:
            spelling.setdefault(label_key(v), v)
        if len(spelling) == 2:
            ordered = sorted(spelling.values(),
                             key=lambda v: (label_key(v) in POSITIVE_WORDS, str(v)))  # fmt: skip
            spec = {"kind": "binary", "values": ordered}
        elif len(levels) <= MAX_LEVELS and len(levels) <= 0.5 * len(text):
            spec = {"kind": "categorical", "values": sorted(str(v) for v in levels)}
            if len(levels) > MAX_SEGMENT_LEVELS:
                # one-hot, it would add a dimension per level to every distance: a 50-level
                # region would outweigh every other column and slow k-means down
                spec["segment"] = False
        else:
            return None, f"free text ({len(levels)} different values): left out"
    spec["missing"] = "keep" if gaps else "error"
    spec["role"] = "attribute"
    if readable(name) != name:  # words for the report where the name is not already words
        spec["label"] = readable(name)
    notes = []
    if gaps:
        notes.append(f"{gaps} blank cell(s) ({gaps / len(values):.1%}): kept as missing")
    if spec.get("segment") is False:
        notes.append(f"{len(spec['values'])} levels: left out of the k-means segments")
    note = "; ".join(notes) or None
    return spec, note


def draft_contract(
    raw: pd.DataFrame,
    *,
    target: str,
    positive: str | None = None,
    id_column: str | None = None,
    snapshot: str | None = None,
    name: str = "export",
) -> Draft:
    """A contract for `raw`: every usable column a feature, the rest ignored with a note.

    `snapshot` names the column of a panel's snapshots (one row per member per month): an ID
    then repeats across snapshots and is judged per (ID, snapshot). Blank targets make the
    draft say `unknown: score`: those rows are members whose outcome is not known yet.
    """
    named = (target, id_column, snapshot)
    missing = [c for c in named if c is not None and c not in raw.columns]
    if missing:
        raise ContractError(
            f"column(s) {', '.join(missing)} not in the export; found {', '.join(raw.columns)}"
        )
    notes: list[str] = []
    if snapshot is not None and snapshot in (target, id_column):
        raise ContractError(f"--snapshot {snapshot!r} is also the target or the ID column")
    if id_column is not None:
        # with snapshots, a member's ID repeats once per snapshot: the key is the pair
        keyed = raw[[id_column, snapshot]] if snapshot is not None else raw[id_column]
        ids = keyed.dropna()
        ids = ids.astype(str).agg("\x1f".join, axis=1) if snapshot is not None else ids
        repeats = int(ids.duplicated().sum())
        # mostly repeating: not an ID at all; a few repeats are repeated members, which the
        # check after drafting reports with the contract key that accepts them (duplicates)
        if ids.nunique() < MIN_ID_SHARE * len(ids):
            raise ContractError(
                f"--id {id_column!r}: values repeat ({ids.nunique()} distinct in "
                f"{len(ids)} rows), so it does not identify members"
                + ("" if snapshot else "; if the export holds monthly snapshots, pass --snapshot")
            )
        if repeats:
            notes.append(f"{id_column}: {repeats} repeated ID(s); see `duplicates` below")
    contract: dict[str, Any] = {
        "name": name,
        "population": population_words(name),
        "target": _target(raw[target], target, positive),
        "id": id_column,
        **({"snapshot": snapshot} if snapshot is not None else {}),
        "duplicates": "error",
    }
    unknown = int(_blank(raw[target]).sum())
    if unknown:
        contract["target"]["unknown"] = "score"
        notes.append(
            f"{target}: {unknown} blank target(s): members whose outcome is not known yet, "
            "kept out of learning and listed for the campaign (target.unknown: score)"
        )
    features: dict[str, Any] = {}
    ignore: dict[str, str] = {}
    for col in raw.columns:
        if col in named:
            continue
        if col in RESERVED:
            ignore[col] = "its name is reserved for a pipeline output; rename it to use it"
            continue
        spec, note = draft_feature(col, raw[col])
        # Unique text or whole numbers on every row name members; they predict nothing.
        id_like = spec is not None and spec["kind"] in ("categorical", "integer")
        if id_like and raw[col].nunique() == len(raw):
            spec, note = None, ID_NOTE
        if spec is None:
            ignore[str(col)] = str(note)
            notes.append(f"{col}: {note}")
            continue
        if note:
            spec["note"] = note
            notes.append(f"{col}: {note}")
        features[str(col)] = spec
    if not features:
        raise ContractError("no usable feature column: every column was left out")
    contract["features"] = features
    contract["ignore"] = ignore
    return Draft(contract=contract, notes=notes)
