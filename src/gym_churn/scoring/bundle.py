"""What the model bundle holds besides the model: the reasons' background members, the lever
options, the training base's distributions for the drift check, and the scoring settings.
Pure: the score stage writes it as models/scoring.json."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.scoring.drift import reference
from gym_churn.scoring.reasons import base_words, lever_options


def scoring_bundle(
    train: pd.DataFrame, contract: Contract, settings: Any, seed: int
) -> dict[str, Any]:
    """JSON-ready scoring settings from the training split. `settings` is params' scoring
    section (reasons, min_reason_points, background_rows, drift_bins, drift_psi)."""
    n = min(settings.background_rows, len(train))
    background = train.sample(n=n, random_state=seed)[contract.raw_features]
    return {
        "reasons": settings.reasons,
        "min_reason_points": settings.min_reason_points,
        "drift_psi": settings.drift_psi,
        "background": _records(background),
        "lever_options": lever_options(train, contract),
        # what reasons compare a member with, in words, over every training member (the
        # report quotes the same shares), not over the background sample
        "base": base_words(train, contract),
        "reference": reference(train, contract, settings.drift_bins),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # gaps as None (JSON null), categories as their text
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict(orient="records")
