"""Engineered features, each switchable in params.yaml (`preprocess.features`)."""

from __future__ import annotations

import pandas as pd

from gym_churn.params import Features

# Members with ~0 lifetime visits would make the ratio explode; one visit a month smooths it.
RATIO_SMOOTHING = 0.25


def add_features(members: pd.DataFrame, switches: Features) -> pd.DataFrame:
    """Return a copy of `members` with the switched-on engineered columns appended."""
    out = members.copy()
    current = members["Avg_class_frequency_current_month"]
    lifetime = members["Avg_class_frequency_total"]
    if switches.freq_change:
        # Churners' visits fall off in their last month: the drop is the strongest signal.
        out["freq_change"] = current - lifetime
    if switches.contract_months_used:
        out["contract_months_used"] = members["Contract_period"] - members["Month_to_end_contract"]
    if switches.freq_ratio:
        out["freq_ratio"] = (current + RATIO_SMOOTHING) / (lifetime + RATIO_SMOOTHING)
    return out
