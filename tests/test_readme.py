"""The README and the pages it points to stay in step with the pipeline: the results table
with the committed metrics, docs/parameters.md with params.yaml, every link with a file and
heading, every pointer to a README section with a heading, and bench/README.md's figures with
the commands that measure them again."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PARAMETERS = (ROOT / "docs" / "parameters.md").read_text(encoding="utf-8")
BENCH = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
PAGES = ["README.md", "bench/README.md", *sorted(p.relative_to(ROOT).as_posix()
                                                for p in (ROOT / "docs").glob("*.md"))]  # fmt: skip
# What a user reads first, in this order; everything else lives in docs/ and bench/.
README_SECTIONS = ["Two commands", "Results on the bundled export", "Your own export",
                   "Trying ideas", "Reviewing a pull request", "Scoring new members",
                   "Whom to contact: the campaign", "More"]  # fmt: skip
README_MAX_LINES = 300


def _headings(text: str, level: str = "#+") -> list[str]:
    """Markdown headings of `text` outside fenced code blocks."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.findall(rf"^{level} (.+?)\s*$", text, flags=re.MULTILINE)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _table_rows(metrics_file: str) -> list[tuple[str, float]]:
    metrics = json.loads((ROOT / metrics_file).read_text())
    rows = re.findall(r"^\| `(\w+)` \| ([0-9.]+) \|", README, flags=re.MULTILINE)
    return [(key, float(value)) for key, value in rows if key in metrics]


@pytest.mark.parametrize("metrics_file", ["metrics/evaluate.json", "metrics/cluster.json"])
def test_results_table_matches_committed_metrics(metrics_file: str) -> None:
    metrics = json.loads((ROOT / metrics_file).read_text())
    rows = _table_rows(metrics_file)
    assert rows, "README has no results rows for this metrics file"
    for key, value in rows:
        assert value == pytest.approx(metrics[key], abs=5e-5), key


def test_readme_is_short_and_in_a_users_order() -> None:
    assert len(README.splitlines()) <= README_MAX_LINES
    sections = _headings(README, "##")
    assert set(README_SECTIONS) <= set(sections), set(README_SECTIONS) - set(sections)
    in_order = [section for section in sections if section in README_SECTIONS]
    assert in_order == README_SECTIONS  # other sections may sit between them


def test_the_test_command_is_the_one_ci_runs() -> None:
    block = re.search(r"Run the tests.*?```bash\n(.+?)\n```", README, flags=re.DOTALL)
    assert block, "README: no test command after 'Run the tests'"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert block.group(1) in ci


def test_the_experiment_recipe_keeps_metrics_the_pipeline_writes() -> None:
    # the recipe that shows changed params beside the headline metrics names them in --keep
    keep = re.search(r"--keep '\^\(([\w|]+)\)\$'", README)
    assert keep, "README: no `dvc exp show ... --keep '^(...)$'` recipe"
    written = set()
    for path in (ROOT / "metrics").glob("*.json"):
        written |= set(json.loads(path.read_text()))
    missing = [name for name in keep.group(1).split("|") if name not in written]
    assert not missing, f"--keep names metrics no stage writes: {missing}"


def _links(page: str) -> list[str]:
    text = (ROOT / page).read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]


def test_readme_points_to_every_page() -> None:
    assert set(PAGES) - {"README.md"} <= {t.partition("#")[0] for t in _links("README.md")}


@pytest.mark.parametrize("page", PAGES)
def test_every_link_reaches_a_file_and_heading(page: str) -> None:
    for target in _links(page):
        path, _, anchor = target.partition("#")
        file = (ROOT / page).parent / path if path else ROOT / page
        assert file.exists(), f"{page}: link to a missing file: {target}"
        if anchor:
            slugs = [_slug(h) for h in _headings(file.read_text(encoding="utf-8"))]
            assert anchor in slugs, f"{page}: no heading for #{anchor} in {file.name}"


def _pointers() -> list[tuple[str, str]]:
    """(file, section) of every `README "Section"` or `README.md ("Section")` in code, config."""
    files = [*(ROOT / "src").rglob("*.py"), ROOT / "params.yaml", ROOT / "dvc.yaml",
             *(ROOT / "data" / "contracts").glob("*.yaml")]  # fmt: skip
    found = []
    for file in files:
        for section in re.findall(r'README(?:\.md)? \(?"([^"]+)"', file.read_text()):
            found.append((file.relative_to(ROOT).as_posix(), section))
    return found


def test_pointers_to_readme_sections_name_real_headings() -> None:
    pointers = _pointers()
    assert pointers, "no README pointers found: has the pattern changed?"
    headings = _headings(README)
    wrong = [(file, section) for file, section in pointers if section not in headings]
    assert not wrong, f"pointers to README sections that do not exist: {wrong}"


def test_pointers_to_docs_name_real_pages() -> None:
    texts = {p: p.read_text() for p in [*(ROOT / "src").rglob("*.py"), ROOT / "params.yaml"]}
    pages = {page for text in texts.values() for page in re.findall(r"docs/[\w-]+\.md", text)}
    assert pages, "no pointers to docs/ found: has the pattern changed?"
    assert all((ROOT / page).exists() for page in pages), pages


