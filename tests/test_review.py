"""gym_churn_review.review: the pure helpers, the real CLI on a tiny git+dvc repository, and its
plots.html drawn by headless Chromium with the network cut off."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gym_churn_review.review import (
    WORKSPACE,
    Chart,
    build_html,
    build_summary,
    changed_plots,
    chart_title,
    file_stems,
    md_table_is_empty,
    merge_sources,
    plot_fields,
    plot_sources,
    specs_from_plots_json,
)
from tests.e2e_helpers import run

METRICS_MD = """\
| Path         | Metric   | HEAD~1   | workspace   | Change   |
|--------------|----------|----------|-------------|----------|
| metrics.json | acc      | 0.5      | 0.75        | 0.25     |
"""
EMPTY_PARAMS_MD = """\
| Path        | Param   | HEAD~1   | workspace   |
|-------------|---------|----------|-------------|

"""

# --- pure helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("md", "empty"),
    [("", True), ("\n", True), (EMPTY_PARAMS_MD, True), (METRICS_MD, False)],
)
def test_md_table_is_empty(md: str, empty: bool) -> None:
    # dvc prints a header-only table, not nothing, when there is no change
    assert md_table_is_empty(md) is empty


def test_plot_sources_follows_dvc_rules() -> None:
    definitions = {
        "dvc.yaml": {
            "data": {
                "Loss": {"template": "linear", "x": "step", "y": {"train.csv": "loss"}},
                "Two files": {"y": {"a.csv": "y", "b.csv": ["y", "z"]}, "x": {"c.csv": "x"}},
                "plain.csv": {"x": "a", "y": "b"},
                "bare.csv": None,
                "shared.csv": {},
            }
        },
        "sub/dvc.yaml": {"data": {"shared.csv": {}}},
    }
    assert plot_sources(definitions) == {
        "Loss": ["train.csv"],
        "Two files": ["a.csv", "b.csv", "c.csv"],
        "plain.csv": ["plain.csv"],
        "bare.csv": ["bare.csv"],
        # defined in two config files: dvc prefixes the id with the config file
        "dvc.yaml::shared.csv": ["shared.csv"],
        "sub/dvc.yaml::shared.csv": ["shared.csv"],
    }


def test_merge_sources_keeps_files_of_every_revision() -> None:
    base = {"Loss": ["old.csv"], "Gone": ["gone.csv"]}
    work = {"Loss": ["new.csv", "old.csv"], "New": ["new.csv"]}
    assert merge_sources(base, work) == {
        "Loss": ["old.csv", "new.csv"],
        "Gone": ["gone.csv"],
        "New": ["new.csv"],
    }


def test_changed_plots() -> None:
    sources = {
        "same": ["a.csv"],
        "edited": ["a.csv", "b.csv"],
        "new file": ["new.csv"],
        "deleted file": ["old.csv"],
        "missing both sides": ["nowhere.csv"],
    }
    base = {"a.csv": b"x\n1\n", "b.csv": b"y\n1\n", "old.csv": b"z\n", "new.csv": None}
    work = {"a.csv": b"x\n1\n", "b.csv": b"y\n2\n", "new.csv": b"n\n"}
    assert changed_plots(sources, base, work) == ["edited", "new file", "deleted file"]


@pytest.mark.parametrize(
    ("props", "fields"),
    [
        ({"x": "step", "y": {"train.csv": "loss"}}, ("step", "loss")),
        ({"x": {"c.csv": "x"}, "y": {"a.csv": ["y", "z"]}}, ("x", "y")),  # first of several
        ({"x": "a", "y": "b"}, ("a", "b")),
        ({}, (None, None)),  # dvc's defaults: nothing named to draw from
        ({"x": "a", "y": {"a.csv": []}}, ("a", None)),
    ],
)
def test_plot_fields(props: dict, fields: tuple) -> None:
    assert plot_fields(props) == fields


def test_file_stems_are_safe_and_distinct() -> None:
    titles = ["ROC curve (test)", "ROC curve: test", "plots/evaluate/roc.csv", "???", "é"]
    stems = file_stems(titles)
    assert stems == [
        "roc-curve-test",
        "roc-curve-test-2",
        "plots-evaluate-roc-csv",
        "plot",
        "plot-2",
    ]
    assert all(re.fullmatch(r"[a-z0-9-]+", stem) for stem in stems)


def test_build_summary_with_changes() -> None:
    md = build_summary(
        "origin/main",
        METRICS_MD,
        EMPTY_PARAMS_MD,
        [
            ("ROC curve (test)", "roc-curve-test.png", "```mermaid\nx\n```"),
            ("Images [dir]", None, None),
        ],
    )
    assert "## Pipeline changes against `origin/main`" in md
    assert "| metrics.json | acc      | 0.5      | 0.75" in md
    assert "No param changes." in md
    assert "No metric changes." not in md
    assert "![ROC curve (test)](roc-curve-test.png)" in md
    assert "mermaid" not in md  # a local summary shows the exact image instead
    # brackets in a title would end the alt text early
    assert "#### Images \\[dir\\]\n\nImage plot, not drawn here." in md
    assert md.endswith("\n")


def test_build_summary_for_a_step_summary_shows_charts_and_names_images() -> None:
    chart = "```mermaid\nxychart-beta\n```"
    plots = [("Loss", "loss.png", chart), ("Odd", "odd.png", None)]
    md = build_summary("main", "", "", plots, embed_images=False)
    assert "No metric changes." in md
    assert "![" not in md
    assert f"#### Loss\n\n{chart}\n\nImage: `loss.png`." in md
    assert "#### Odd\n\nImage: `odd.png`." in md  # no Markdown chart: the image is named
    assert "review output folder" in md


def test_build_summary_without_changes() -> None:
    md = build_summary("main", EMPTY_PARAMS_MD, EMPTY_PARAMS_MD, [])
    assert "No metric changes." in md
    assert "No param changes." in md
    assert "No plot changes." in md


def test_specs_from_plots_json() -> None:
    spec = {"mark": "line", "data": {"values": [{"x": "1", "rev": "workspace"}]}}
    payload = {
        "data": {
            "Loss": [{"type": "vega", "revisions": ["workspace", "HEAD~1"], "content": spec}],
            "pic.png": [{"type": "image", "revisions": ["workspace"], "url": "pic.png"}],
        }
    }
    assert specs_from_plots_json(payload) == {"Loss": spec, "pic.png": None}
    assert specs_from_plots_json({}) == {}


@pytest.mark.parametrize(
    ("spec", "title"),
    [
        ({"title": {"text": "ROC curve", "anchor": "middle"}}, "ROC curve"),
        ({"title": "Plain"}, "Plain"),
        ({"title": {"text": " "}}, "plots/roc.csv"),
        ({}, "plots/roc.csv"),
        (None, "plots/roc.csv"),
    ],
)
def test_chart_title(spec: dict | None, title: str) -> None:
    assert chart_title("plots/roc.csv", spec) == title


def test_build_html_inlines_the_bundle_and_escapes_specs() -> None:
    evil = "</script><script>alert(1)</script>"
    charts = [
        Chart("Loss <1>", "loss", {"title": evil, "mark": "point"}),
        Chart("pic.png", "pic-png", None),  # image plot: not drawn in the page
    ]
    bundle = 'window.vegaEmbed = function () {}; const s = "</script>";'
    page = build_html("origin/main", charts, bundle)
    assert "window.vegaEmbed = function () {};" in page
    assert "<script src" not in page
    # three scripts (bundle, specs, embed): no spec or bundle text may close one early
    assert page.count("</script>") == 3
    specs = re.search(r'id="specs">(.*?)</script>', page, flags=re.S)
    assert specs is not None
    assert json.loads(specs.group(1)) == [{"title": evil, "mark": "point"}]
    assert "<h2>Loss &lt;1&gt;</h2>" in page
    assert 'id="chart-0"' in page
    assert 'id="chart-1"' not in page


# --- the real CLI on a tiny git + dvc repository -------------------------------------------

DVC_YAML = """\
metrics:
  - metrics.json
