"""The `gym-churn` command: `init` drafts a contract and points dvc.yaml at the export
(gym_churn.commands)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gym_churn import commands
from gym_churn.contract.draft import draft_contract
from gym_churn.errors import ContractError
from gym_churn.io import load_contract, write_table
from tests.conftest import OTHER_CONTRACT, make_other

PROJECT = Path(__file__).parents[1]
PROJECT_DVC_YAML = PROJECT / "dvc.yaml"
DATA = "data/raw/other.csv"
CONTRACT = "data/contracts/other.yaml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a copy of dvc.yaml and the other export, as the working dir."""
    (tmp_path / "dvc.yaml").write_bytes(PROJECT_DVC_YAML.read_bytes())
    write_table(make_other(), tmp_path / DATA)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _init(*extra: str, data: str = DATA, target: str = "left") -> int:
    return commands.main(["init", "--data", data, "--target", target, *extra])


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _paths(dvc_yaml: Path) -> dict[str, str]:
    return yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["vars"][0]["paths"]


def test_init_writes_the_contract_and_points_dvc_yaml_at_it(project, capsys):
    before = (project / "dvc.yaml").read_bytes()

    assert _init("--id", "customer_id") == 0

    contract = load_contract(project / CONTRACT)
    assert contract.id == "customer_id"
    assert contract.target.positive == ["Yes"]
    assert contract.raw_features == ["plan", "region", "senior", "fee", "tenure_months", "calls"]
    text = (project / CONTRACT).read_text(encoding="utf-8")
    assert text.startswith(f"# Data contract drafted by `gym-churn init` from {DATA}.")
    draft = draft_contract(make_other(), target="left", id_column="customer_id", name="other")
    assert yaml.safe_load(text) == draft.contract

    assert _paths(project / "dvc.yaml")["raw"] == DATA
    assert _paths(project / "dvc.yaml")["contract"] == CONTRACT
    old, new = before.decode().splitlines(True), (project / "dvc.yaml").read_text().splitlines(True)
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert changed[:2] == [
        ("      raw: data/raw/gym_churn.csv\n", f"      raw: {DATA}\n"),
        ("      contract: data/contracts/gym_churn.yaml\n", f"      contract: {CONTRACT}\n"),
    ]
    # the stages spell the two paths out: each line that names them now names the new ones
    for a, b in changed[2:]:
        assert b == a.replace("data/raw/gym_churn.csv", DATA).replace(
            "data/contracts/gym_churn.yaml", CONTRACT
        )

    out = capsys.readouterr().out
    assert f"Wrote {CONTRACT} and pointed dvc.yaml at {DATA}." in out
    assert "60 rows; target 'left'" in out
    assert "member key: customer_id" in out
    assert "left out: signup_date (a date" in out
    assert "note: fee: 6 blank cell(s)" in out
    # the population's words are drafted from the file name and asked for in the review list
    assert contract.population.many == "customers"
    assert "population: the report calls one row a 'customer', several 'customers'" in out
    assert "club" not in out
    assert out.rstrip().endswith("Then: dvc repro")


def test_without_an_id_the_row_number_is_the_key(project, capsys):
    assert _init() == 0

    assert load_contract(project / CONTRACT).id is None
    # named after the population drafted from the file name: "customer_row", not "member_row"
    assert "member key: customer_row (row number; pass --id COLUMN" in capsys.readouterr().out


def test_positive_contract_and_dvc_yaml_options(project):
    other = project / "pipelines" / "dvc.yaml"
    other.parent.mkdir()
    other.write_bytes(PROJECT_DVC_YAML.read_bytes())

    code = _init("--positive", "no", "--contract", "my/contract.yaml", "--dvc-yaml", str(other))

    assert code == 0
    assert load_contract(project / "my/contract.yaml").target.positive == ["No"]
    assert _paths(other)["contract"] == "my/contract.yaml"
    assert (project / "dvc.yaml").read_bytes() == PROJECT_DVC_YAML.read_bytes()
    assert not (project / CONTRACT).exists()


