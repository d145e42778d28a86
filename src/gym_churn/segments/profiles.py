"""Who churns (marginal comparisons), segment profiles, generated portraits and declared
findings, all in the data contract's words. Pure functions.

Portraits are generated from the numbers: each segment is described by the columns whose
segment mean (or share, for a flag or a category) differs most from the whole member base,
in standard deviations. Every rate comes with its 95% confidence interval and its n.
"""

from __future__ import annotations

from math import sqrt
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract, level_text

# scipy.stats.norm.ppf(0.975), as a literal: importing scipy.stats costs every stage that
# reads this module ~0.5 s of start-up (report, drivers), for one number (tested equal).
Z95 = 1.959963984540054
LEVEL_SEP = ": "  # "contract type: month-to-month" names one category's indicator column


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson interval of a proportion (NaN when n is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    # scipy.stats.binomtest(...).proportion_ci(method="wilson")'s arithmetic, step for step
    # (Newcombe 1998), so the bounds are bit for bit scipy's (tested), without scipy.stats
    p = successes / n
    denom = 2 * (n + Z95**2)
    center = (2 * n * p + Z95**2) / denom
    delta = Z95 / denom * sqrt(4 * n * p * (1 - p) + Z95**2)
    low = 0.0 if successes == 0 else center - delta
    high = 1.0 if successes == n else center + delta
    return float(low), float(high)


def rate_ratio(a: int, n1: int, b: int, n2: int) -> tuple[float, float, float]:
    """(a/n1) / (b/n2) with its 95% CI on the log scale (Katz). NaN when undefined."""
    if min(a, b, n1, n2) <= 0:
        return float("nan"), float("nan"), float("nan")
    ratio = (a / n1) / (b / n2)
    se = np.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n2)
    return float(ratio), float(ratio * np.exp(-Z95 * se)), float(ratio * np.exp(Z95 * se))


def _rate(y: pd.Series) -> dict[str, float]:
    churned, n = int(y.sum()), len(y)
    low, high = wilson(churned, n)
    return {"n": n, "churned": churned, "churn_rate": churned / n if n else float("nan"),
            "low": low, "high": high}  # fmt: skip


def level_view(contract: Contract, column: str) -> bool:
    """Whether a column is described per value: flags, categories and integers with a few
    declared values (contract lengths)."""
    spec = contract.features.get(column)
    return spec is not None and (
        spec.kind in ("binary", "categorical") or (spec.kind == "integer" and bool(spec.allowed))
    )


def churn_by_level(members: pd.DataFrame, column: str, target: str) -> list[dict[str, Any]]:
    """Share of members, churn rate and its Wilson 95% CI for every value of `column`
    (a gap is its own level, named 'missing')."""
    values = members[column].astype(object).where(members[column].notna(), "missing")
    rows = []
    for level, y in members[target].groupby(values, sort=True):
        rows.append({"level": level, "share": len(y) / len(members), **_rate(y)})
    return rows


