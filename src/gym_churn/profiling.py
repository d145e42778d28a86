"""Churn drivers, segment profiles and generated portraits. Pure functions.

Portraits are generated from the numbers: each segment is described by the features whose
segment mean differs most from the whole member base, in standard deviations. The only
fixed text is a per-feature vocabulary (what a high or a low value is called).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.columns import BINARY_FLAGS, FEATURES


@dataclass(frozen=True)
class FeatureWords:
    label: str  # how a sentence names the feature
    unit: str  # "" for binary flags (shown as a share of members)
    high: str  # a segment well above the base
    low: str  # a segment well below the base


VOCABULARY: dict[str, FeatureWords] = {
    "gender": FeatureWords("of gender 1", "", "mostly gender 1", "mostly gender 0"),
    "Near_Location": FeatureWords("live or work nearby", "", "locals", "from farther away"),
    "Partner": FeatureWords("partner-company employees", "", "partner employees", "non-partner"),
    "Promo_friends": FeatureWords("joined via a friend", "", "friend referrals", "self-joined"),
    "Phone": FeatureWords("left a phone number", "", "reachable by phone", "no phone on file"),
    "Contract_period": FeatureWords(
        "contract length", "months", "long contracts", "monthly contracts"
    ),
    "Group_visits": FeatureWords("attend group classes", "", "group-class goers", "solo trainers"),
    "Age": FeatureWords("age", "years", "older", "younger"),
    "Avg_additional_charges_total": FeatureWords(
        "extra spend (cafe, goods, massage)", "", "big extra spenders", "low extra spend"
    ),
    "Month_to_end_contract": FeatureWords(
        "months left on contract", "months", "far from renewal", "contract ending soon"
    ),
    "Lifetime": FeatureWords("membership lifetime", "months", "long-standing", "newcomers"),
    "Avg_class_frequency_total": FeatureWords(
        "lifetime visits", "per week", "frequent visitors", "rare visitors"
    ),
    "Avg_class_frequency_current_month": FeatureWords(
        "visits last month", "per week", "active last month", "inactive last month"
    ),
}


def binary_drivers(members: pd.DataFrame, flags: list[str], target: str) -> dict[str, Any]:
    """For each 0/1 column: share with the trait, churn with and without it, and their ratio."""
    out: dict[str, Any] = {}
    for col in flags:
        with_trait = members.loc[members[col] == 1, target]
        without = members.loc[members[col] == 0, target]
        rate_with = float(with_trait.mean()) if len(with_trait) else float("nan")
        rate_without = float(without.mean()) if len(without) else float("nan")
        out[col] = {
            "kind": "binary",
            "share": float((members[col] == 1).mean()),
            "churn_rate_with": rate_with,
            "churn_rate_without": rate_without,
            "churn_ratio_without_vs_with": rate_without / rate_with if rate_with else None,
        }
    return out


def numeric_drivers(members: pd.DataFrame, columns: list[str], target: str) -> dict[str, Any]:
    """For each numeric column: its mean among churned and among retained members."""
    churned = members[members[target] == 1]
    retained = members[members[target] == 0]
    return {
        col: {
            "kind": "numeric",
            "mean_churned": float(churned[col].mean()),
            "mean_retained": float(retained[col].mean()),
        }
        for col in columns
    }


def churned_visit_drop(members: pd.DataFrame, target: str) -> float:
    """1 - mean(last month's visits/week) / mean(lifetime visits/week), among churners."""
    churned = members[members[target] == 1]
    current = churned["Avg_class_frequency_current_month"].mean()
    return float(1 - current / churned["Avg_class_frequency_total"].mean())


def segment_profiles(
    members: pd.DataFrame, labels: np.ndarray, columns: list[str], target: str
) -> pd.DataFrame:
    """One row per segment: size, share, churn rate and each column's mean (share, for flags)."""
    frame = members[[*columns, target]].assign(segment=labels)
    grouped = frame.groupby("segment")
    table = grouped[columns].mean()
    table.insert(0, "churn_rate", grouped[target].mean())
    table.insert(0, "share", grouped.size() / len(frame))
    table.insert(0, "size", grouped.size())
    return table.reset_index()


def standardised_differences(
    profiles: pd.DataFrame, members: pd.DataFrame, columns: list[str]
) -> pd.DataFrame:
    """(segment mean - base mean) / base std for each segment and column."""
    mean = members[columns].mean()
    std = members[columns].std(ddof=0).replace(0, np.nan)
    z = (profiles[columns] - mean) / std
    return z.fillna(0.0).set_index(profiles["segment"])


def _trait_phrase(col: str, segment_value: float, base_value: float) -> str:
    words = VOCABULARY[col]
    if not words.unit:
        return f"{segment_value:.0%} {words.label} (base {base_value:.0%})"
    return f"{words.label} {segment_value:.1f} {words.unit} (base {base_value:.1f})".replace(
        "  ", " "
    )


def portraits(
    profiles: pd.DataFrame, members: pd.DataFrame, target: str, n_traits: int
) -> list[dict[str, Any]]:
    """Name and describe every segment by its most distinctive traits.

    Names use the two strongest traits (a third is added if two segments would share a name).
    """
    columns = [col for col in FEATURES if col in profiles.columns]
    z = standardised_differences(profiles, members, columns)
    base_rate = float(members[target].mean())
    ranked = {
        seg: z.loc[seg].abs().sort_values(ascending=False, kind="stable").index.tolist()
        for seg in z.index
    }

    def name_from(seg: int, n_words: int) -> str:
        words = [
            VOCABULARY[col].high if z.loc[seg, col] > 0 else VOCABULARY[col].low
            for col in ranked[seg][:n_words]
        ]
        text = ", ".join(words)
        return text[0].upper() + text[1:]

    names = {seg: name_from(seg, 2) for seg in z.index}
    for seg in z.index:
        if list(names.values()).count(names[seg]) > 1:
            names[seg] = name_from(seg, 3)

    result = []
    for _, row in profiles.iterrows():
        seg = int(row["segment"])
        traits = [
            {
                "feature": col,
                "segment_value": float(row[col]),
                "base_value": float(members[col].mean()),
                "standardised_difference": float(z.loc[seg, col]),
            }
            for col in ranked[seg][:n_traits]
        ]
        relative = row["churn_rate"] / base_rate if base_rate else float("nan")
        phrases = "; ".join(
            _trait_phrase(t["feature"], t["segment_value"], t["base_value"]) for t in traits
        )
        text = (
            f"{int(row['size'])} members ({row['share']:.1%} of the base) with a churn rate of "
            f"{row['churn_rate']:.1%}, {relative:.1f}× the base rate of {base_rate:.1%}. "
            f"What sets them apart: {phrases}."
        )
        result.append(
            {
                "id": seg,
                "name": names[seg],
                "size": int(row["size"]),
                "share": float(row["share"]),
                "churn_rate": float(row["churn_rate"]),
                "traits": traits,
                "portrait": text,
            }
        )
    return result


def study_findings(
    drivers: dict[str, Any], members: pd.DataFrame, visit_drop: float, age_band: list[int]
) -> dict[str, float]:
    """The original study's claims, recomputed on this export (whatever they turn out to be)."""
    low, high = age_band
    return {
        "partner_share": drivers["Partner"]["share"],
        "partner_churn_ratio": drivers["Partner"]["churn_ratio_without_vs_with"],
        "promo_friends_churn_ratio": drivers["Promo_friends"]["churn_ratio_without_vs_with"],
        "group_visits_churn_ratio": drivers["Group_visits"]["churn_ratio_without_vs_with"],
        "churned_visit_drop": visit_drop,
        "age_band_low": low,
        "age_band_high": high,
        "age_band_share": float(members["Age"].between(low, high).mean()),
        "age_median": float(members["Age"].median()),
    }


def churn_drivers(members: pd.DataFrame, target: str) -> dict[str, Any]:
    """Binary and numeric drivers of every feature column, keyed by column name."""
    numeric = [col for col in FEATURES if col not in BINARY_FLAGS]
    return {
        **binary_drivers(members, list(BINARY_FLAGS), target),
        **numeric_drivers(members, numeric, target),
    }


def risk_deciles(proba: np.ndarray) -> np.ndarray:
    """1..10 by churn probability, 10 = the riskiest tenth; ties split by row order."""
    ranks = pd.Series(proba).rank(method="first").to_numpy()
    return np.ceil(ranks * 10 / len(ranks)).astype(int)
