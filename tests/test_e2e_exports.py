"""End to end on other businesses' exports: `gym-churn init`, then the real `dvc repro`, with
no code change, then scoring a new month from a copy of the models folder alone."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.e2e_helpers import copy_project, git_status, lighten, load_bench, run

pytestmark = pytest.mark.e2e

# Words only the bundled gym export's contract and the original study use.
GYM_WORDS = ("Partner", "Promo_friends", "Lifetime", "visits", "partner", "friend", "gym")


def _exports():
    return load_bench("exports")


@pytest.fixture(scope="module")
def telco_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A subscription business that is not a gym: 50-level region, text contract type, Yes/No
    flag, blanks, a date and free text, True/False labels with churn the majority, an ID."""
    repo = copy_project(tmp_path_factory.mktemp("telco"))
    export = _exports().telco(rows=1000, seed=3)
    export.to_csv(repo / "data" / "raw" / "telco.csv", index=False)
    out = run(
        ["gym-churn", "init", "--data", "data/raw/telco.csv", "--target", "churned",
         "--positive", "True", "--id", "customer_id"],
        repo,
    )  # fmt: skip
    assert "signup_date" in out.stdout
    assert "notes" in out.stdout
    lighten(repo / "params.yaml")
    run(["dvc", "repro"], repo)
    return repo


def test_init_drafts_the_contract_and_points_the_pipeline(telco_repo: Path) -> None:
    contract = yaml.safe_load((telco_repo / "data/contracts/telco.yaml").read_text())
    assert contract["target"] == {"column": "churned", "positive": [True], "negative": [False]}
    assert contract["id"] == "customer_id"
    assert contract["features"]["region"]["kind"] == "categorical"
    assert len(contract["features"]["region"]["values"]) == 50
    assert contract["features"]["senior"]["kind"] == "binary"
    assert contract["features"]["data_gb"]["missing"] == "keep"
    assert {"signup_date", "notes"} <= contract["ignore"].keys()
    paths = yaml.safe_load((telco_repo / "dvc.yaml").read_text())["vars"][0]["paths"]
    assert paths["raw"] == "data/raw/telco.csv"
    assert paths["contract"] == "data/contracts/telco.yaml"


def test_per_member_outputs_carry_the_id(telco_repo: Path) -> None:
    raw = pd.read_csv(telco_repo / "data/raw/telco.csv")
    scored = pd.read_csv(telco_repo / "data/scored/members_scored.csv")
    assert scored.columns[0] == "customer_id"
    assert sorted(scored["customer_id"]) == sorted(raw["customer_id"])
    segments = pd.read_csv(telco_repo / "data/clusters/segments.csv")
    assert segments.columns[0] == "customer_id"


def test_report_speaks_the_exports_words_not_the_gyms(telco_repo: Path) -> None:
    report = (telco_repo / "reports/report.md").read_text()
    assert "region" in report
    assert "contract_type" in report
    for word in GYM_WORDS:
        assert word not in report, word
    assert "Findings declared" not in report  # none declared for this export
    assert not re.search(r"\bnan\b", report, re.IGNORECASE)


def test_auto_choice_is_recorded(telco_repo: Path) -> None:
    summary = json.loads((telco_repo / "models/train_summary.json").read_text())
    # every train.auto candidate of params.yaml was compared (one entry each)
    auto = yaml.safe_load((telco_repo / "params.yaml").read_text())["train"]["auto"]
    scores = {json.dumps(c, sort_keys=True): c for c in summary["candidates"]}
    assert len(scores) == len(summary["candidates"]) == len(auto)
    best = max(summary["candidates"], key=lambda c: c["cv_roc_auc_mean"])
    assert summary["model"] == best["model"]
    # the comparison's figure is the model on every column's; the listing model (the top
    # level) has its own, without the columns the audit flagged
    assert summary["all_columns"]["cv_roc_auc_mean"] == pytest.approx(best["cv_roc_auc_mean"])
    if not summary["excluded_features"]:
        assert summary["cv_roc_auc_mean"] == pytest.approx(best["cv_roc_auc_mean"])


def test_repro_leaves_only_the_new_export_and_contract_untracked(telco_repo: Path) -> None:
    status = git_status(telco_repo).splitlines()
    untracked = {line[3:] for line in status if line.startswith("??")}
    assert untracked == {"data/raw/telco.csv", "data/contracts/telco.yaml"}
    assert run(["dvc", "status"], telco_repo).stdout.strip().endswith("up to date.")


def test_scoring_from_the_models_folder_alone(telco_repo: Path, tmp_path: Path) -> None:
    models = tmp_path / "bundle"
    shutil.copytree(telco_repo / "models", models)
    new_month = _exports().telco(rows=300, seed=11).drop(columns=["churned"])
    new_month.loc[0, "region"] = "Atlantis"  # a level the model never saw
    new_month.to_csv(tmp_path / "new_month.csv", index=False)
    out = run(
        ["gym-churn", "score", "--model", "bundle", "--input", "new_month.csv",
         "--output", "scored.csv"],
        tmp_path,
    )  # fmt: skip
    assert "never saw" in out.stderr
    assert "Atlantis" in out.stderr
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert scored["customer_id"].tolist() == new_month["customer_id"].tolist()
    assert scored["churn_probability"].between(0, 1).all()
