"""The data contract: what an export holds and what each column means, declared in YAML.

Everything the code would otherwise hard-code about a dataset lives in the contract file:
the target and its positive label(s), the optional ID column, each feature's kind, rules,
missing-value policy, role and words, relations between columns, engineered features,
ignored columns and the findings worth re-checking. This module parses and checks the file
(pydantic, as params.yaml is) and answers questions about it; it reads no data.
"""

from __future__ import annotations

import ast
import re
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gym_churn.errors import ContractError

Kind = Literal["binary", "integer", "numeric", "categorical"]
# lever: a club can act on it; attribute: fixed about the member; behaviour: what members do
# after joining, which a lever may change; tenure: how long the member has been a member.
Role = Literal["lever", "attribute", "behaviour", "tenure"]
Missing = Literal["error", "drop", "keep"]
Scalar = str | int | float | bool


def row_key(one: str) -> str:
    """The row-number key's name for a population ("member" -> "member_row")."""
    return re.sub(r"\W+", "_", one.strip().lower()).strip("_") + "_row"


# Position of the row in the export (1 = first data row): the key when the contract names no
# ID column, so a scored row can still be traced to its line (line = member_row + 1). It is
# named in the population's words (row_key): member_row for members, customer_row for customers.
ROW_KEY = row_key("member")

# Columns the pipeline adds to per-member outputs; no contract column may take these names.
RESERVED = frozenset(
    {ROW_KEY, "churn_probability", "risk_decile", "at_risk", "segment", "segment_name"}
)


