"""What goes with churn, two ways, on one contrast per feature. Pure functions.

Every feature's row compares two groups of members, its **sides**, fixed once (`contrast`,
`sides`): without vs with a flag; the first vs the last value of a short menu of numbers;
an unordered category's riskiest vs safest big level; a number's members at or below its
lower quartile vs at or above its upper one (with ties a side can hold far more than a
quarter, so the row says how many members each side holds). Members on neither side take
no part in either column.

- marginal ("as members are"): churn on the low side / churn on the high side, with a 95%
  CI (Katz, on the log scale);
- adjusted ("after accounting for the rest"): the same two sides, standardised: a logistic
  regression of churn on the side and the adjustment set predicts every member on either
  side twice, once as if on the low side and once as if on the high side, and the ratio of
  the two averages is reported (g-computation). With nothing to adjust for it equals the
  marginal ratio, so the only difference between the columns is the adjustment.

The adjustment set (`adjustment_set`) of every feature is the levers, fixed attributes and
tenure, never behaviour: what members do after joining may be how a lever works (a lever
-> visits -> churn), or a consequence of being about to leave, so holding it fixed hides or
distorts the association. Left out as well:
- columns the audit flagged as behaving like the outcome: they are neither adjusters nor
  findings (their own rows are not estimated);
- columns the contract ties to the feature (an engineered feature is made from both, e.g.
  months used = contract length - months left): one may be computed from the other, so
  adjusting for it holds fixed a consequence of the contrast itself. The row names them.

Before estimating, overlap is checked (`overlap`, `separated_from`): within every adjuster's
strata (its values, or deciles for a many-valued number) both sides must occur, each as at
least a small share of the stratum. When a side's members mostly sit in strata the other
side (almost) never reaches, only the model's shape and penalty would decide the number, so
none is given and the row names the column it cannot be separated from. The check is one
adjuster at a time: a side fixed by a combination of adjusters is not caught.

The interval is analytic: the delta method on the log ratio, from the fitted model's
covariance (inverse penalised Hessian) plus the variance of averaging over the members, so
the figures are deterministic and need no resampling. The fit is Newton's method run to a
tight tolerance, so last-bit floating-point differences between machines stay far below
the precision the stage writes.

Levers are judged as a family: a lever is evidence only when its Wald p-value survives
Holm's correction over the levers estimated, and its family-wise (Bonferroni) interval is
given beside the 95% one. A lever is chosen by members, so motivation and the like, which
no column records, remain in every adjusted ratio.

None of these is an effect: they are associations in this export.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer

from gym_churn.contract.spec import Contract, level_text
from gym_churn.segments.profiles import rate_ratio

log = logging.getLogger(__name__)

NON_BEHAVIOUR = ("lever", "attribute", "tenure")
MIN_LEVEL_SHARE = 0.05  # an unordered category's riskiest and safest levels, among those this big
STRATA_BINS = 10  # a number with more distinct values than this is stratified by deciles
Z95 = float(stats.norm.ppf(0.975))
# Newton's method stops when the largest gradient entry is below this: far tighter than the
# 4 significant digits written, so BLAS/SIMD differences cannot reach the written figures
NEWTON_TOL = 1e-9

ESTIMATED = "estimated"
FLAGGED = "not estimated: behaves like the outcome"
SEPARATED = "not estimated: cannot be separated from"
ONE_SIDED = (
    "not estimated: a side has no members, both sides hold the same members, or no churn variation"
)
UNCONVERGED = "not estimated: the outcome model did not converge"

COLUMNS = [
    "feature", "marginal_ratio", "marginal_low", "marginal_high", "adjusted_ratio",
    "adjusted_low", "adjusted_high", "label", "role", "compared", "n_low",
    "n_high", "status", "separated_from", "adjusted_for", "not_adjusted_for", "tied_by", "p_value",
    "p_holm", "familywise_low", "familywise_high", "lever_evidence", "reliance_group",
]  # fmt: skip


@dataclass(frozen=True)
class Contrast:
    """The two sides a feature's ratio compares: `low` (without / low end) and `high`."""

    low: Any
    high: Any
    text: str  # what was compared, in words
    exact: bool = True  # sides are members equal to low/high; else at or below / at or above