plots:
  - Loss curve:
      template: linear
      x: step
      y:
        train.csv: loss
  - static.csv:
      x: a
      y: b
"""


def _commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


def _review(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "gym_churn_review", *args], repo, check=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two commits: version 2 changes a metric, a param and one of the two plots' data."""
    repo = tmp_path_factory.mktemp("review_repo")
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "config", "user.email", "ci@example.com"], repo)
    run(["git", "config", "user.name", "CI"], repo)
    run(["dvc", "init", "-q"], repo)
    # no usage reports from a test repository
    (repo / ".dvc" / "config").write_text("[core]\n    analytics = false\n")
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "params.yaml").write_text("lr: 0.1\nepochs: 3\n")
    (repo / "metrics.json").write_text(json.dumps({"acc": 0.5, "loss": 1.25}))
    (repo / "train.csv").write_text("step,loss\n1,1.0\n2,0.8\n3,0.7\n")
    (repo / "static.csv").write_text("a,b\n1,2\n2,3\n")
    _commit(repo, "version 1")
    (repo / "metrics.json").write_text(json.dumps({"acc": 0.75, "loss": 1.25}))
    (repo / "params.yaml").write_text("lr: 0.2\nepochs: 3\n")
    (repo / "train.csv").write_text("step,loss\n1,0.9\n2,0.6\n3,0.4\n")
    _commit(repo, "version 2")
    return repo