def label_key(value: Any) -> str:
    """How a cell is compared with declared labels: `Yes`, `yes` and ` YES ` match, and so do
    `1`, `1.0` and `True`-as-1 when the declared label is a number."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().lower()


def level_text(value: Any) -> Any:
    """A category cell as the text its level is declared with: `3`, `3.0` (a number column
    read back with a gap) and `"3"` are all `"3"`; a gap stays a gap."""
    if value is None or (isinstance(value, float) and value != value):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def expression_names(expr: str) -> list[str]:
    """Every column name an expression uses (backticks for names that are not identifiers);
    raises ValueError if it is not a valid expression."""
    quoted: dict[str, str] = {}

    def unquote(match: re.Match[str]) -> str:
        key = f"__quoted_{len(quoted)}__"
        quoted[key] = match.group(1)
        return key

    plain = re.sub(r"`([^`]+)`", unquote, expr)
    try:
        tree = ast.parse(plain, mode="eval")
    except SyntaxError:
        raise ValueError(f"{expr!r} is not a valid expression") from None
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}  # abs(x), log(x)
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called]
    return [quoted.get(n, n) for n in dict.fromkeys(names)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Words(_Strict):
    """How the report, portraits and reasons talk about a column. Missing words: its name."""

    label: str | None = None  # what a sentence calls it ("visits last month")
    unit: str | None = None  # "a week", "months"; none for flags (shown as a share)
    unit_one: str | None = None  # the unit after exactly 1 ("month"); default: unit
    high: str | None = None  # a group well above the base ("frequent visitors")
    low: str | None = None  # a group well below the base ("rare visitors")

    def unit_for(self, value: float) -> str:
        """The unit to write after `value`: unit_one after exactly 1 ("1 month", "2 months",
        "1 a week"), else unit; "" for none."""
        if value == 1 and self.unit_one:
            return self.unit_one
        return self.unit or ""


class Feature(Words):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Kind
    role: Role = "attribute"
    # binary: [absent, present] (present counts as 1); categorical: the allowed levels;
    # integer: the allowed values, if only some are (contract lengths 1, 6, 12)
    allowed: list[Scalar] | None = Field(default=None, alias="values")
    min: float | None = None
    max: float | None = None
    missing: Missing = "error"
    segment: bool = True  # used to build the k-means segments
    # Recorded before the outcome: a column the audit flags (it behaves like the outcome) is
    # still used by the model that lists members when this says it is known in time.
    known_before_outcome: bool = False
    # a lever an offer can change for someone already there (false: it acts on whom is
    # recruited, as a referral programme does; the report never suggests it for existing rows)
    changeable: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _rules_fit_kind(self) -> Feature:
        if self.kind == "binary" and self.allowed is not None and len(self.allowed) != 2:
            raise ValueError("a binary feature lists exactly two values: [absent, present]")
        if self.kind == "categorical" and not self.allowed:
            raise ValueError("a categorical feature lists its allowed values")
        if self.kind in ("binary", "categorical") and (self.min, self.max) != (None, None):
            raise ValueError(f"a {self.kind} feature takes values, not min/max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) exceeds max ({self.max})")
        # flags and labels match without case; category levels match exactly
        key = level_text if self.kind == "categorical" else label_key
        if self.allowed is not None and len({key(v) for v in self.allowed}) != len(self.allowed):
            raise ValueError("values repeat")
        return self

    @property
    def levels(self) -> list[str]:
        """Categorical levels as text, the form they take in every frame."""
        return [level_text(v) for v in self.allowed or []]


class Engineered(Words):
    """A feature computed from contract columns, as a pandas expression (DataFrame.eval)."""

    expr: str
    role: Role | None = None  # default: the role of the first column it is made from
    segment: bool = False


class Relation(_Strict):
    """A rule across columns, as a pandas expression that must hold on every row; with
    `enforce: false` it is an anomaly to count and report (the audit), not to refuse."""

    rule: str
    name: str | None = None
    blame: str | None = None  # the column an error names; default: the first one in the rule
    enforce: bool = True
    note: str | None = None


class Target(_Strict):
    column: str
    positive: Annotated[list[Scalar], Field(min_length=1)]
    negative: Annotated[list[Scalar], Field(min_length=1)]
    label: str = "churned"  # what a positive member did, in the report's words
    negative_label: str = "stayed"
    # a blank target: `error` refuses the row; `score` takes it for a member whose outcome is
    # not known yet (the latest month's members): kept out of learning, scored and listed
    unknown: Literal["error", "score"] = "error"
    # with snapshots: how many snapshots the outcome spans (1: left in the following month;
    # 3: within the next three). An outcome of the last horizon - 1 snapshots before a month
    # is not known yet in that month, so an out-of-time test leaves those out of training.
    horizon: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _disjoint(self) -> Target:
        overlap = {label_key(v) for v in self.positive} & {label_key(v) for v in self.negative}
        if overlap:
            raise ValueError(f"labels both positive and negative: {sorted(overlap)}")
        return self


class Finding(_Strict):
    """A claim worth re-checking on every export, recomputed with its 95% CI.

    share:            share of members where `where` holds
    churn_ratio:      churn where `where` does not hold / churn where it holds
    relative_change:  mean(`to`) / mean(`from_`) - 1 among `among` members
    median:           median of `column`
    """

    claim: str
    measure: Literal["share", "churn_ratio", "relative_change", "median"]
    where: str | None = None
    column: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    among: Literal["all", "positive", "negative"] = "all"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _arguments(self) -> Finding:
        needs = {
            "share": ("where",),
            "churn_ratio": ("where",),
            "relative_change": ("from_", "to"),
            "median": ("column",),
        }[self.measure]
        missing = [n.rstrip("_") for n in needs if getattr(self, n) is None]
        if missing:
            raise ValueError(f"measure {self.measure} needs {', '.join(missing)}")
        return self


class Population(_Strict):
    """Who the rows are and who acts on the report, in the report's words. The defaults are
    neutral; `gym-churn init` drafts them from the export's file name."""

    one: str = "customer"  # one row's person: member, customer, employee
    many: str = "customers"  # several of them
    actor: str = "company"  # who acts on the report: club, company, bank