def _as_levels(contract: Contract, col: str) -> bool:
    spec = contract.features[col]
    return spec.kind == "categorical" or (spec.kind == "integer" and bool(spec.allowed))


def _share(n: int, total: int) -> str:
    return f"{n / total:.0%}" if total else "0%"


def contrast(members: pd.DataFrame, contract: Contract, col: str) -> Contrast:
    """What `col`'s ratio compares, the same in both columns. Flags: without vs with. A short
    menu of numbers: its first vs its last value (monthly vs annual). An unordered category:
    its riskiest vs its safest level among levels with at least 5% of members (marginally).
    A number: members at or below the lower quartile vs at or above the upper one; when the
    two quartiles tie, at or below it vs at or above the next value held. The text says what
    share of members each side holds."""
    spec = contract.features[col]
    target = contract.target.column
    if spec.kind == "binary":
        return Contrast(0, 1, "without vs with")
    if spec.kind == "integer" and spec.allowed:
        levels = sorted(float(v) for v in spec.allowed)
        return Contrast(levels[0], levels[-1], f"{levels[0]:g} vs {levels[-1]:g}")
    if spec.kind == "categorical":
        x = members[col]
        big = x.value_counts(normalize=True)
        big = big[big >= MIN_LEVEL_SHARE].index
        rates = members.loc[x.isin(big), target].groupby(x[x.isin(big)]).mean()
        if len(rates) < 2:
            rates = members[target].groupby(x).mean()
        if rates.empty:  # every cell blank: sides that hold nobody (the row is not estimated)
            return Contrast(None, None, "no level to compare")
        riskiest, safest = rates.idxmax(), rates.idxmin()
        return Contrast(riskiest, safest, f"'{riskiest}' vs '{safest}' (riskiest vs safest)")
    x = members[col].dropna()
    q1, q3 = x.quantile([0.25, 0.75]).tolist() if len(x) else (np.nan, np.nan)
    if q1 == q3:  # a quarter of members or more share one value: split next to it
        above, below = x[x > q1], x[x < q1]
        q1, q3 = (q1, above.min()) if len(above) else (below.max() if len(below) else q1, q3)
    n = len(members)
    text = (
        f"<= {q1:.3g} ({_share(int((x <= q1).sum()), n)} of members) vs >= {q3:.3g} "
        f"({_share(int((x >= q3).sum()), n)}), lower vs upper quartile"
    )
    return Contrast(q1, q3, text, exact=False)


def sides(members: pd.DataFrame, col: str, c: Contrast) -> tuple[pd.Series, pd.Series]:
    """Boolean masks of the members on the low and on the high side (a gap is on neither)."""
    x = members[col]
    if isinstance(c.low, str):
        text = x.map(level_text, na_action="ignore")
        return text == c.low, text == c.high
    if c.exact:
        return x == c.low, x == c.high
    return x <= c.low, x >= c.high


def marginal(members: pd.DataFrame, col: str, c: Contrast, target: str) -> dict[str, float]:
    """The churn rate on the low side / on the high side, members as they are, with the Katz 95% CI,
    and how many members each side holds."""
    low, high = sides(members, col, c)
    y = members[target]
    ratio, lo, hi = rate_ratio(int(y[low].sum()), int(low.sum()), int(y[high].sum()),
                               int(high.sum()))  # fmt: skip
    return {"marginal_ratio": ratio, "marginal_low": lo, "marginal_high": hi,
            "n_low": int(low.sum()), "n_high": int(high.sum())}  # fmt: skip


def tied_columns(contract: Contract, col: str) -> dict[str, str]:
    """The other raw columns the contract ties to `col` (an engineered feature is made from
    both), each with the first engineered feature that ties them."""
    out: dict[str, str] = {}
    for name in contract.engineered:
        made_from = contract.sources(name)
        if col in made_from:
            for other in made_from:
                if other != col and other not in out:
                    out[other] = name
    return out