def _stage_graph() -> set[tuple[str, str]]:
    """(earlier, later) for every stage that reads a path another stage writes (or a path
    inside or around it), from dvc.yaml with its `paths` vars filled in: `dvc dag`'s edges."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    paths = dvc["vars"][0]["paths"]

    def names(entries: list[Any] | None) -> list[PurePosixPath]:
        raw = [next(iter(e)) if isinstance(e, dict) else e for e in entries or []]
        return [PurePosixPath(re.sub(r"\$\{paths\.(\w+)\}", lambda m: paths[m[1]], r)) for r in raw]

    stages = dvc["stages"]
    outs = {n: names(s.get("outs")) + names(s.get("metrics")) + names(s.get("plots"))
            for n, s in stages.items()}  # fmt: skip
    deps = {n: names(s.get("deps")) for n, s in stages.items()}

    def overlap(a: PurePosixPath, b: PurePosixPath) -> bool:
        return a == b or a in b.parents or b in a.parents

    return {(u, v) for v in stages for u in stages
            if u != v and any(overlap(d, o) for d in deps[v] for o in outs[u])}  # fmt: skip


def _reachable(edges: set[tuple[str, str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo += [v for u, v in edges if u == node]
    return False


def test_the_pipeline_diagram_is_dvc_yamls_graph_without_implied_arrows() -> None:
    edges = _stage_graph()
    assert {("preprocess", "split"), ("bundle", "campaign")} <= edges
    implied = {(u, v) for u, v in edges if _reachable(edges - {(u, v)}, u, v)}
    text = (ROOT / "docs" / "pipeline.md").read_text(encoding="utf-8")
    drawn = set(re.findall(r"^\s+(\w+) --> (\w+)$", text, flags=re.MULTILINE))
    assert drawn == edges - implied, (sorted(edges - implied - drawn), sorted(drawn - edges))


def _bench_sections() -> list[tuple[str, str]]:
    parts = re.split(r"^## (.+)$", BENCH, flags=re.MULTILINE)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def test_bench_sections_exist() -> None:
    assert len(_bench_sections()) >= 5


@pytest.mark.parametrize(("title", "body"), _bench_sections(), ids=lambda v: v[:40])
def test_every_bench_figure_has_a_date_and_the_command_that_measures_it(
    title: str, body: str
) -> None:
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", title + body), f"{title}: not dated"
    commands = re.findall(r"```bash\n(.+?)```", body, flags=re.DOTALL)
    assert commands, f"{title}: no command that measures it again"
    scripts = re.findall(r"python (bench/\w+\.py)", "".join(commands))
    assert all((ROOT / script).exists() for script in scripts), scripts


def _params_table() -> dict[str, str]:
    """Key -> documented default, from the one table of docs/parameters.md's "Keys" section
    (its first run of table lines: a blank line ends a Markdown table)."""
    section = PARAMETERS.split("\n## Keys\n", 1)[1]
    lines = section.lstrip("\n").splitlines()
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        table.append(line)
    assert table[:2] == ["| key | default | meaning |", "|---|---|---|"]
    rows = {}
    for line in table[2:]:
        match = re.match(r"^\| `([\w.*]+)` \| ([^|]*) \|", line)
        assert match, line
        rows[match.group(1)] = match.group(2).strip()
    return rows


def _section_keys() -> list[str]:
    return [f"{section}.{key}" for section, values in PARAMS.items() for key in values]


def test_the_new_sections_are_in_the_documented_keys() -> None:
    new = {"audit.min_pure_share", "drivers.min_overlap", "drivers.max_rows",
           "drivers.early_months", "profile.rule_leaves", "profile.rule_min_share"}  # fmt: skip
    assert new <= set(_section_keys())


@pytest.mark.parametrize("key", _section_keys())
def test_every_param_is_a_row_of_the_params_table(key: str) -> None:
    rows = _params_table()
    section, name = key.split(".")
    value = PARAMS[section][name]
    if isinstance(value, dict):  # one row for the group, or one per key inside it
        assert f"{key}.*" in rows or all(f"{key}.{k}" in rows for k in value), key
    elif key not in rows:
        elsewhere = f"| `{key}` |" in PARAMETERS
        pytest.fail(f"{key}: a row after the params table ends (a blank line ends a Markdown "
                    "table)" if elsewhere else f"{key}: not in the params table")  # fmt: skip


def test_documented_keys_are_params() -> None:
    documented = {key.removesuffix(".*") for key in _params_table()}
    known = {key for key, _ in _scalars(PARAMS)} | set(_section_keys())
    assert documented <= known, sorted(documented - known)


def _scalars(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += _scalars(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            out.append((f"{prefix}{key}", value))
    return out


@pytest.mark.parametrize(("key", "value"), _scalars(PARAMS))
def test_documented_defaults_are_params_yaml(key: str, value: Any) -> None:
    rows = _params_table()
    if key not in rows:  # a group row (`train.logreg.*`) describes its defaults in words
        return
    documented = rows[key].strip("`")
    if isinstance(value, str):
        assert documented == value, key
    else:
        assert float(documented) == pytest.approx(value), key


def test_the_analysis_table_quotes_the_committed_figures() -> None:
    # README "What the analysis says": each figure as the pipeline last wrote it
    metrics = {
        name: json.loads((ROOT / "metrics" / f"{name}.json").read_text())
        for name in ("audit", "drivers", "profile")
    }
    with (ROOT / "reports" / "drivers.csv").open() as table_file:
        group = next(row for row in csv.DictReader(table_file)
                     if row["label"] == "attend group classes")  # fmt: skip
    audit, profile = metrics["audit"], metrics["profile"]
    expected = [
        f"{metrics['drivers']['early_tenure_share_of_churners']:.1%}",
        f"{audit['cv_roc_auc']:.4f} / {audit['cv_roc_auc_without_flagged']:.4f}",
        f"{float(group['marginal_ratio']):.2f} / {float(group['adjusted_ratio']):.2f} (95% CI "
        f"{float(group['adjusted_low']):.2f} to {float(group['adjusted_high']):.2f}",
        f"{profile['rule_nmi_with_churn']:.3f} / {profile['kmeans_nmi_with_churn']:.3f}",
    ]
    table = README.split("What the analysis says")[1].split("\n\n")[1]
    for figure in expected:
        assert figure in table, figure