def profile_matrix(members: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Every raw and engineered column as numbers: categories become one 0/1 column per
    level ("column: level"), so a segment's mean of it is its share of that level."""
    parts = {}
    for col in contract.model_features:
        if contract.kind(col) == "categorical":
            for level in contract.features[col].levels:
                text = members[col].astype(object).map(level_text)
                parts[f"{col}{LEVEL_SEP}{level}"] = text.eq(level).astype(float)
        else:
            parts[col] = members[col].astype(float)
    return pd.DataFrame(parts, index=members.index)


def segment_profiles(matrix: pd.DataFrame, labels: np.ndarray, churn: pd.Series) -> pd.DataFrame:
    """One row per segment: size, share, churn rate with its 95% CI, and each column's mean
    (a share, for flags and category levels)."""
    frame = matrix.assign(segment=labels, _churn=churn.to_numpy())
    grouped = frame.groupby("segment")
    table = grouped[list(matrix.columns)].mean()
    size = grouped.size()
    churned = grouped["_churn"].sum()
    ci = [wilson(int(c), int(n)) for c, n in zip(churned, size, strict=True)]
    table.insert(0, "churn_high", [h for _, h in ci])
    table.insert(0, "churn_low", [lo for lo, _ in ci])
    table.insert(0, "churn_rate", churned / size)
    table.insert(0, "share", size / len(frame))
    table.insert(0, "size", size)
    return table.reset_index()


def standardised_differences(
    profiles: pd.DataFrame, matrix: pd.DataFrame, columns: list[str]
) -> pd.DataFrame:
    """(segment mean - base mean) / base std for each segment and column."""
    mean = matrix[columns].mean()
    std = matrix[columns].std(ddof=0).replace(0, np.nan)
    z = (profiles[columns] - mean) / std
    return z.fillna(0.0).set_index(profiles["segment"])


def parent_column(column: str, contract: Contract) -> tuple[str, str | None]:
    """(contract column, category level or None) of a profile-matrix column."""
    if column in contract.features or column in contract.engineered:
        return column, None
    parent, level = column.split(LEVEL_SEP, 1)
    return parent, level


def column_label(column: str, contract: Contract) -> str:
    """A profile-matrix column in the contract's words: its label, and the level for a
    category's share ("plan: premium")."""
    parent, level = parent_column(column, contract)
    label = contract.words(parent).label
    return label if level is None else f"{label}{LEVEL_SEP}{level}"


def _is_share(column: str, contract: Contract) -> bool:
    parent, level = parent_column(column, contract)
    return level is not None or contract.kind(parent) == "binary"


def trait_word(column: str, contract: Contract, high: bool) -> str:
    """What a segment well above (or below) the base on `column` is called."""
    parent, level = parent_column(column, contract)
    words = contract.words(parent)
    if level is not None:
        return f"{'mostly' if high else 'few'} {words.label} {level}"
    return str(words.high if high else words.low)


def trait_phrase(column: str, contract: Contract, segment_value: float, base: float) -> str:
    parent, level = parent_column(column, contract)
    words = contract.words(parent)
    if level is not None:
        return f"{segment_value:.0%} {words.label} {level} (base {base:.0%})"
    if _is_share(column, contract):
        return f"{segment_value:.0%} {words.label} (base {base:.0%})"
    unit = f" {words.unit}" if words.unit else ""
    return f"{words.label} {segment_value:.1f}{unit} (base {base:.1f})"


def portraits(
    profiles: pd.DataFrame, matrix: pd.DataFrame, contract: Contract, n_traits: int
) -> list[dict[str, Any]]:
    """Name and describe every segment by its most distinctive traits.

    Names use the two strongest traits (a third is added if two segments would share a name).
    """
    columns = [c for c in matrix.columns if c in profiles.columns]
    z = standardised_differences(profiles, matrix, columns)
    total = int(profiles["size"].sum())
    base_rate = float((profiles["churn_rate"] * profiles["size"]).sum() / total)
    ranked = {
        seg: z.loc[seg].abs().sort_values(ascending=False, kind="stable").index.tolist()
        for seg in z.index
    }

    def name_from(seg: int, n_words: int) -> str:
        words = [trait_word(col, contract, z.loc[seg, col] > 0) for col in ranked[seg][:n_words]]
        text = ", ".join(words)
        return text[0].upper() + text[1:]

    names = {seg: name_from(seg, 2) for seg in z.index}
    for seg in z.index:
        if list(names.values()).count(names[seg]) > 1:
            names[seg] = name_from(seg, 3)

    label = contract.target.label
    result = []
    for _, row in profiles.iterrows():
        seg = int(row["segment"])
        traits = [
            {
                "feature": col,
                "segment_value": float(row[col]),
                "base_value": float(matrix[col].mean()),
                "standardised_difference": float(z.loc[seg, col]),
            }
            for col in ranked[seg][:n_traits]
        ]
        relative = row["churn_rate"] / base_rate if base_rate else float("nan")
        phrases = "; ".join(
            trait_phrase(t["feature"], contract, t["segment_value"], t["base_value"])
            for t in traits
        )
        text = (
            f"{int(row['size'])} members ({row['share']:.1%} of the base); "
            f"{row['churn_rate']:.1%} {label} (95% CI {row['churn_low']:.1%} to "
            f"{row['churn_high']:.1%}), {relative:.1f}× the base rate of {base_rate:.1%}. "
            f"What sets them apart: {phrases}."
        )
        result.append(
            {
                "id": seg,
                "name": names[seg],
                "size": int(row["size"]),
                "share": float(row["share"]),
                "churn_rate": float(row["churn_rate"]),
                "churn_low": float(row["churn_low"]),
                "churn_high": float(row["churn_high"]),
                "traits": traits,
                "portrait": text,
            }
        )
    return result


BOOTSTRAP_CELLS = 4_000_000  # drawn indices held at once (32 MB): resamples go in blocks


def _bootstrap_ci(
    values: np.ndarray, statistic: Any, resamples: int, seed: int
) -> tuple[float, float]:
    """95% percentile interval of `statistic` over `resamples` seeded resamples of the rows
    of `values` (n x columns). `statistic` takes the resampled columns, each blocks x n, and
    gives one value per resample: the resamples are drawn and computed a block at a time
    (one row of indices per resample, the same draws as one resample at a time)."""
    rng = np.random.default_rng(seed)
    n = len(values)
    block = max(1, BOOTSTRAP_CELLS // max(n, 1))
    columns = [np.ascontiguousarray(values[:, j]) for j in range(values.shape[1])]
    draws = []
    for start in range(0, resamples, block):
        rows = rng.integers(0, n, (min(block, resamples - start), n))
        draws.append(statistic(*[column[rows] for column in columns]))
    low, high = np.nanpercentile(np.concatenate(draws), [2.5, 97.5])
    return float(low), float(high)


def _median_ci(values: np.ndarray) -> tuple[float, float]:
    """Distribution-free 95% CI of the median: the order statistics the binomial(n, 1/2)
    places 1.96 standard deviations either side of n/2 (normal approximation)."""
    ordered = np.sort(values)
    n = len(ordered)
    half = 1.96 * np.sqrt(n) / 2
    low, high = int(np.floor(n / 2 - half)), int(np.ceil(n / 2 + half))
    return float(ordered[max(low, 0)]), float(ordered[min(high, n - 1)])


def _change_ci(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Delta-method 95% CI of mean(b) / mean(a) - 1 for paired columns."""
    n, ma, mb = len(a), a.mean(), b.mean()
    cov = np.cov(np.vstack([a, b]))
    ratio = mb / ma
    var = (cov[1, 1] - 2 * ratio * cov[0, 1] + ratio**2 * cov[0, 0]) / (n * ma**2)
    half = 1.96 * np.sqrt(max(var, 0.0))
    return float(ratio - 1 - half), float(ratio - 1 + half)


def findings(
    members: pd.DataFrame,
    contract: Contract,
    resamples: int,
    seed: int,
    bootstrap_max_rows: int | None = None,
) -> list[dict[str, Any]]:
    """The contract's declared findings, recomputed on this export with 95% CIs and n.

    A median's or a relative change's CI is a percentile bootstrap up to
    `bootstrap_max_rows` members (its work is resamples x members); above, where the
    large-sample formulas hold, the median's order-statistic interval and the delta method."""
    bootstrap = bootstrap_max_rows is None or len(members) <= bootstrap_max_rows
    target = contract.target.column
    out = []
    for f in contract.findings:
        pool = members
        if f.among != "all":
            pool = members[members[target] == (1 if f.among == "positive" else 0)]
        if f.measure == "share":
            hit = pool.eval(f.where, engine="python").astype(bool)
            n, k = len(hit), int(hit.sum())
            value, (low, high) = k / n, wilson(k, n)
        elif f.measure == "churn_ratio":
            hit = pool.eval(f.where, engine="python").astype(bool)
            y = pool[target]
            n = len(y)
            value, low, high = rate_ratio(
                int(y[~hit].sum()), int((~hit).sum()), int(y[hit].sum()), int(hit.sum())
            )
        elif f.measure == "relative_change":
            cols = pool[[f.from_, f.to]].dropna()
            n = len(cols)

            def change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
                return b.mean(axis=-1) / a.mean(axis=-1) - 1

            a, b = cols[f.from_].to_numpy(float), cols[f.to].to_numpy(float)
            value = float(change(a, b))
            low, high = (
                _bootstrap_ci(cols.to_numpy(float), change, resamples, seed)
                if bootstrap
                else _change_ci(a, b)
            )
        else:
            col = pool[f.column].dropna()
            n = len(col)
            value = float(col.median())
            low, high = (
                _bootstrap_ci(
                    col.to_numpy(float)[:, None], lambda c: np.median(c, axis=-1), resamples, seed
                )
                if bootstrap
                else _median_ci(col.to_numpy(float))
            )
        out.append(
            {"claim": f.claim, "measure": f.measure, "value": value, "low": low, "high": high,
             "n": n}
        )  # fmt: skip
    return out