def adjustment_set(
    contract: Contract, col: str, flagged: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """The raw columns `col` is adjusted for: levers, attributes and tenure, other than `col`,
    the audit's `flagged` columns and the columns tied to `col` (see the module docstring)."""
    left_out = {col, *flagged, *tied_columns(contract, col)}
    return [c for c in contract.with_role(*NON_BEHAVIOUR) if c not in left_out]


def _strata(x: pd.Series, contract: Contract, col: str) -> np.ndarray:
    """An adjuster's strata as codes: its values, or its deciles when a number holds many;
    a gap is a stratum of its own."""
    if contract.kind(col) in ("numeric", "integer") and x.nunique() > STRATA_BINS:
        x = pd.qcut(x, STRATA_BINS, labels=False, duplicates="drop")
    codes, _ = pd.factorize(x, use_na_sentinel=False)
    return codes


def overlap(
    frame: pd.DataFrame, high: np.ndarray, contract: Contract, adjusters: list[str],
    min_propensity: float,
) -> dict[str, float]:  # fmt: skip
    """Per adjuster: the smaller of the two sides' shares of members in strata of the adjuster
    that support both sides (1 = full overlap, 0 = the sides never meet). A stratum supports
    both when each side holds at least `min_propensity` of its members (a propensity by
    strata): a handful of the other side's members among hundreds cannot inform their
    predictions. `frame` holds the members on either side, `high` says which are on the high
    side."""
    out = {}
    for col in adjusters:
        codes = _strata(frame[col], contract, col)
        n_low = np.bincount(codes[~high], minlength=codes.max() + 1)
        n_high = np.bincount(codes[high], minlength=codes.max() + 1)
        propensity = n_high / (n_low + n_high)  # every stratum holds a member
        both = (propensity >= min_propensity) & (1 - propensity >= min_propensity)
        out[col] = float(min(n_low[both].sum() / n_low.sum(), n_high[both].sum() / n_high.sum()))
    return out


def separated_from(
    frame: pd.DataFrame, high: np.ndarray, contract: Contract, adjusters: list[str],
    min_overlap: float, min_propensity: float,
) -> str | None:  # fmt: skip
    """The adjuster with the least overlap (see `overlap`), when it is below `min_overlap`;
    else None."""
    shares = overlap(frame, high, contract, adjusters, min_propensity)
    worst = min(shares, key=shares.__getitem__, default=None)
    return worst if worst is not None and shares[worst] < min_overlap else None


def _as_text(x: pd.Series) -> pd.Series:
    """Cells as level text (a menu of numbers included), a gap as its own level; worked out
    per distinct value, not per cell."""
    text = {v: level_text(v) for v in pd.unique(x.dropna())}
    return x.map(text).astype(object).fillna("missing")


def adjuster_columns(
    members: pd.DataFrame, contract: Contract, columns: list[str]
) -> dict[str, np.ndarray]:
    """Each column as model columns, made once from all the members analysed: numbers (gaps
    at the median) through cubic splines (tenure and churn are far from linear), flags as
    they are (gaps at the commonest value), categories and short menus one-hot without their
    first level (no column repeats the intercept). No intercept column."""
    out = {}
    for col in columns:
        x = members[[col]]
        if contract.kind(col) == "binary":
            step: Any = SimpleImputer(strategy="most_frequent", keep_empty_features=True)
        elif _as_levels(contract, col):
            x = x.assign(**{col: _as_text(x[col])})
            step = OneHotEncoder(drop="first", sparse_output=False)
        else:
            step = Pipeline([
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("spline", SplineTransformer(n_knots=4, degree=3, include_bias=False)),
            ])  # fmt: skip
        out[col] = np.asarray(step.fit_transform(x), dtype=float)
    return out


@dataclass(frozen=True)
class Standardised:
    """A standardised churn ratio (low side / high side) and its log-scale standard error."""

    ratio: float
    se: float  # of log(ratio)

    def interval(self, z: float) -> tuple[float, float]:
        return self.ratio * float(np.exp(-z * self.se)), self.ratio * float(np.exp(z * self.se))

    @property
    def p_value(self) -> float:
        """Two-sided Wald p-value of "no difference" (ratio 1)."""
        return float(2 * stats.norm.sf(abs(np.log(self.ratio)) / self.se))


def standardised_ratio(
    high: np.ndarray, design: np.ndarray, y: np.ndarray, C: float
) -> Standardised:
    """Fit churn ~ intercept + high side + `design` (a ridge logistic regression, penalty
    1/(2C) on the squared coefficients but not the intercept, by Newton's method), then
    standardise over the given members: mean predicted churn with everyone on the low side /
    with everyone on the high side.

    The standard error of log(ratio) is the delta method's: the gradient of log(ratio) in
    the coefficients through their covariance (the inverse penalised Hessian at the fit),
    plus the variance of averaging over these members (uncorrelated with the first term, as
    a score has mean zero given the columns). Raises ConvergenceWarning (as an exception)
    when Newton's method stops short of its tolerance."""
    X = np.column_stack([high.astype(float), design])
    model = LogisticRegression(C=C, solver="newton-cholesky", tol=NEWTON_TOL, max_iter=200)
    with warnings.catch_warnings():
        # an unconverged fit would write figures that differ between machines
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)
    beta = np.concatenate([model.intercept_, model.coef_[0]])
    X1 = np.column_stack([np.ones(len(X)), X])
    p = expit(X1 @ beta)
    hessian = (X1 * (p * (1 - p))[:, None]).T @ X1
    hessian[1:, 1:] += np.eye(X.shape[1]) / C
    as_low, as_high = X1.copy(), X1.copy()
    as_low[:, 1], as_high[:, 1] = 0.0, 1.0
    p_low, p_high = expit(as_low @ beta), expit(as_high @ beta)
    mean_low, mean_high = p_low.mean(), p_high.mean()
    gradient = ((p_low * (1 - p_low)) @ as_low) / len(X) / mean_low - (
        (p_high * (1 - p_high)) @ as_high
    ) / len(X) / mean_high
    var_model = float(gradient @ np.linalg.solve(hessian, gradient))
    var_members = float(np.var(p_low / mean_low - p_high / mean_high, ddof=1) / len(X))
    return Standardised(float(mean_low / mean_high), float(np.sqrt(var_model + var_members)))


