"""What goes with churn, three ways, with uncertainty. Pure functions.

- marginal ("who churns"): churn without the trait (or at the low end) / churn with it (or at
  the high end), members as they are, with a 95% CI (Katz, on the log scale);
- adjusted ("after accounting for the rest"): the same ratio as a standardised churn ratio by
  g-computation: a logistic regression of churn on the feature and its adjustment set predicts
  every member's churn twice, once with the feature set low and once set high, and the ratio
  of the two averages is reported, with a bootstrap 95% CI. The adjustment set of a lever,
  an attribute or tenure is every attribute, lever and tenure column, never behaviour: what
  members do after joining may be how a lever works (group classes -> visits -> churn), so
  adjusting for it would hide part of the association. A behaviour feature is adjusted for
  everything else;
- model reliance: how much the churn model leans on the feature and what is made from it
  (grouped permutation importance on log loss, computed on the test split by evaluate).

None of these is an effect: they are associations in this export.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, SplineTransformer

from gym_churn.contract.spec import Contract, level_text
from gym_churn.segments.profiles import rate_ratio

NON_BEHAVIOUR = ("lever", "attribute", "tenure")
MIN_LEVEL_SHARE = 0.05  # an unordered category's riskiest and safest levels, among those this big
PREDICT_ROWS = 2000  # members whose predictions are averaged (a bootstrap sample is shuffled)


@dataclass(frozen=True)
class Contrast:
    """The two values a feature's ratio compares: `low` (without / low end) and `high`."""

    low: Any
    high: Any
    text: str  # what was compared, in words
    exact: bool = True  # compare members equal to low/high; else at or below / at or above


def _as_levels(contract: Contract, col: str) -> bool:
    spec = contract.features[col]
    return spec.kind == "categorical" or (spec.kind == "integer" and bool(spec.allowed))


def contrast(members: pd.DataFrame, contract: Contract, col: str) -> Contrast:
    """What `col`'s ratio compares. Flags: without vs with. A short menu of numbers: its first
    vs its last value (monthly vs annual). An unordered category: its riskiest vs its safest
    level among levels with at least 5% of members (marginally). A number: the lower vs the
    upper quartile of members."""
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
        riskiest, safest = rates.idxmax(), rates.idxmin()
        return Contrast(riskiest, safest, f"'{riskiest}' vs '{safest}' (riskiest vs safest)")
    q1, q3 = members[col].quantile([0.25, 0.75]).tolist()
    return Contrast(q1, q3, f"lower quartile (<= {q1:.3g}) vs upper (>= {q3:.3g})", exact=False)


def marginal(members: pd.DataFrame, col: str, c: Contrast, target: str) -> dict[str, float]:
    x, y = members[col], members[target]
    if isinstance(c.low, str):
        low, high = x.astype(str) == c.low, x.astype(str) == c.high
    elif c.exact:
        low, high = x == c.low, x == c.high
    else:
        low, high = x <= c.low, x >= c.high
    ratio, lo, hi = rate_ratio(int(y[low].sum()), int(low.sum()), int(y[high].sum()),
                               int(high.sum()))  # fmt: skip
    return {"marginal_ratio": ratio, "marginal_low": lo, "marginal_high": hi,
            "n_low": int(low.sum()), "n_high": int(high.sum())}  # fmt: skip


def adjustment_set(contract: Contract, col: str) -> list[str]:
    """The raw columns `col` is adjusted for (see the module docstring)."""
    if contract.role(col) == "behaviour":
        return [c for c in contract.raw_features if c != col]
    return [c for c in contract.with_role(*NON_BEHAVIOUR) if c != col]


def outcome_model(
    contract: Contract, columns: list[str], categories: dict[str, list[str]] | None = None
) -> Pipeline:
    """Logistic regression of churn on `columns`: numbers through cubic splines (tenure and
    churn are far from linear), categories and short menus one-hot, flags as they are.

    `categories` fixes each one-hot column's levels (as text), so every bootstrap refit has
    the same columns even when a resample misses a rare level; with it, the caller passes
    those columns already as level text (made once, not at every refit and prediction)."""
    levels = [c for c in columns if contract.features[c].kind != "binary" and _as_levels(
        contract, c)]  # fmt: skip
    flags = [c for c in columns if contract.features[c].kind == "binary"]
    numbers = [c for c in columns if c not in levels and c not in flags]
    parts: list[tuple[str, Any, list[str]]] = []
    if numbers:
        spline = Pipeline([("impute", SimpleImputer(strategy="median",
                                                    keep_empty_features=True)),
                           ("spline", SplineTransformer(n_knots=4, degree=3))])  # fmt: skip
        parts.append(("numbers", spline, numbers))
    if flags:
        parts.append(
            ("flags", SimpleImputer(strategy="most_frequent", keep_empty_features=True), flags)
        )
    if levels and categories:
        # the caller turned the cells into level text once, before any refit
        known = [categories[c] for c in levels]
        parts.append(("levels", OneHotEncoder(categories=known, handle_unknown="ignore"), levels))
    elif levels:
        onehot = Pipeline([
            ("text", FunctionTransformer(_as_text)),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ])  # fmt: skip
        parts.append(("levels", onehot, levels))
    return Pipeline([
        ("inputs", ColumnTransformer(parts)),
        ("model", LogisticRegression(C=100.0, max_iter=2000)),
    ])  # fmt: skip


def _as_text(X: Any) -> pd.DataFrame:
    """Cells as text (a menu of numbers included), a gap as its own level."""
    frame = pd.DataFrame(X)
    out = {}
    for col in frame.columns:
        cells = frame[col].astype(object)
        text = {v: level_text(v) for v in pd.unique(cells.dropna())}  # per value, not per cell
        out[col] = cells.map(text).fillna("missing").astype(object)
    return pd.DataFrame(out, index=frame.index)