class Contract(_Strict):
    name: str = "member export"
    description: str | None = None
    population: Population = Field(default_factory=Population)
    target: Target
    id: str | None = None
    # the month (or other period) a row describes, when the export holds several snapshots:
    # one row per member per snapshot, the target saying whether the member left after it.
    # A member may then repeat across snapshots: the member key is (id, snapshot).
    snapshot: str | None = None
    duplicates: Literal["error", "drop", "keep"] = "error"
    features: Annotated[dict[str, Feature], Field(min_length=1)]
    engineered: dict[str, Engineered] = Field(default_factory=dict)
    relations: list[Relation] = Field(default_factory=list)
    ignore: dict[str, str | None] = Field(default_factory=dict)  # column -> why
    findings: list[Finding] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Contract:
        raw = set(self.features)
        named = [self.target.column, *([self.id] if self.id else [])]
        named += [self.snapshot] if self.snapshot else []
        if len(set(named)) != len(named):
            raise ValueError(f"the target, ID and snapshot columns must differ, got {named}")
        for col in named:
            if col in raw or col in self.engineered:
                what = "snapshot" if col == self.snapshot else "target or ID"
                raise ValueError(f"{col!r} is the {what} column and cannot be a feature")
        row = set() if self.id else {self.key}  # the row-number key, when there is no ID
        clash = (raw | set(self.engineered) | set(named)) & (RESERVED | row)
        if clash:
            raise ValueError(f"column name(s) {sorted(clash)} are reserved for pipeline outputs")
        both = raw & set(self.engineered)
        if both:
            raise ValueError(f"{sorted(both)} declared both as a feature and as engineered")
        tenure = [c for c, f in self.features.items() if f.role == "tenure"]
        if len(tenure) > 1:
            raise ValueError(f"only one feature can have role tenure, got {tenure}")
        for col in self.ignore:
            if col in raw or col in named:
                raise ValueError(f"{col!r} is both ignored and used")
        for name, eng in self.engineered.items():
            unknown = [n for n in expression_names(eng.expr) if n not in raw]
            if unknown or not self.names_in(eng.expr, raw):
                raise ValueError(
                    f"engineered {name!r}: {eng.expr!r} uses no contract column"
                    if not unknown
                    else f"engineered {name!r}: unknown column(s) {unknown} in {eng.expr!r}"
                )
        for rel in self.relations:
            unknown = [n for n in expression_names(rel.rule) if n not in raw]
            if unknown:
                raise ValueError(f"relation {rel.rule!r}: unknown column(s) {unknown}")
            if not self.names_in(rel.rule, raw):
                raise ValueError(f"relation {rel.rule!r} uses no contract column")
            if rel.blame is not None and rel.blame not in raw:
                raise ValueError(f"relation {rel.rule!r}: blame {rel.blame!r} is not a feature")
        known = raw | set(self.engineered)
        for finding in self.findings:
            used = [finding.column, finding.from_, finding.to]
            used += expression_names(finding.where) if finding.where else []
            for col in used:
                if col is not None and col not in known:
                    raise ValueError(f"finding {finding.claim!r}: unknown column {col!r}")
        return self

    # ------------------------------------------------------------------ questions

    @staticmethod
    def names_in(expr: str, names: set[str] | list[str]) -> list[str]:
        """The column names an expression uses, in the order they appear in it."""
        found = []
        for name in names:
            pattern = rf"`{re.escape(name)}`|(?<![\w`]){re.escape(name)}(?![\w`])"
            match = re.search(pattern, expr)
            if match:
                found.append((match.start(), name))
        return [name for _, name in sorted(found)]

    @property
    def raw_features(self) -> list[str]:
        return list(self.features)

    @property
    def model_features(self) -> list[str]:
        """What the model sees: every raw feature, then the engineered ones."""
        return [*self.features, *self.engineered]

    @property
    def key(self) -> str:
        """The per-member key of every output: the ID column, or the row number (named in the
        population's words)."""
        return self.id or row_key(self.population.one)

    @property
    def keys(self) -> list[str]:
        """The columns that identify a row: the member key, then the snapshot if any."""
        return [self.key, *([self.snapshot] if self.snapshot else [])]

    @property
    def tenure(self) -> str | None:
        return next((c for c, f in self.features.items() if f.role == "tenure"), None)

    def of_kind(self, *kinds: str) -> list[str]:
        return [c for c, f in self.features.items() if f.kind in kinds]

    @property
    def categorical(self) -> list[str]:
        return self.of_kind("categorical")

    def sources(self, engineered: str) -> list[str]:
        """The raw columns an engineered feature is made from."""
        return list(self._sources[engineered])

    # Answers read per scored chunk are worked out once per contract (it is frozen): each
    # takes a regular-expression search per feature.
    @cached_property
    def _sources(self) -> dict[str, tuple[str, ...]]:
        return {
            name: tuple(self.names_in(eng.expr, self.raw_features))
            for name, eng in self.engineered.items()
        }

    @property
    def groups(self) -> dict[str, list[str]]:
        """Columns that count as one driver or reason: a raw column, the engineered features
        made from it, and the other raw columns those are made from. Keyed by the group's
        first raw column in contract order; singletons for untouched columns."""
        return {key: list(cols) for key, cols in self._groups.items()}

    @cached_property
    def _groups(self) -> dict[str, tuple[str, ...]]:
        owner = {col: col for col in self.features}

        def root(col: str) -> str:
            while owner[col] != col:
                col = owner[col]
            return col

        order = {col: i for i, col in enumerate(self.features)}
        for name in self.engineered:
            roots = sorted({root(c) for c in self.sources(name)}, key=order.__getitem__)
            for other in roots[1:]:
                owner[other] = roots[0]
        out: dict[str, list[str]] = {}
        for col in self.features:
            out.setdefault(root(col), []).append(col)
        for name in self.engineered:
            out[root(self.sources(name)[0])].append(name)
        return {key: tuple(cols) for key, cols in out.items()}

    def group_label(self, group: str) -> str:
        """A group's words: its columns' labels joined ("lifetime visits + visits last month")."""
        return " + ".join(str(self.words(c).label) for c in self.groups[group])

    def role(self, column: str) -> str:
        if column in self.features:
            return self.features[column].role
        eng = self.engineered[column]
        return eng.role or self.features[self.sources(column)[0]].role

    def with_role(self, *roles: str) -> list[str]:
        return [c for c in self.features if self.role(c) in roles]

    @property
    def segment_columns(self) -> list[str]:
        raw = [c for c, f in self.features.items() if f.segment]
        return raw + [c for c, e in self.engineered.items() if e.segment]

    def words(self, column: str) -> Words:
        """The column's words, with its name wherever a word is missing."""
        spec = self.features.get(column) or self.engineered[column]
        return Words(
            label=spec.label or column,
            unit=spec.unit or "",
            unit_one=spec.unit_one or spec.unit or "",
            high=spec.high or f"high {spec.label or column}",
            low=spec.low or f"low {spec.label or column}",
        )

    def kind(self, column: str) -> str:
        """Kind of a raw or engineered column (engineered ones are numeric)."""
        return self.features[column].kind if column in self.features else "numeric"


def _format_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid data contract"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def parse_contract(raw: Any, source: str = "contract") -> Contract:
    """Validate a contract mapping; raise ContractError naming each bad key."""
    if not isinstance(raw, dict):
        raise ContractError(f"{source}: expected a mapping, got {type(raw).__name__}")
    try:
        return Contract.model_validate(raw)
    except ValidationError as exc:
        raise ContractError(_format_error(exc, source)) from None


def contract_to_dict(contract: Contract) -> dict[str, Any]:
    """The contract as plain data (for model bundles and YAML), defaults left out."""
    return contract.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def without_columns(contract: Contract, columns: list[str]) -> Contract:
    """The contract without some raw columns and the engineered features made from them."""
    drop = set(columns)
    features = {c: f for c, f in contract.features.items() if c not in drop}
    engineered = {
        n: e for n, e in contract.engineered.items() if not drop & set(contract.sources(n))
    }
    return contract.model_copy(
        update={
            "features": features,
            "engineered": engineered,
            "relations": [],
            "findings": [],
        }
    )
