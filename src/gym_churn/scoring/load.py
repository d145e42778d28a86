"""Load the model bundle (the models folder) into a Scorer: all scoring needs, with no
checkout and no params.yaml."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract, parse_contract
from gym_churn.io import load_model, read_arrays, read_json
from gym_churn.models.runtime import from_arrays
from gym_churn.scoring.scorer import Scorer


def _background(records: list[dict], contract: Contract) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=contract.raw_features)
    numbers = [c for c in contract.raw_features if c not in contract.categorical]
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in numbers})


def _folder(model_path: str) -> Path:
    folder = Path(model_path)
    return folder.parent if folder.is_file() else folder


def bundle_contract(model_path: str) -> Contract:
    """The data contract the bundle's model was trained on."""
    source = _folder(model_path) / "train_summary.json"
    return parse_contract(read_json(source)["contract"], source=str(source))


def load_scorer(model_path: str) -> Scorer:
    """Everything scoring needs, from the models folder alone. The models' runtime forms
    (runtime.npz) when the bundle has them: scoring then never imports scikit-learn; the
    skops files otherwise."""
    folder = _folder(model_path)
    summary = read_json(folder / "train_summary.json")
    names = read_json(folder / "segment_names.json")
    settings = read_json(folder / "scoring.json")
    contract = parse_contract(summary["contract"], source=str(folder / "train_summary.json"))
    model = assigner = None
    if (folder / "runtime.npz").is_file():
        model, assigner = from_arrays(read_arrays(folder / "runtime.npz"))
    return Scorer(
        model=model if model is not None else load_model(folder / "model.skops"),
        threshold=summary["threshold"],
        decile_edges=np.asarray(summary["risk_decile_edges"]),
        assigner=assigner if assigner is not None else load_model(folder / "segments.skops"),
        segment_names={int(k): v for k, v in names.items()},
        contract=contract,
        background=_background(settings["background"], contract),
        lever_options=settings["lever_options"],
        reference=settings["reference"],
        n_reasons=settings["reasons"],
        min_points=settings["min_reason_points"],
        drift_psi=settings["drift_psi"],
        excluded=tuple(summary.get("excluded_features", [])),
        base=settings.get("base"),
    )