def standardised_ratios(
    model: Pipeline, members: pd.DataFrame, contrasts: dict[str, Contrast]
) -> dict[str, float]:
    """Per feature: mean predicted churn with everyone's value set low / set high. Every
    variant of every feature is predicted in one call (the per-call overhead dominates)."""
    variants = [
        members.assign(**{col: value}) for col, c in contrasts.items() for value in (c.low, c.high)
    ]
    proba = model.predict_proba(pd.concat(variants, ignore_index=True))[:, 1]
    means = proba.reshape(len(variants), len(members)).mean(axis=1)
    out = {}
    for i, col in enumerate(contrasts):
        low, high = means[2 * i], means[2 * i + 1]
        out[col] = float(low / high) if high > 0 else float("nan")
    return out


def adjusted(
    members: pd.DataFrame,
    contract: Contract,
    contrasts: dict[str, Contrast],
    *,
    resamples: int,
    max_rows: int,
    seed: int,
) -> pd.DataFrame:
    """Standardised churn ratio of every raw feature with its bootstrap 95% CI (percentile),
    on a seeded sample of at most `max_rows` members. One outcome model per adjustment set
    and resample serves every feature that shares the set."""
    target = contract.target.column
    rng = np.random.default_rng(seed)
    if len(members) > max_rows:
        members = members.sample(max_rows, random_state=seed)
    members = members.reset_index(drop=True)
    # every level as text, from the whole sample: a resample may miss a rare one
    level_cols = [c for c in contract.raw_features
                  if contract.kind(c) != "binary" and _as_levels(contract, c)]  # fmt: skip
    if level_cols:
        members = members.assign(**_as_text(members[level_cols]))
        contrasts = {
            c: replace(k, low=_as_text(pd.DataFrame({c: [k.low]}))[c].iloc[0],
                       high=_as_text(pd.DataFrame({c: [k.high]}))[c].iloc[0])
            if c in level_cols else k
            for c, k in contrasts.items()
        }  # fmt: skip
    categories = {c: sorted(members[c].unique()) for c in level_cols}
    by_set: dict[tuple[str, ...], list[str]] = {}
    for col in contract.raw_features:
        by_set.setdefault(tuple(sorted([col, *adjustment_set(contract, col)])), []).append(col)
    point: dict[str, float] = {}
    draws: dict[str, list[float]] = {col: [] for col in contract.raw_features}
    for columns, cols in by_set.items():
        order = [c for c in contract.raw_features if c in columns]
        model = outcome_model(contract, order, categories)
        for b in range(resamples + 1):
            sample = (
                members if b == 0 else members.iloc[rng.integers(0, len(members), len(members))]
            )
            if sample[target].nunique() < 2:
                continue
            # each resample starts from the previous fit's coefficients: same answer, fewer
            # iterations (the fits are most of the stage's time)
            model.set_params(model__warm_start=b > 0).fit(sample[order], sample[target])
            # averaging over a sample of members: its noise is far below the bootstrap's
            base = sample[order].iloc[: min(len(sample), PREDICT_ROWS)]
            ratios = standardised_ratios(model, base, {c: contrasts[c] for c in cols})
            for col, ratio in ratios.items():
                if b == 0:
                    point[col] = ratio
                else:
                    draws[col].append(ratio)
    rows = []
    for col in contract.raw_features:
        low, high = (np.nanpercentile(draws[col], [2.5, 97.5]) if draws[col]
                     else (np.nan, np.nan))  # fmt: skip
        rows.append({"feature": col, "adjusted_ratio": point.get(col, np.nan),
                     "adjusted_low": float(low), "adjusted_high": float(high),
                     "adjusted_for": " + ".join(adjustment_set(contract, col))})  # fmt: skip
    return pd.DataFrame(rows)


def drivers_table(
    members: pd.DataFrame,
    contract: Contract,
    reliance: pd.DataFrame,
    *,
    resamples: int,
    max_rows: int,
    seed: int,
) -> pd.DataFrame:
    """One row per raw feature: marginal and adjusted ratios with CIs, model reliance (of
    the feature's group), its role and what was compared. `reliance` has one row per group:
    `group` (its first raw column) and `importance`."""
    target = contract.target.column
    contrasts = {c: contrast(members, contract, c) for c in contract.raw_features}
    adj = adjusted(members, contract, contrasts, resamples=resamples, max_rows=max_rows,
                   seed=seed).set_index("feature")  # fmt: skip
    group_of = {c: g for g, cols in contract.groups.items() for c in cols}
    by_group = reliance.set_index("group")["importance"]
    rows = []
    for col in contract.raw_features:
        words = contract.words(col)
        rows.append({
            "feature": col,
            "label": words.label,
            "role": contract.role(col),
            "compared": contrasts[col].text,
            **marginal(members, col, contrasts[col], target),
            **adj.loc[col].to_dict(),
            "reliance": float(by_group.get(group_of[col], np.nan)),
            "reliance_group": " + ".join(contract.groups[group_of[col]]),
        })  # fmt: skip
    columns = ["feature", "marginal_ratio", "marginal_low", "marginal_high", "adjusted_ratio",
               "adjusted_low", "adjusted_high", "reliance", "label", "role", "compared",
               "n_low", "n_high", "adjusted_for", "reliance_group"]  # fmt: skip
    return pd.DataFrame(rows)[columns]


def evidence_holds(row: pd.Series | dict[str, Any]) -> bool:
    """The adjusted CI excludes 1 ("no difference")."""
    low, high = row["adjusted_low"], row["adjusted_high"]
    return bool(np.isfinite(low) and np.isfinite(high) and (low > 1 or high < 1))