@pytest.fixture(scope="module")
def reviewed(repo: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = repo.parent / "review_out"
    step_summary = repo.parent / "step_summary.md"
    step_summary.write_text("# earlier step\n")
    result = _review(
        repo, "--base", "HEAD~1", "--out", str(out), "--summary-file", str(step_summary)
    )
    assert result.returncode == 0, result.stderr
    return result, out


def test_review_summary_lists_metric_param_and_plot_changes(
    reviewed: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, out = reviewed
    assert result.stdout.strip() == str(out / "summary.md")
    summary = (out / "summary.md").read_text()
    metrics = summary.split("### Metrics")[1].split("### Params")[0]
    assert re.search(r"\| metrics\.json \| acc +\| 0\.5 +\| 0\.75 ", metrics)
    assert "loss" not in metrics  # unchanged metrics are left out
    params = summary.split("### Params")[1].split("### Changed plots")[0]
    assert re.search(r"\| params\.yaml +\| lr +\| 0\.1 +\| 0\.2 ", params)
    assert "epochs" not in params
    plots = summary.split("### Changed plots")[1]
    assert "![Loss curve](loss-curve.png)" in plots
    assert "static" not in plots  # its data did not change


def test_review_draws_one_png_and_svg_per_changed_plot(
    reviewed: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = reviewed
    assert sorted(p.name for p in out.iterdir()) == [
        "loss-curve.png",
        "loss-curve.svg",
        "plots.html",
        "summary.md",
    ]
    png = out / "loss-curve.png"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(png) as image:
        image.verify()  # a complete, uncorrupted PNG
    with Image.open(png) as image:
        assert min(image.size) > 200
    svg = (out / "loss-curve.svg").read_text()
    # base and workspace overlaid: both revisions in the legend
    assert svg.startswith("<svg")
    assert ">HEAD~1<" in svg
    assert f">{WORKSPACE}<" in svg


def test_review_html_is_self_contained(
    reviewed: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    page = (reviewed[1] / "plots.html").read_text()
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.I)  # every script inline
    assert not re.search(r"""<(link|img|iframe)[^>]*(href|src)\s*=\s*["']?https?:""", page)
    assert len(page) > 300_000  # vega, vega-lite and vega-embed are in the page
    specs = json.loads(re.search(r'id="specs">(.*?)</script>', page, flags=re.S).group(1))
    assert [spec["title"]["text"] for spec in specs] == ["Loss curve"]
    assert {row["rev"] for row in specs[0]["data"]["values"]} == {"HEAD~1", WORKSPACE}


def test_review_appends_to_the_summary_file(
    reviewed: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    text = (reviewed[1].parent / "step_summary.md").read_text()
    assert text.startswith("# earlier step\n## Pipeline changes against `HEAD~1`")
    assert "Image: `loss-curve.png`." in text
    # the chart GitHub draws itself: both revisions' loss at the three shared steps
    chart = re.search(r"```mermaid\n(.*?)```", text, flags=re.S)
    assert chart is not None
    assert '    x-axis "step" [1, 2, 3]' in chart.group(1)
    assert "    line [1, 0.8, 0.7]\n    line [0.9, 0.6, 0.4]\n" in chart.group(1)
    assert "![" not in text  # a relative image would be broken in a CI step summary


def test_review_with_nothing_changed(repo: Path, tmp_path: Path) -> None:
    # an empty --summary-file (where $GITHUB_STEP_SUMMARY is unset) means none
    result = _review(repo, "--base", "HEAD", "--out", str(tmp_path / "out"), "--summary-file=")
    assert result.returncode == 0, result.stderr
    assert "nothing changed against HEAD" in result.stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "No metric changes." in summary
    assert "No param changes." in summary
    assert "No plot changes." in summary
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["summary.md"]


def test_review_outside_a_dvc_repository(tmp_path: Path) -> None:
    run(["git", "init", "-q"], tmp_path)
    run(
        [
            "git",
            "-c",
            "user.name=CI",
            "-c",
            "user.email=ci@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        tmp_path,
    )
    result = _review(tmp_path, "--base", "HEAD", "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "not inside of a DVC repository" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("base", ["no-such-branch", "--help"])
def test_review_rejects_a_bad_revision(repo: Path, tmp_path: Path, base: str) -> None:
    result = _review(repo, f"--base={base}", "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert f"--base {base!r} is not a git revision" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_review_does_not_import_the_pipeline_package() -> None:
    # gym_churn_review stands alone: the pipeline's modules can change without breaking it.
    code = (
        "import sys, gym_churn_review.review, gym_churn_review.mermaid\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] == 'gym_churn'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"


# --- plots.html in a real browser, offline -------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


def _dump_dom(page: Path, tmp_path: Path) -> str:
    """The DOM of `page` after its scripts ran, in headless Chromium with no network at all.

    The resolver maps every host name to NOTFOUND and proxies are off, so a page that needs
    a CDN cannot draw even on a machine that has network access.
    """
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium")
    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-proxy-server",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _without_scripts(dom: str) -> str:
    """The DOM without <script> bodies: the page's own code mentions what the checks look for."""
    return re.sub(r"<script\b.*?</script>", "", dom, flags=re.S | re.I)


def _drawn_charts(dom: str) -> int:
    """Charts Vega drew: root <svg class="marks"> elements holding a data mark with a shape.

    A frame or axis alone (drawn before any data) does not count: at least one line, bar,
    point or area group must contain a path with drawing commands.
    """
    dom = _without_scripts(dom)
    data_mark = re.compile(
        r'<g class="mark-(?:line|rect|symbol|area|trail)[^"]*"[^>]*>\s*<path[^>]* d="M'
    )
    charts = [part.split("</svg>", 1)[0] for part in dom.split('class="marks"')[1:]]
    return sum(1 for chart in charts if data_mark.search(chart))


def test_plots_html_draws_offline_in_chromium(
    reviewed: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    dom = _dump_dom(reviewed[1] / "plots.html", tmp_path)
    assert _drawn_charts(dom) == 1
    assert re.search(r'<body[^>]*data-rendered="1"[^>]*data-failed="0"', dom)
    assert 'class="mark-line' in dom  # the overlaid loss curves
    assert "Could not draw this chart" not in _without_scripts(dom)


def test_chromium_check_fails_for_a_page_that_loads_vega_from_a_cdn(tmp_path: Path) -> None:
    import vl_convert as vlc

    spec = {
        "data": {"values": [{"x": 1, "y": 2}, {"x": 2, "y": 3}]},
        "mark": "line",
        "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y"}},
    }
    page = tmp_path / "cdn.html"
    page.write_text(vlc.vegalite_to_html(spec))  # bundle=False: scripts from a CDN
    assert re.search(r'<script src="https://', page.read_text())
    assert _drawn_charts(_dump_dom(page, tmp_path)) == 0


def test_chromium_check_fails_for_a_page_without_the_bundle(
    reviewed: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    # The review's own page with the inlined libraries left out draws nothing: the charts in
    # the test above come from the bundle, not from anything else on the machine.
    specs = json.loads(
        re.search(
            r'id="specs">(.*?)</script>',
            (reviewed[1] / "plots.html").read_text(),
            flags=re.S,
        ).group(1)
    )
    page = tmp_path / "nobundle.html"
    page.write_text(build_html("HEAD~1", [Chart("Loss curve", "loss", specs[0])], ""))
    dom = _dump_dom(page, tmp_path)
    assert _drawn_charts(dom) == 0
    assert "data-rendered" not in dom


def test_drawn_charts_needs_a_data_mark() -> None:
    # Guard the pattern on fixed snippets, so a regex slip cannot make the browser tests pass
    # (or the negative ones fail) for the wrong reason.
    frame = '<path class="background" d="M0.5,0.5h300v300h-300Z"></path>'
    line = '<g class="mark-line role-mark"><path aria-label="a" d="M0,1L2,3"></path></g>'
    chart = '<div><svg class="marks" width="1"><g>{}</g></svg></div>'
    assert _drawn_charts(chart.format(frame + line)) == 1
    assert _drawn_charts(chart.format(frame)) == 0
    assert _drawn_charts(f"<script>'{chart.format(line)}'</script>") == 0


# --- the job summary's Mermaid charts, drawn by the Mermaid library GitHub uses ------------

MERMAID_JS = Path(__file__).resolve().parents[1] / ".cache" / "mermaid" / "mermaid.min.js"


def _mermaid_page(blocks: list[str]) -> str:
    """A page that draws each Mermaid block with the inlined library, as GitHub would.

    When done, <div id="result"> carries how many drew and how many failed, and each
    failure's message is in <pre id="errors">.
    """
    if not MERMAID_JS.exists():
        pytest.skip(f"{MERMAID_JS} missing: bash .ci/fetch-mermaid")
    library = MERMAID_JS.read_text(encoding="utf-8").replace("</script", "<\\/script")
    sources = json.dumps(blocks).replace("<", "\\u003c")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><script>{library}</script></head>
<body><div id="charts"></div><pre id="errors"></pre>
<script type="application/json" id="sources">{sources}</script>
<script>
(async function () {{
  mermaid.initialize({{ startOnLoad: false, securityLevel: "strict" }});
  const blocks = JSON.parse(document.getElementById("sources").textContent);
  let drawn = 0, failed = 0;
  for (let i = 0; i < blocks.length; i++) {{
    try {{
      const out = await mermaid.render("chart" + i, blocks[i]);
      const box = document.createElement("div");
      box.className = "chart";
      box.innerHTML = out.svg;
      document.getElementById("charts").appendChild(box);
      drawn++;
    }} catch (err) {{
      failed++;
      document.getElementById("errors").textContent += "chart " + i + ": " + err + "\\n";
    }}
  }}
  const result = document.createElement("div");
  result.id = "result";
  result.dataset.drawn = drawn;
  result.dataset.failed = failed;
  document.body.appendChild(result);
}})();
</script></body></html>"""


def _draw_mermaid(blocks: list[str], tmp_path: Path) -> tuple[int, int, str]:
    """(drawn, failed, DOM without scripts) for the blocks, in offline headless Chromium."""
    page = tmp_path / "mermaid.html"
    page.write_text(_mermaid_page(blocks), encoding="utf-8")
    dom = _without_scripts(_dump_dom(page, tmp_path))
    result = re.search(r'<div id="result" data-drawn="(\d+)" data-failed="(\d+)">', dom)
    assert result is not None, "the page never finished drawing"
    return int(result.group(1)), int(result.group(2)), dom


def test_job_summary_charts_draw_in_mermaid(
    reviewed: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    from gym_churn_review.mermaid import category_chart, line_chart

    summary = (reviewed[1].parent / "step_summary.md").read_text()
    blocks = re.findall(r"```mermaid\n(.*?)```", summary, flags=re.S)
    assert len(blocks) == 1  # the loss curve
    # and the other two forms the project's plots take: a resampled curve, paired bars
    curve = [
        {"x": str(x), "y": str(y), "rev": rev}
        for rev, x, y in [
            ("main", 0, 0),
            ("main", 0, 0.5),
            ("main", 1, 1),
            ("ws", 0, 0.4),
            ("ws", 0.3, 0.9),
            ("ws", 1, 1),
        ]
    ]
    bars = [
        {"v": str(v), "n": n, "rev": rev}
        for rev, v, n in [
            ("main", 0.2, "Partner"),
            ("main", -0.01, "Age"),
            ("ws", 0.3, "Partner"),
            ("ws", 2.5e-05, "New"),
        ]
    ]
    for md in (
        line_chart("ROC", curve, "x", "y", "main", "ws"),
        category_chart("Importance", bars, "n", "v", "main", "ws"),
    ):
        blocks += re.findall(r"```mermaid\n(.*?)```", md or "", flags=re.S)
    assert len(blocks) == 3

    drawn, failed, dom = _draw_mermaid(blocks, tmp_path)
    errors = re.search(r'<pre id="errors">(.*?)</pre>', dom, flags=re.S)
    assert (drawn, failed) == (3, 0), errors.group(1) if errors else dom[-2000:]
    charts = dom.split('aria-roledescription="xychart"')[1:]
    assert len(charts) == 3
    for chart in charts[:2]:  # two curves each, drawn as paths through their points
        lines = re.findall(r'<g class="line-plot-\d"><path d="M([^"]+)"', chart)
        assert len(lines) == 2
    widths = [
        float(w)
        for w in re.findall(r'<g class="bar-plot-\d">(.*?)</g>', charts[2], flags=re.S)
        for w in re.findall(r'<rect[^>]* width="(-?[\d.]+)"', w)
    ]
    # six rows (3 names x 2 revisions), one bar of each series per row: only the four
    # values that exist have a visible (positive) length, the rest are hidden
    assert len(widths) == 12
    assert sum(width > 0 for width in widths) == 4


def test_mermaid_check_fails_for_a_chart_mermaid_cannot_read(tmp_path: Path) -> None:
    # The same page reports a block Mermaid rejects (an exponent, as Python's repr writes
    # small numbers), so the test above passing means the charts really parsed and drew.
    bad = 'xychart-beta\n    x-axis "x" 0 --> 1\n    line [2.5e-05, 1]\n'
    drawn, failed, dom = _draw_mermaid([bad], tmp_path)
    assert (drawn, failed) == (0, 1)
    assert "Parse error" in dom