def test_existing_contract_is_kept_without_force(project, caplog):
    assert _init() == 0
    first = (project / CONTRACT).read_bytes()
    pointed = (project / "dvc.yaml").read_bytes()

    assert _init("--id", "customer_id") == 1

    (message,) = _errors(caplog)
    assert f"{CONTRACT}: exists; pass --force to replace it" in message
    assert (project / CONTRACT).read_bytes() == first
    assert (project / "dvc.yaml").read_bytes() == pointed

    assert _init("--id", "customer_id", "--force") == 0
    assert load_contract(project / CONTRACT).id == "customer_id"


@pytest.mark.parametrize(
    ("target", "extra", "expected"),
    [
        pytest.param("churned", [], "column(s) churned not in the export", id="unknown-target"),
        pytest.param("plan", [], "target 'plan' must have exactly two values, found 3",
                     id="three-values"),
        pytest.param("tier", [], "cannot tell which value of 'tier' means churned",
                     id="ambiguous"),
        pytest.param("left", ["--positive", "maybe"], "--positive 'maybe' is not a value",
                     id="positive-not-a-value"),
        pytest.param("left", ["--id", "plan"], "--id 'plan': values repeat", id="bad-id"),
    ],
)  # fmt: skip
def test_bad_target_fails_with_a_clear_message_and_writes_nothing(
    project, caplog, target, extra, expected
):
    frame = make_other()
    write_table(frame.assign(tier=["gold", "silver"] * (len(frame) // 2)), project / DATA)

    assert _init(*extra, target=target) == 1

    (message,) = _errors(caplog)
    assert expected in message
    assert "Traceback" not in caplog.text
    assert not (project / "data/contracts").exists()
    assert (project / "dvc.yaml").read_bytes() == PROJECT_DVC_YAML.read_bytes()


def test_missing_export_fails_clearly(project, caplog):
    assert _init(data="data/raw/nope.csv") == 1

    (message,) = _errors(caplog)
    assert "data/raw/nope.csv: file not found" in message


@pytest.mark.parametrize("id_column", [None, "customer_id"], ids=["rows", "id"])
def test_repeated_members_do_not_stop_init_the_contract_names_the_key(
    project, capsys, caplog, id_column
):
    from gym_churn.stages import preprocess

    frame = make_other()
    write_table(frame.iloc[[*range(len(frame)), 3, 7]], project / DATA)  # two repeats
    extra = ("--id", id_column) if id_column else ()

    assert _init(*extra) == commands.EXIT_FINDINGS == 3

    out = capsys.readouterr().out
    assert f"Wrote {CONTRACT} and pointed dvc.yaml at {DATA}." in out
    assert _paths(project / "dvc.yaml") == {**_paths(project / "dvc.yaml"), "raw": DATA}
    finding = next(line for line in out.splitlines() if "no_duplicate_members" in line)
    assert "fails in 2 row(s); first lines 62, 63" in finding
    assert "`duplicates: drop`" in finding
    assert _errors(caplog) == []  # a finding, not a failure
    contract = (project / CONTRACT).read_text(encoding="utf-8")
    assert "duplicates: error" in contract

    # the edit the finding names; then the pipeline's first stage runs on the export
    (project / CONTRACT).write_text(contract.replace("duplicates: error", "duplicates: drop"))
    metrics = project / "preprocess.json"
    code = preprocess.main(["--raw", DATA, "--contract", CONTRACT,
                            "--output", "members.csv", "--to-score", "to_score.csv",
                            "--metrics", str(metrics)])  # fmt: skip
    assert code == 0
    assert yaml.safe_load(metrics.read_text())["rows_dropped_duplicates"] == 2
    assert len(pd.read_csv(project / "members.csv")) == len(frame)


def test_every_finding_is_reported_with_its_key_in_one_run(project, capsys):
    frame = make_other().astype({"customer_id": object})
    frame.loc[5, "customer_id"] = None  # a blank ID: no contract key accepts it
    write_table(frame.iloc[[*range(len(frame)), 3]], project / DATA)

    assert _init("--id", "customer_id") == commands.EXIT_FINDINGS

    out = capsys.readouterr().out
    findings = [line for line in out.splitlines() if "fails in" in line]
    assert len(findings) == 2
    assert "no_duplicate_members" in findings[0]
    assert "duplicates: drop" in findings[0]
    assert "not_missing" in findings[1]
    assert "fill in the IDs" in findings[1]
    assert load_contract(project / CONTRACT).id == "customer_id"


def test_init_help_documents_the_exit_status_of_findings(capsys):
    with pytest.raises(SystemExit):
        commands.main(["init", "--help"])

    assert "3 written, but the export breaks the draft" in " ".join(capsys.readouterr().out.split())


def test_dvc_yaml_without_paths_fails_before_writing(project, caplog):
    (project / "dvc.yaml").write_text("stages: {}\n")

    assert _init() == 1

    assert "dvc.yaml: no `raw:` entry under vars.paths" in _errors(caplog)[0]
    assert not (project / CONTRACT).exists()


def test_score_is_forwarded_to_the_scorer(monkeypatch):
    import gym_churn.scoring.cli as scoring_cli

    seen = []
    monkeypatch.setattr(scoring_cli, "main", lambda argv: seen.append(argv) or 7)

    assert commands.main(["score", "--model", "m", "--input", "i.csv"]) == 7
    assert seen == [["--model", "m", "--input", "i.csv"]]


# ---------------------------------------------------------------- repoint_pipeline

PIPELINE = """\
# the pipeline; raw: and contract: in this comment are not keys
vars:
  - paths:
      params: params.yaml
      raw: data/raw/gym_churn.csv
      contract:   data/contracts/gym_churn.yaml
      raw_copy: data/raw/copy.csv
stages:
  preprocess:
    cmd: python -m x --contract data/contracts/gym_churn.yaml --raw data/raw/gym_churn.csv
    deps:
      - data/raw/gym_churn.csv
      - data/raw/gym_churn.csv.bak
      - data/contracts/gym_churn.yaml
"""


def test_repoint_pipeline_changes_only_the_two_values():
    out = commands.repoint_pipeline(PIPELINE, "exports/a b.csv", "data/contracts/a b.yaml")

    # the vars entries and every whole path the stages spell out; not a longer path
    expected = (
        PIPELINE.replace("data/raw/gym_churn.csv\n", "exports/a b.csv\n")
        .replace("data/raw/gym_churn.csv\n", "exports/a b.csv\n")
        .replace("--raw data/raw/gym_churn.csv", "--raw exports/a b.csv")
        .replace("data/contracts/gym_churn.yaml", "data/contracts/a b.yaml")
    )  # fmt: skip
    assert out == expected
    assert "data/raw/gym_churn.csv.bak" in out
    paths = yaml.safe_load(out)["vars"][0]["paths"]
    assert paths["raw"] == "exports/a b.csv"
    assert paths["raw_copy"] == "data/raw/copy.csv"


def test_repoint_pipeline_is_idempotent():
    once = commands.repoint_pipeline(PIPELINE, "x.csv", "x.yaml")

    assert commands.repoint_pipeline(once, "x.csv", "x.yaml") == once
    assert commands.repoint_pipeline(once, "data/raw/gym_churn.csv",
                                     "data/contracts/gym_churn.yaml") == PIPELINE  # fmt: skip


def test_repoint_the_project_pipeline_keeps_every_other_byte():
    text = PROJECT_DVC_YAML.read_text(encoding="utf-8")

    out = commands.repoint_pipeline(text, "data/raw/x.csv", "data/contracts/x.yaml")

    assert "data/raw/gym_churn.csv" not in out
    assert "data/contracts/gym_churn.yaml" not in out
    assert (
        out.replace("data/raw/x.csv", "data/raw/gym_churn.csv").replace(
            "data/contracts/x.yaml", "data/contracts/gym_churn.yaml"
        )
        == text
    )


@pytest.mark.parametrize("key", ["raw", "contract"])
def test_repoint_pipeline_without_the_key_is_refused(key):
    text = PIPELINE.replace(f"      {key}:", f"      {key}_old:")

    with pytest.raises(ContractError, match=f"no `{key}:` entry"):
        commands.repoint_pipeline(text, "x.csv", "x.yaml")


# ---------------------------------------------------------------- uplift


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A model bundle's contract is all `uplift` reads from it."""
    from gym_churn.contract.spec import contract_to_dict, parse_contract
    from gym_churn.io import write_json

    folder = tmp_path / "models"
    contract = parse_contract(OTHER_CONTRACT, source="other.yaml")
    write_json({"contract": contract_to_dict(contract)}, folder / "train_summary.json")
    return folder


def _uplift_args(folder: Path, bundle: Path) -> list[str]:
    return ["uplift", "--campaign", str(folder / "campaign.csv"),
            "--outcomes", str(folder / "next.csv"), "--model", str(bundle)]  # fmt: skip


def test_uplift_reads_contacted_against_held_out_churn(tmp_path, bundle, capsys):
    from gym_churn.scoring.campaign import uplift

    outcomes = make_other(400, seed=2)
    listed = (
        outcomes[["customer_id"]]
        .head(300)
        .assign(group=["holdout" if i % 5 == 0 else "contact" for i in range(300)])
    )
    write_table(listed, tmp_path / "campaign.csv")
    # 20 listed members are missing from next month's file: counted, not guessed
    write_table(outcomes.iloc[20:], tmp_path / "next.csv")
    assert commands.main(_uplift_args(tmp_path, bundle)) == 0
    out = capsys.readouterr().out
    found = listed.iloc[20:].merge(outcomes, on="customer_id")
    left = found["left"].eq("Yes")
    held, contact = left[found["group"] == "holdout"], left[found["group"] == "contact"]
    expected = uplift(int(contact.sum()), len(contact), int(held.sum()), len(held))
    assert f"{len(held)} held-out members: {expected['held_out_churn']:.1%} churned" in out
    assert f"{len(contact)} contacted members: {expected['contacted_churn']:.1%} churned" in out
    assert (
        f"difference: {expected['kept_points']:.1f} percentage points kept by the offer "
        f"(95% CI {expected['kept_points_low']:.1f} to {expected['kept_points_high']:.1f})"
    ) in out
    assert "20 listed members are not in the outcomes file" in out


def test_uplift_states_the_implied_success_rate_and_refuses_a_replay(
    tmp_path, bundle, capsys, caplog
):
    outcomes = make_other(200, seed=6)
    left = outcomes["left"].eq("Yes").to_numpy()
    # held out: 40 who left; contacted: 10 who left and 30 who stayed
    held = outcomes[left].head(40)
    contact = pd.concat([outcomes[left].iloc[40:50], outcomes[~left].head(30)])
    listed = pd.concat([held.assign(group="holdout"), contact.assign(group="contact")])
    write_table(listed[["customer_id", "group"]], tmp_path / "campaign.csv")
    write_table(outcomes, tmp_path / "next.csv")
    assert commands.main(_uplift_args(tmp_path, bundle)) == 0
    # 1 - (10 / 40) / (40 / 40) = 75% of would-be churners kept
    assert "implied success rate (share of would-be churners kept): 75%" in capsys.readouterr().out

    write_table(listed[["customer_id", "group"]].assign(mode="replay"), tmp_path / "campaign.csv")
    with caplog.at_level(logging.ERROR):
        assert commands.main(_uplift_args(tmp_path, bundle)) == 1
    assert "a replay (mode replay): no one on it was contacted" in caplog.text


def test_uplift_without_a_held_out_group_fails_clearly(tmp_path, bundle, caplog):
    outcomes = make_other(50, seed=3)
    write_table(outcomes[["customer_id"]].assign(group="contact"), tmp_path / "campaign.csv")
    write_table(outcomes, tmp_path / "next.csv")
    with caplog.at_level(logging.ERROR):
        assert commands.main(_uplift_args(tmp_path, bundle)) == 1
    assert "0 held-out members found" in caplog.text


# ---------------------------------------------------------------- campaign


def _scored(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 3, n)
    at_risk = (p >= 0.4).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "churn_probability": p,
            "at_risk": at_risk,
            "reason_1": np.where(at_risk == 1, "visits last month 0.4 a week: raises risk", ""),
            "lever": np.where(at_risk == 1, "contract: monthly -> 12 months", ""),
        }
    )


def _campaign_args(folder: Path, bundle: Path) -> list[str]:
    return ["campaign", "--scored", str(folder / "scored.csv"), "--output",
            str(folder / "campaign.csv"), "--params", str(PROJECT / "params.yaml"),
            "--model", str(bundle)]  # fmt: skip


def test_campaign_lists_the_best_share_of_a_scored_export(tmp_path, bundle, capsys):
    from gym_churn.io import load_params, read_table
    from gym_churn.scoring.campaign import holdout_size, optimal_row

    cfg = load_params(PROJECT / "params.yaml").campaign
    scored = _scored(3000, seed=4)
    write_table(scored, tmp_path / "scored.csv")
    assert commands.main(_campaign_args(tmp_path, bundle)) == 0
    curve = read_table(tmp_path / "campaign.profit.csv")
    best = optimal_row(curve)
    listed = read_table(tmp_path / "campaign.csv")
    assert len(listed) == min(int(best["contacted"]), int(cfg.budget // cfg.offer_cost)) > 0
    # the riskiest, riskiest first, with the scored file's reasons and lever
    top = scored.sort_values("churn_probability", ascending=False).head(len(listed))
    assert listed["customer_id"].tolist() == top["customer_id"].tolist()
    assert listed["reason_1"].fillna("").tolist() == top["reason_1"].tolist()
    held = (listed["group"] == "holdout").sum()
    p = listed["churn_probability"].to_numpy()
    size, power = holdout_size(
        len(listed), p.mean(), cfg.min_effect_points, cfg.power, cfg.holdout_max_share
    )
    assert held == size > 0
    assert (
        f"listed {len(listed)}: {len(listed) - held} to contact, {held} held out "
        f"(power {power:.0%} to detect {cfg.min_effect_points:g} points of churn)"
    ) in capsys.readouterr().out
    # the same file gives the same hold-out (seeded)
    first = listed.copy()
    assert commands.main(_campaign_args(tmp_path, bundle)) == 0
    pd.testing.assert_frame_equal(read_table(tmp_path / "campaign.csv"), first)


def test_campaign_refuses_a_file_that_is_not_scored(tmp_path, bundle, caplog):
    write_table(make_other(30, seed=5), tmp_path / "scored.csv")
    with caplog.at_level(logging.ERROR):
        assert commands.main(_campaign_args(tmp_path, bundle)) == 1
    assert "not a scored export (no churn_probability, at_risk)" in caplog.text
    assert not (tmp_path / "campaign.csv").exists()


def test_init_with_a_snapshot_accepts_a_panel_and_its_unknown_outcomes(project, capsys):
    from tests.conftest import make_panel

    write_table(make_panel(members=20, months=3), project / DATA)

    assert _init("--id", "customer_id", "--snapshot", "month", "--positive", "Yes") == 0

    out = capsys.readouterr().out
    assert "member key: customer_id; snapshot: month" in out
    assert "20 blank target(s)" in out
    contract = load_contract(project / CONTRACT)
    assert contract.snapshot == "month"
    assert contract.target.unknown == "score"
