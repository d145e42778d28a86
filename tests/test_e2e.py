"""End to end: the real `dvc repro` on a fresh copy of the project reproduces what is committed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from tests.e2e_helpers import (
    command_env,
    copy_project,
    git_status,
    plots_with_data,
    run,
    run_detaching,
)

pytestmark = pytest.mark.e2e

EVALUATE_KEYS = {
    "roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "brier", "log_loss", "ece",
    "top_decile_lift", "threshold", "cv_roc_auc_mean", "cv_roc_auc_std",
}  # fmt: skip


RAW = "data/raw/gym_churn.csv"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def raw_hash_before(repo_before: tuple[Path, str]) -> str:
    return repo_before[1]


@pytest.fixture(scope="module")
def repo_before(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    dest = copy_project(tmp_path_factory.mktemp("clone"))
    return dest, _sha256(dest / RAW)


@pytest.fixture(scope="module")
def repo(repo_before: tuple[Path, str]) -> Path:
    """A fresh git copy of the project on which `dvc repro --force` has run once (no DVC
    cache): every stage ran, not only those whose cached outputs the clone lacks."""
    dest = repo_before[0]
    run(["dvc", "repro", "--force"], dest)
    return dest


def test_forced_repro_reproduces_committed_lock_metrics_and_plots(repo: Path) -> None:
    # Every stage ran on a fresh clone and everything committed (dvc.lock, which holds the md5
    # of every output, model files and scored tables included; metrics, plot data, figures,
    # the report) came out byte for byte: a clean status means identical.
    assert git_status(repo) == ""


def test_second_repro_does_nothing(repo: Path) -> None:
    out = run(["dvc", "repro"], repo).stdout
    assert "Running stage" not in out
    assert run(["dvc", "status", "--quiet"], repo, check=False).returncode == 0


def test_raw_data_untouched(repo: Path, raw_hash_before: str) -> None:
    assert _sha256(repo / RAW) == raw_hash_before


def test_evaluate_metrics_present_and_sane(repo: Path) -> None:
    metrics = json.loads((repo / "metrics/evaluate.json").read_text())
    assert metrics.keys() >= EVALUATE_KEYS
    for key in ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "cv_roc_auc_mean"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["roc_auc"] > metrics["baseline_logreg_roc_auc"]


def test_dvc_plots_render(repo: Path, tmp_path: Path) -> None:
    drawn = plots_with_data(repo)
    assert len(drawn) >= 6
    run(["dvc", "plots", "show", "-o", str(tmp_path / "html")], repo)
    html = (tmp_path / "html/index.html").read_text()
    for title in drawn:
        assert title in html


def test_lock_records_raw_data_hash(repo: Path) -> None:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    deps = {d["path"]: d["md5"] for d in lock["stages"]["preprocess"]["deps"]}
    assert deps[RAW] == hashlib.md5((repo / RAW).read_bytes()).hexdigest()


def test_cluster_metrics(repo: Path) -> None:
    cluster = json.loads((repo / "metrics/cluster.json").read_text())
    assert {"k", "silhouette", "stability_ari", "clusters"} <= cluster.keys()
    rates = [c["churn_rate"] for c in cluster["clusters"]]
    assert len(rates) == cluster["k"]
    assert rates == sorted(rates)  # id 0 = lowest churn
    assert [c["id"] for c in cluster["clusters"]] == list(range(cluster["k"]))
    assert sum(c["size"] for c in cluster["clusters"]) == 4000


def test_scored_members(repo: Path) -> None:
    portraits = json.loads((repo / "reports/portraits.json").read_text())
    scored = pd.read_csv(repo / "data/scored/members_scored.csv")
    raw = pd.read_csv(repo / RAW)
    assert len(scored) == len(raw)
    assert scored["member_row"].tolist() == list(range(1, len(raw) + 1))
    assert scored["risk_decile"].between(1, 10).all()
    names = {s["id"]: s["name"] for s in portraits["portraits"]}
    assert (scored["segment"].map(names) == scored["segment_name"]).all()
    auc = roc_auc_score(raw["Churn"], scored["churn_probability"])
    # the table comes from the model that lists members: without the audit's flagged columns
    audit = json.loads((repo / "metrics/audit.json").read_text())
    assert abs(auc - audit["cv_roc_auc_without_flagged"]) < 0.01
    assert auc < audit["cv_roc_auc"] - 0.02  # not the model on every column
    # the study's claims come from the contract's findings, each with its CI and n
    visits = next(f for f in portraits["findings"] if f["measure"] == "relative_change")
    assert -1 < visits["low"] <= visits["value"] <= visits["high"] < 0


# ---------------------------------------------------------------- what a statistician checks


def test_drivers_survive_adjustment(repo: Path) -> None:
    drivers = pd.read_csv(repo / "reports/drivers.csv").set_index("feature")
    assert list(drivers.columns[:7]) == [
        "marginal_ratio", "marginal_low", "marginal_high",
        "adjusted_ratio", "adjusted_low", "adjusted_high", "label",
    ]  # fmt: skip
    assert len(drivers) == 13  # one row per raw feature
    partner, group = drivers.loc["Partner"], drivers.loc["Group_visits"]
    assert partner["marginal_ratio"] > 1.5  # members as they are...
    assert partner["adjusted_low"] <= 1 or partner["adjusted_ratio"] < 1.15  # ...not after
    assert not partner["lever_evidence"]
    assert group["adjusted_ratio"] > 1.2
    # group classes and referral hold after Holm's correction over the levers tested, and
    # their family-wise (Bonferroni) intervals exclude 1
    for lever in ("Group_visits", "Promo_friends"):
        row = drivers.loc[lever]
        assert row["lever_evidence"], lever
        assert row["p_holm"] < 0.05, lever
        assert row["familywise_low"] > 1, lever
        assert row["familywise_low"] < row["adjusted_low"], lever
    # contract length and months left are tied (months used = one minus the other): each is
    # estimated without the other, and the table says so; or it is not estimated at all
    for col, other in (("Contract_period", "Month_to_end_contract"),
                       ("Month_to_end_contract", "Contract_period")):  # fmt: skip
        row = drivers.loc[col]
        assert other not in str(row["adjusted_for"]).split(" + "), col
        assert row["not_adjusted_for"] == other or row["separated_from"] == other, col
    # the flagged visit columns: no ratio, and no adjusted ratio is adjusted for them
    visits = drivers.loc[["Avg_class_frequency_total", "Avg_class_frequency_current_month"]]
    assert (visits["status"] == "not estimated: behaves like the outcome").all()
    assert visits[["marginal_ratio", "adjusted_ratio"]].isna().all().all()
    for name in visits.index:
        assert not drivers["adjusted_for"].fillna("").str.contains(name).any(), name
    # one contrast per row: the sides' sizes are the same for both columns; every estimate
    # is on all 4,000 members (a flag's sides cover everyone)
    assert (drivers.loc[["Partner", "Group_visits"], ["n_low", "n_high"]].sum(axis=1) == 4000).all()
    # the two visit columns and the feature made from them are one reliance group
    assert visits["reliance_group"].iloc[0] == visits["reliance_group"].iloc[1]


def test_audit_flags_the_visit_change_and_states_cv_without(repo: Path) -> None:
    audit = json.loads((repo / "metrics/audit.json").read_text())
    assert "Avg_class_frequency_current_month" in audit["flagged_features"]
    assert [d["feature"] for d in audit["flagged_detail"]] == ["freq_change"]
    assert 0.9 < audit["cv_roc_auc_without_flagged"] < audit["cv_roc_auc"]
    assert audit["anomaly_rows"] == 137  # lifetime shorter than the months used
    report = (repo / "reports/report.md").read_text()
    assert f"{audit['cv_roc_auc_without_flagged']:.3f}" in report


def test_tenure_table_matches_the_raw_data_and_leads_the_report(repo: Path) -> None:
    raw = pd.read_csv(repo / RAW)
    tenure = pd.read_csv(repo / "plots/drivers/tenure.csv").set_index("tenure")
    expected = raw.groupby("Lifetime")["Churn"].mean()
    assert tenure["churn_rate"].round(3).to_dict() == expected.round(3).to_dict()
    assert round(tenure.loc[0, "churn_rate"], 3) == 0.828
    assert round(tenure.loc[1, "churn_rate"], 3) == 0.491
    report = (repo / "reports/report.md").read_text()
    summary = report.split("## In short")[1].split("\n## ")[0]
    assert "**Look after new members in their first 2 months.**" in summary
    when = report.split("## When members leave")[1].split("\n## ")[0]
    assert when.lstrip().startswith("**Most who leave do so early.**")


def test_rule_segments_tell_more_about_churn_than_kmeans(repo: Path) -> None:
    profile = json.loads((repo / "metrics/profile.json").read_text())
    assert profile["rule_nmi_with_churn"] >= 1.8 * profile["kmeans_nmi_with_churn"]
    rules = pd.read_csv(repo / "reports/rule_segments.csv")
    assert rules["members"].sum() == 4000
    assert "Avg_class_frequency" not in " ".join(rules["rule"])  # flagged columns left out


def test_report_recommends_levers_with_evidence_only(repo: Path) -> None:
    report = (repo / "reports/report.md").read_text()
    summary = report.split("## In short")[1].split("\n## ")[0]
    assert "Test moving members from monthly contracts" in summary
    links = report.split("## What goes with leaving")[1].split("\n## ")[0]
    assert "Partner-company employees: no clear difference" in links
    fixed = next(line for line in links.splitlines() if "never a target for a change" in line)
    assert "live or work nearby" in fixed
    assert "**Solo trainers** leave 1.3× as often as group-class goers: a change to test" in links
    # survives the family-wise correction too, but no one already there can change it
    assert "**Self-joined** leave 1.1× as often as friend referrals" in links
    assert "use it when recruiting" in links
    assert "Holm's correction over 4 levers" in report.split("## For data scientists")[1]
    assert "Target segment" not in report
    assert "held-out" in report


def test_report_generated_with_existing_figures(repo: Path) -> None:
    report = (repo / "reports/report.md").read_text()
    portraits = json.loads((repo / "reports/portraits.json").read_text())
    for seg in portraits["portraits"]:
        assert seg["name"] in report
        assert f"{seg['churn_rate']:.1%}" in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(images) >= 8
    for image in images:
        assert (repo / "reports" / image).resolve().is_file(), image
    assert not re.search(r"\bnan\b", report, re.IGNORECASE)


# ---------------------------------------------------------------- experiments

STAGE_RAN = re.compile(r"Running stage '(\w+)'")


@pytest.fixture(scope="module")
def temp_experiment(repo: Path) -> str:
    """A cluster experiment run with --temp; returns dvc's output."""
    return run(["dvc", "exp", "run", "--temp", "-S", "cluster.k=4"], repo).stdout


