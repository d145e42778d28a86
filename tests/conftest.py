"""Shared, small, in-memory fixtures for the unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gym_churn.columns import FEATURES
from gym_churn.io import load_params
from gym_churn.params import Params

PARAMS_PATH = Path(__file__).parents[1] / "params.yaml"
TARGET = "Churn"
N_MEMBERS = 40


def make_members(n: int = N_MEMBERS, seed: int = 0) -> pd.DataFrame:
    """`n` members that satisfy the data contract of params.yaml, churners every 4th row."""
    rng = np.random.default_rng(seed)
    contract = rng.choice([1, 6, 12], size=n)
    lifetime_freq = rng.uniform(0.0, 4.0, size=n)
    frame = pd.DataFrame(
        {
            "gender": rng.integers(0, 2, size=n),
            "Near_Location": rng.integers(0, 2, size=n),
            "Partner": rng.integers(0, 2, size=n),
            "Promo_friends": rng.integers(0, 2, size=n),
            "Phone": rng.integers(0, 2, size=n),
            "Contract_period": contract,
            "Group_visits": rng.integers(0, 2, size=n),
            "Age": rng.integers(18, 60, size=n),
            "Avg_additional_charges_total": rng.uniform(0.0, 400.0, size=n),
            # whole months left, at least 1 and never more than the contract
            "Month_to_end_contract": np.floor(rng.uniform(0, 1, size=n) * contract) + 1.0,
            "Lifetime": rng.integers(0, 24, size=n),
            "Avg_class_frequency_total": lifetime_freq,
            "Avg_class_frequency_current_month": np.clip(
                lifetime_freq + rng.normal(0.0, 0.5, size=n), 0.0, None
            ),
            TARGET: (np.arange(n) % 4 == 0).astype(int),
        }
    )
    assert list(frame.columns) == [*FEATURES, TARGET]
    return frame


@pytest.fixture(scope="session")
def params() -> Params:
    """The project's real params.yaml, parsed and validated."""
    return load_params(PARAMS_PATH)


@pytest.fixture
def valid_members() -> pd.DataFrame:
    """A fresh copy per test: 40 valid members with the 13 features and the target."""
    return make_members()


@pytest.fixture
def schema_kwargs() -> dict[str, Any]:
    """Keyword arguments of validate_members, fixed here so the tests do not move with
    params.yaml (make_members stays inside these bounds)."""
    return {
        "target": TARGET,
        "contract_periods": [1, 6, 12],
        "age_min": 14,
        "age_max": 100,
        "source": "exports/members.csv",
    }


@pytest.fixture(autouse=True, scope="session")
def _single_threaded():
    """Tiny fits are dominated by thread start-up: OpenMP/BLAS pools of 1 keep them fast and
    steady on a loaded CI machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