def _sample(members: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """Every member, or a seeded random `max_rows` of them when there are more."""
    if len(members) > max_rows:
        return members.sample(max_rows, random_state=seed).sort_index()
    return members


def adjusted(
    members: pd.DataFrame,
    contract: Contract,
    contrasts: dict[str, Contrast],
    *,
    flagged: list[str] | tuple[str, ...] = (),
    C: float,
    min_overlap: float,
    min_propensity: float,
    max_rows: int,
    seed: int,
) -> pd.DataFrame:
    """Per raw feature: the standardised churn ratio with its 95% CI and Wald p-value, on
    every member (or a seeded sample of `max_rows` when there are more), or why it is not
    estimated (`status`; `separated_from` names the column); what it is adjusted for, and
    which tied columns it is not (`not_adjusted_for`) with the engineered features that tie
    them (`tied_by`)."""
    target = contract.target.column
    members = _sample(members, max_rows, seed)
    made = adjuster_columns(members, contract, contract.with_role(*NON_BEHAVIOUR))
    rows = []
    for col in contract.raw_features:
        adjusters = adjustment_set(contract, col, flagged)
        tied = tied_columns(contract, col)
        row: dict[str, Any] = {
            "feature": col, "adjusted_ratio": np.nan, "adjusted_low": np.nan,
            "adjusted_high": np.nan, "p_value": np.nan, "se": np.nan, "status": ESTIMATED,
            "separated_from": "", "adjusted_for": " + ".join(adjusters),
            "not_adjusted_for": " + ".join(tied),
            "tied_by": " + ".join(dict.fromkeys(tied.values())),
        }  # fmt: skip
        rows.append(row)
        if col in flagged:
            row.update(status=FLAGGED, adjusted_for="")
            continue
        low, high = sides(members, col, contrasts[col])
        on_either = members[low | high]
        y = on_either[target].to_numpy()
        # no contrast: a side is empty, a member is on both (a constant column, a category
        # with one level: the group against itself), or everyone on either side had one outcome
        if not low.any() or not high.any() or (low & high).any() or len(np.unique(y)) < 2:
            row["status"] = ONE_SIDED
            continue
        is_high = high[low | high].to_numpy()
        apart = separated_from(on_either, is_high, contract, adjusters, min_overlap, min_propensity)
        if apart is not None:
            row.update(status=f"{SEPARATED} {apart}", separated_from=apart)
            continue
        either = (low | high).to_numpy()
        design = np.column_stack(
            [np.zeros((int(either.sum()), 0)), *(made[c][either] for c in adjusters)]
        )
        try:
            est = standardised_ratio(is_high, design, y, C)
        except ConvergenceWarning:
            # a number from an unfinished fit would differ between machines: none is given
            log.warning("%s: the outcome model did not converge; not estimated", col)
            row["status"] = UNCONVERGED
            continue
        lo, hi = est.interval(Z95)
        row.update(adjusted_ratio=est.ratio, adjusted_low=lo, adjusted_high=hi,
                   p_value=est.p_value, se=est.se)  # fmt: skip
    return pd.DataFrame(rows)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the given order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def judge_levers(table: pd.DataFrame, contract: Contract, alpha: float) -> pd.DataFrame:
    """The levers with an adjusted ratio are one family: Holm-adjusted p-values, evidence
    where that is below `alpha`, and Bonferroni intervals at 1 - alpha / (levers tested).
    Other rows get no family-wise figures and no evidence. Returns a new table."""
    out = table.copy()
    tested = (out["feature"].map(contract.role) == "lever") & out["adjusted_ratio"].notna()
    m = int(tested.sum())
    out["p_holm"] = np.nan
    out["familywise_low"] = np.nan
    out["familywise_high"] = np.nan
    out["lever_evidence"] = False
    if m:
        z = float(stats.norm.ppf(1 - alpha / (2 * m)))
        out.loc[tested, "p_holm"] = holm(out.loc[tested, "p_value"].to_numpy())
        ratio, se = out.loc[tested, "adjusted_ratio"], out.loc[tested, "se"]
        out.loc[tested, "familywise_low"] = ratio * np.exp(-z * se)
        out.loc[tested, "familywise_high"] = ratio * np.exp(z * se)
        out.loc[tested, "lever_evidence"] = out.loc[tested, "p_holm"] < alpha
    return out


def familywise_confidence(table: pd.DataFrame, alpha: float) -> float | None:
    """The confidence level of the levers' family-wise intervals, 1 - alpha / levers tested;
    None when no lever was tested."""
    m = int(table["p_holm"].notna().sum())
    return 1 - alpha / m if m else None


def drivers_table(
    members: pd.DataFrame,
    contract: Contract,
    *,
    flagged: list[str] | tuple[str, ...] = (),
    C: float,
    min_overlap: float,
    min_propensity: float,
    alpha: float,
    max_rows: int,
    seed: int,
) -> pd.DataFrame:
    """One row per raw feature (COLUMNS): marginal and adjusted ratios with 95% CIs on one
    contrast, the levers' family-wise judgement, its role, what was compared, and its group
    of columns (`reliance_group`: the columns model reliance credits together, which the
    report joins to evaluate's reliance; this table depends on no model). `flagged`: the
    audit's flagged raw columns, whose rows hold no ratio and which adjust nothing."""
    target = contract.target.column
    contrasts = {c: contrast(members, contract, c) for c in contract.raw_features}
    adj = adjusted(members, contract, contrasts, flagged=flagged, C=C, min_overlap=min_overlap,
                   min_propensity=min_propensity, max_rows=max_rows, seed=seed)  # fmt: skip
    adj = judge_levers(adj, contract, alpha).set_index("feature")
    group_of = {c: g for g, cols in contract.groups.items() for c in cols}
    rows = []
    for col in contract.raw_features:
        ratios = marginal(members, col, contrasts[col], target)
        if col in flagged:  # neither a finding nor an adjuster: no ratio at all
            ratios.update(marginal_ratio=np.nan, marginal_low=np.nan, marginal_high=np.nan)
        rows.append({
            "feature": col,
            "label": contract.words(col).label,
            "role": contract.role(col),
            "compared": contrasts[col].text,
            **ratios,
            **adj.loc[col].to_dict(),
            "reliance_group": " + ".join(contract.groups[group_of[col]]),
        })  # fmt: skip
    return pd.DataFrame(rows)[COLUMNS].astype({"lever_evidence": bool})


def significant(table: pd.DataFrame, digits: int, columns: list[str]) -> pd.DataFrame:
    """`columns` rounded to `digits` significant digits (gaps stay gaps): the precision the
    figures are reported at, so floating-point noise below it cannot change a written byte."""

    def one(x: float) -> float:
        return float(f"{x:.{digits}g}") if np.isfinite(x) else x

    return table.assign(**{c: table[c].astype(float).map(one) for c in columns})