def test_cluster_param_reruns_exactly_cluster_and_profile(repo: Path, temp_experiment: str) -> None:
    # train and evaluate do not run again (score and campaign do: the per-member table
    # carries the segments, and score writes the new assigner's runtime form into the bundle)
    ran = set(STAGE_RAN.findall(temp_experiment))
    assert ran == {"cluster", "profile", "score", "campaign", "report"}
    assert git_status(repo) == ""  # --temp leaves the workspace alone


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.modle=logreg", "train.modle"),  # dvc refuses keys that do not exist
        ("+train.modle=logreg", "train.modle: unknown key (misspelled?)"),
        ("train.model=xgboost", "'auto', 'logreg', 'random_forest' or 'hist_gradient_boosting'"),
        # a value out of range (split.test_size=1.5) takes the same path as xgboost's; its
        # message is tested in tests/test_params.py without dvc
    ],
)
def test_bad_param_fails_with_clear_message(repo: Path, override: str, message: str) -> None:
    out = run(["dvc", "exp", "run", "--temp", "-S", override], repo, check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert message in text
    if not override.startswith("train.modle"):  # that one is dvc's own refusal, not ours
        assert text.count(message) == 1  # printed once
    assert "Traceback" not in out.stdout + out.stderr


def test_unknown_params_section_stops_the_run(repo: Path) -> None:
    params = repo / "params.yaml"
    before = params.read_text()
    try:
        params.write_text(before + "profil:\n  portrait_traits: 5\n")
        out = run(["dvc", "repro"], repo, check=False)
    finally:
        params.write_text(before)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert text.count("profil: unknown section (misspelled?)") == 1
    assert "the sections are base, split, train, evaluate, audit, drivers, cluster, profile" in text
    assert git_status(repo) == ""  # nothing deleted or changed by the failed run


def test_failed_run_keeps_committed_outputs(repo: Path) -> None:
    raw = repo / RAW
    before = raw.read_bytes()
    try:
        lines = before.decode().splitlines()
        header = lines[0].split(",")
        row = lines[1].split(",")
        row[header.index("Age")] = "abc"  # a text value in one column
        row[header.index("Contract_period")] = "3"  # an out-of-range value in another
        raw.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
        out = run(["dvc", "repro"], repo, check=False)
    finally:
        raw.write_bytes(before)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert text.count("column 'Age': rule number fails in 1 row(s); first lines 2") == 1
    assert text.count("column 'Contract_period': rule isin") == 1
    # dvc removes a stage's outputs before running it; persist keeps the committed ones
    deleted = [line for line in git_status(repo).splitlines() if "D" in line[:2]]
    assert deleted == []
    assert run(["dvc", "repro"], repo).returncode == 0
    assert git_status(repo) == ""


def _experiments(repo: Path) -> list[dict]:
    """Experiments as `dvc exp show --json` reports them: name, params and metrics."""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    out = []
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs", []):
                data = rev.get("data") or {}
                out.append(
                    {
                        "name": rev.get("name"),
                        "params": data.get("params", {}).get("params.yaml", {}).get("data", {}),
                        "metrics": {
                            path: m.get("data") for path, m in data.get("metrics", {}).items()
                        },
                    }
                )
    return out


def test_parallel_queue_matches_sequential_run(
    repo: Path, temp_experiment: str, tmp_path: Path
) -> None:
    run(["dvc", "exp", "run", "--queue", "-S", "cluster.k=4,6"], repo)
    # No thread variable set by hand: the stages bound their own native thread pools.
    # The queue workers are detached; one was seen to hang in its shutdown after both
    # experiments had finished (dvc-task), so the run must not wait on their output.
    run_detaching(
        ["dvc", "exp", "run", "--run-all", "-j", "2"],
        repo,
        tmp_path / "queue.log",
        unset=("OMP_", "OPENBLAS_NUM", "MKL_", "GYM_CHURN_THREADS"),
    )
    exps = _experiments(repo)
    by_k: dict[int, list[dict]] = {}
    for exp in exps:
        by_k.setdefault(exp["params"]["cluster"]["k"], []).append(exp["metrics"])
    assert sorted(by_k) == [4, 6], exps
    # k=4 ran twice: once alone with --temp, once in parallel with k=6; same numbers.
    assert len(by_k[4]) == 2, exps
    assert by_k[4][0] == by_k[4][1]
    assert by_k[4][0]["metrics/cluster.json"] != by_k[6][0]["metrics/cluster.json"]
    table = run(["dvc", "exp", "show", "--only-changed", "--csv"], repo).stdout
    assert "cluster.k" in table
    assert git_status(repo) == ""


# ---------------------------------------------------------------- nothing lost, deterministic


def test_stage_killed_mid_run_recovers_with_the_same_results(repo: Path) -> None:
    proc = subprocess.Popen(
        ["dvc", "repro", "--force", "--single-item", "cluster"],
        cwd=repo,
        env=command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the kill takes the stage with it
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Running stage 'cluster'" in line:
            break
    # the stage is starting or fitting (it takes 2-5 s here, less when the stage server
    # runs it): kill it in the middle
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    out = run(["dvc", "repro"], repo).stdout
    assert "Running stage 'cluster'" in out
    assert git_status(repo) == ""  # same bytes as before the kill
