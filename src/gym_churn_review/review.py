"""review: what a change to the pipeline does to its metrics, params and plots, for a PR review.

Run inside a DVC repository (the current directory), locally or in CI:

    python -m gym_churn_review --base origin/main --out review [--summary-file FILE]

Reads  the git revision --base and the workspace: `dvc metrics diff`, `dvc params diff` and
       `dvc plots diff --json` (the real dvc CLI), the plot definitions of dvc.yaml at both
       revisions, and each plot's data file(s) at --base (`git show`) and in the workspace
Writes --out/summary.md    Markdown: metric and param changes, then the changed plots as images
       --out/<plot>.png    one per changed plot: base and workspace overlaid in one chart
       --out/<plot>.svg    the same chart as SVG
       --out/plots.html    every changed plot, interactive, viewable offline (Vega, Vega-Lite
                           and Vega-Embed inlined, nothing loaded from a CDN)
       --summary-file      optional: the same Markdown appended (e.g. $GITHUB_STEP_SUMMARY),
                           each plot drawn as a Mermaid chart or table GitHub renders (see
                           gym_churn_review.mermaid) and its image named, since it lives in --out
Exit   0 also when nothing changed (a message says so); 1 with one clear error line when
       --base is not a revision, this is not a DVC repository or dvc fails.

A plot counts as changed when any of its data files differs byte for byte between --base and
the workspace, or exists in only one of them. Data files must be committed to git (plots with
`cache: false`, as in this project): a DVC-cached file is not in `git show` and so always looks
new.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gym_churn_review.mermaid import summary_chart

log = logging.getLogger(__name__)

WORKSPACE = "workspace"  # the name dvc gives the working tree in its diffs


class ReviewError(Exception):
    """The review cannot be made: bad revision, not a DVC repository, dvc failed."""


def configure_logging() -> None:
    """One line per message on stderr; GYM_CHURN_LOG_LEVEL sets the level, as for the stages."""
    level = os.environ.get("GYM_CHURN_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@dataclass(frozen=True)
class Chart:
    """One changed plot: the title it shows, output file stem and Vega-Lite spec.

    `text` is the same plot as Markdown GitHub draws itself (a Mermaid chart or a table, see
    gym_churn_review.mermaid), for a job summary, which cannot show the PNG; None if there is none.
    """

    title: str
    stem: str
    spec: dict[str, Any] | None  # None for an image plot, which dvc cannot overlay
    text: str | None = None


@dataclass
class Review:
    """Everything one review found; the files are written from it."""

    base: str
    metrics_md: str
    params_md: str
    charts: list[Chart] = field(default_factory=list)

    @property
    def nothing_changed(self) -> bool:
        return (
            md_table_is_empty(self.metrics_md)
            and md_table_is_empty(self.params_md)
            and not self.charts
        )


# --- pure helpers -------------------------------------------------------------------------


def md_table_is_empty(md: str) -> bool:
    """True when dvc's `--md` output has no data row.

    With no change dvc still prints the table header and its `|---|` rule, so an empty
    string is not the only "nothing changed".
    """
    rows = [line for line in md.splitlines() if line.strip().startswith("|")]
    return len(rows) <= 2


def _resolved(definitions: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(full id, id in its config file, properties) of every plot of one revision.

    `definitions` is `{config_file: {"data": {plot_id: props}}}` as `Repo.plots.show` returns
    it (paths already relative to the repository root). Mirrors dvc's own rule so the ids
    match `dvc plots diff --json`: an id is prefixed with `config_file::` only when several
    config files define it.
    """
    by_id: dict[str, dict[str, dict[str, Any]]] = {}
    for config_file, content in definitions.items():
        for plot_id, props in ((content or {}).get("data") or {}).items():
            by_id.setdefault(plot_id, {})[config_file] = props or {}
    return [
        (plot_id if len(configs) == 1 else f"{config_file}::{plot_id}", plot_id, props)
        for plot_id, configs in by_id.items()
        for config_file, props in configs.items()
    ]


def plot_props(definitions: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Map each plot id (as `dvc plots diff` names it) to its properties."""
    return {full_id: props for full_id, _, props in _resolved(definitions)}


def plot_sources(definitions: Mapping[str, Any]) -> dict[str, list[str]]:
    """Map each plot id to its data files, by dvc's rules.

    A plot whose `y` is a `{file: field}` mapping reads those files (plus the file of an `x`
    mapping), any other plot reads the file named by its id.
    """
    result: dict[str, list[str]] = {}
    for full_id, plot_id, props in _resolved(definitions):
        y, x = props.get("y"), props.get("x")
        files = list(y) if isinstance(y, dict) else [plot_id]
        if isinstance(x, dict) and x:
            files.append(next(iter(x)))
        result[full_id] = list(dict.fromkeys(files))
    return result


def plot_fields(props: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The x and y field names of one plot definition (the first, where it lists several)."""

    def first(value: Any) -> str | None:
        if isinstance(value, Mapping):
            value = next(iter(value.values()), None)
        if isinstance(value, list):
            value = value[0] if value else None
        return value if isinstance(value, str) else None

    return first(props.get("x")), first(props.get("y"))


def merge_sources(*per_revision: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Union of the data files of each plot id over revisions (a plot may move files)."""
    merged: dict[str, list[str]] = {}
    for sources in per_revision:
        for plot_id, files in sources.items():
            merged[plot_id] = list(dict.fromkeys([*merged.get(plot_id, []), *files]))
    return merged


def changed_plots(
    sources: Mapping[str, Sequence[str]],
    base_files: Mapping[str, bytes | None],
    work_files: Mapping[str, bytes | None],
) -> list[str]:
    """Plot ids (in `sources` order) any of whose files differs between base and workspace.

    A file missing from a mapping, or mapped to None, does not exist at that revision: a new
    or deleted file is a change.
    """
    return [
        plot_id
        for plot_id, files in sources.items()
        if any(base_files.get(name) != work_files.get(name) for name in files)
    ]


def file_stems(titles: Sequence[str]) -> list[str]:
    """A distinct, file-name-safe stem per title ("ROC curve (test)" -> "roc-curve-test")."""
    stems: list[str] = []
    for title in titles:
        stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-") or "plot"
        candidate, n = stem, 2
        while candidate in stems:
            candidate, n = f"{stem}-{n}", n + 1
        stems.append(candidate)
    return stems


def _md_text(text: str) -> str:
    """Escape what would break Markdown link/alt text or start inline markup."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def build_summary(
    base: str,
    metrics_md: str,
    params_md: str,
    plots: Sequence[tuple[str, str | None, str | None]],
    embed_images: bool = True,
) -> str:
    """The review as Markdown.

    `metrics_md`/`params_md` are dvc's `--md` tables; `plots` is (title, png file or None for
    a plot that could not be drawn, Markdown chart or None) per changed plot. With
    `embed_images` the PNGs are embedded; without, for a CI step summary where a relative
    image path points nowhere, each plot shows its Markdown chart and names its image.
    """
    lines = [f"## Pipeline changes against `{base}`", "", "### Metrics", ""]
    lines += [metrics_md.strip() if not md_table_is_empty(metrics_md) else "No metric changes."]
    lines += ["", "### Params", ""]
    lines += [params_md.strip() if not md_table_is_empty(params_md) else "No param changes."]
    lines += ["", "### Changed plots", ""]
    if not plots:
        lines += ["No plot changes.", ""]
        return "\n".join(lines)
    lines += [
        f"`{base}` and `{WORKSPACE}` overlaid in each chart; all of them, interactive, "
        "in `plots.html`.",
        "",
    ]
    for title, png, text in plots:
        name = _md_text(title)
        lines += [f"#### {name}", ""]
        if png is None:
            lines += ["Image plot, not drawn here.", ""]
        elif embed_images:
            lines += [f"![{name}]({png})", ""]
        else:
            lines += [text, ""] if text else []
            lines += [f"Image: `{png}`.", ""]
    if not embed_images:
        lines += ["The images and `plots.html` are in the review output folder."]
    return "\n".join(lines).rstrip("\n") + "\n"


def _script_json(value: Any) -> str:
    # "<" escaped so no string in a spec (a title, a data value) can close the <script>.
    return json.dumps(value).replace("<", "\\u003c")


def build_html(base: str, charts: Sequence[Chart], bundle_js: str) -> str:
    """One HTML page drawing every chart with the inlined `bundle_js` (no network needed).

    `bundle_js` must define the globals `vegaEmbed`, as `vl_convert.javascript_bundle()` does.
    Once every chart has settled the page sets `data-rendered` (charts drawn) and
    `data-failed` on <body>, and a chart that fails shows its error instead.
    """
    # A literal "</script" inside the bundle would end the tag early; inside JS strings and
    # regexes "<\/script" means the same.
    bundle_js = bundle_js.replace("</script", "<\\/script")
    drawn = [chart for chart in charts if chart.spec is not None]
    sections = "\n".join(
        f'<section><h2>{html.escape(chart.title)}</h2><div class="chart" id="chart-{i}"></div>'
        "</section>"
        for i, chart in enumerate(drawn)
    )
    title = f"Changed plots: {base} vs {WORKSPACE}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
section {{ margin-bottom: 2.5rem; }}
.chart-error {{ color: #b00020; white-space: pre-wrap; }}
</style>
<script>
{bundle_js}
</script>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Each chart overlays <code>{html.escape(base)}</code> and <code>{WORKSPACE}</code>.
Drawn in this page with the inlined Vega libraries, offline.</p>
{sections}
<script type="application/json" id="specs">{_script_json([c.spec for c in drawn])}</script>
<script>
(function () {{
  const specs = JSON.parse(document.getElementById("specs").textContent);
  const options = {{
    renderer: "svg",
    actions: {{ export: true, source: true, compiled: false, editor: false }},
  }};
  const jobs = specs.map(function (spec, i) {{
    const target = document.getElementById("chart-" + i);
    return vegaEmbed(target, spec, options).catch(function (err) {{
      target.className = "chart chart-error";
      target.textContent = "Could not draw this chart: " + err;
      throw err;
    }});
  }});
  Promise.allSettled(jobs).then(function (results) {{
    const ok = results.filter(function (r) {{ return r.status === "fulfilled"; }}).length;
    document.body.dataset.rendered = String(ok);
    document.body.dataset.failed = String(results.length - ok);
  }});
}})();
</script>
</body>
</html>
"""


def chart_text(
    title: str, spec: Mapping[str, Any] | None, props: Mapping[str, Any] | None, base: str
) -> str | None:
    """The plot as Markdown GitHub draws (see gym_churn_review.mermaid), from its spec's data."""
    if spec is None or props is None:
        return None
    rows = (spec.get("data") or {}).get("values") or []
    x, y = plot_fields(props)
    labels = (props.get("x_label"), props.get("y_label"))
    return summary_chart(title, rows, props.get("template"), x, y, base, WORKSPACE, labels)


def chart_title(plot_id: str, spec: Mapping[str, Any] | None) -> str:
    """The title the chart shows (a plot's `title:` in dvc.yaml), else its dvc id."""
    title = (spec or {}).get("title")
    text = title.get("text") if isinstance(title, Mapping) else title
    return text if isinstance(text, str) and text.strip() else plot_id


def specs_from_plots_json(payload: Mapping[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Plot id -> Vega-Lite spec from `dvc plots diff --json` (without `--split`).

    Without `--split` each vega entry's `content` is the complete spec with the data of both
    revisions inlined (a `rev` field tells them apart). Image plots map to None.
    """
    specs: dict[str, dict[str, Any] | None] = {}
    for plot_id, entries in (payload.get("data") or {}).items():
        vega = [entry for entry in entries if entry.get("type") == "vega"]
        specs[plot_id] = vega[0]["content"] if vega else None
    return specs


# --- git, dvc and rendering ---------------------------------------------------------------


def _dvc_env() -> dict[str, str]:
    # A review talks to no outside service: no usage analytics from the dvc subprocesses.
    return {**os.environ, "DVC_NO_ANALYTICS": "1"}


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, cwd=cwd, env=_dvc_env(), capture_output=True, check=False)


def _dvc(args: list[str], cwd: Path) -> str:
    """Run the real dvc CLI (this interpreter's, so an unactivated venv works too)."""
    result = _run([sys.executable, "-m", "dvc", *args], cwd)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip() or "no error output"
        raise ReviewError(f"`dvc {' '.join(args)}` failed: {detail}")
    return result.stdout.decode()


def check_revision(base: str, cwd: Path) -> None:
    if _run(["git", "rev-parse", "--git-dir"], cwd).returncode != 0:
        raise ReviewError(f"{cwd} is not inside a git repository")
    # A base starting with "-" would be read as an option by git and dvc, not as a revision.
    result = (
        None
        if base.startswith("-")
        else _run(["git", "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], cwd)
    )
    if result is None or result.returncode != 0:
        raise ReviewError(
            f"--base {base!r} is not a git revision here"
            " (in a CI clone, fetch the base branch with full history: fetch-depth 0)"
        )


def git_file(base: str, path: str, cwd: Path) -> bytes | None:
    """The file at `base`, or None when it does not exist there ("./" = relative to cwd)."""
    result = _run(["git", "show", f"{base}:./{path}"], cwd)
    return result.stdout if result.returncode == 0 else None


def workspace_file(path: str, cwd: Path) -> bytes | None:
    target = cwd / path
    return target.read_bytes() if target.is_file() else None


def definitions_by_revision(base: str, cwd: Path) -> list[dict[str, Any]]:
    """dvc's resolved plot definitions at `base` and in the workspace.

    Read through dvc itself so that templating, plot directories, stage-level plots and
    dvc.yaml files in subfolders resolve exactly as `dvc plots diff` resolves them.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(os.fspath(cwd)) as repo:
            shown = repo.plots.show(revs=[base, WORKSPACE])
    except DvcException as exc:
        raise ReviewError(f"cannot read the plot definitions: {exc}") from exc
    return [
        (shown.get(rev) or {}).get("definitions", {}).get("data", {}) for rev in (base, WORKSPACE)
    ]


def collect(base: str, cwd: Path) -> Review:
    """Run the diffs and find the changed plots; writes nothing."""
    check_revision(base, cwd)
    # Each dvc call spends about a second starting up: the two table diffs run side by side,
    # and beside the in-process read of the plot definitions (all read-only, no repo lock).
    with ThreadPoolExecutor(max_workers=2) as pool:
        metrics = pool.submit(_dvc, ["metrics", "diff", base, "--md"], cwd)
        params = pool.submit(_dvc, ["params", "diff", base, "--md"], cwd)
        definitions = definitions_by_revision(base, cwd)
        review = Review(base=base, metrics_md=metrics.result(), params_md=params.result())
    sources = merge_sources(*(plot_sources(d) for d in definitions))
    props = {k: v for d in definitions for k, v in plot_props(d).items()}  # workspace wins
    files = sorted({name for names in sources.values() for name in names})
    changed = changed_plots(
        sources,
        {name: git_file(base, name, cwd) for name in files},
        {name: workspace_file(name, cwd) for name in files},
    )
    log.info("%d of %d plots changed against %s", len(changed), len(sources), base)
    if not changed:
        return review

    payload = json.loads(_dvc(["plots", "diff", base, "--json"], cwd) or "{}")
    for plot_id, errors in (payload.get("errors") or {}).items():
        log.warning("dvc plots diff reported errors for %s: %s", plot_id, errors)
    specs = specs_from_plots_json(payload)
    for plot_id in [p for p in changed if p not in specs]:
        log.warning("plot %r changed but dvc plots diff did not draw it; left out", plot_id)
    drawn = [p for p in changed if p in specs]
    titles = [chart_title(plot_id, specs[plot_id]) for plot_id in drawn]
    review.charts = [
        Chart(
            title, stem, specs[plot_id], chart_text(title, specs[plot_id], props.get(plot_id), base)
        )
        for plot_id, title, stem in zip(drawn, titles, file_stems(titles), strict=True)
    ]
    return review


def write_outputs(review: Review, out_dir: Path) -> Path:
    """Write the images, plots.html and summary.md into `out_dir`; return summary.md's path."""
    try:
        import vl_convert as vlc  # imported here: it is large and only needed to draw
    except ImportError as exc:  # it comes with the `review` extra, not with the pipeline
        raise ReviewError('vl-convert is not installed: pip install -e ".[review]"') from exc

    out_dir.mkdir(parents=True, exist_ok=True)
    for chart in review.charts:
        if chart.spec is None:
            log.info("plot %r is an image plot: listed, not drawn", chart.title)
            continue
        try:
            # scale 2: sharp on high-density screens, where PR pages are mostly read
            (out_dir / f"{chart.stem}.png").write_bytes(vlc.vegalite_to_png(chart.spec, scale=2))
            (out_dir / f"{chart.stem}.svg").write_text(vlc.vegalite_to_svg(chart.spec))
        except ValueError as exc:  # vl-convert reports a spec it cannot draw as ValueError
            raise ReviewError(f"cannot draw plot {chart.title!r}: {exc}") from exc
        log.info("plot %r -> %s.png, .svg", chart.title, out_dir / chart.stem)
    if any(chart.spec is not None for chart in review.charts):
        page = build_html(review.base, review.charts, vlc.javascript_bundle())
        (out_dir / "plots.html").write_text(page, encoding="utf-8")
    summary = out_dir / "summary.md"
    summary.write_text(_summary(review, embed_images=True), encoding="utf-8")
    return summary


def _summary(review: Review, embed_images: bool) -> str:
    plots = [
        (c.title, f"{c.stem}.png" if c.spec is not None else None, c.text) for c in review.charts
    ]
    return build_summary(review.base, review.metrics_md, review.params_md, plots, embed_images)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(
        prog="python -m gym_churn_review",
        description="Summarise metric, param and plot changes against a base git revision.",
    )
    cli.add_argument("--base", required=True, help="git revision to compare with, e.g. origin/main")
    cli.add_argument("--out", required=True, type=Path, help="folder for summary.md, images, html")
    cli.add_argument(
        "--summary-file",
        # empty = none: the same command then runs where $GITHUB_STEP_SUMMARY is unset
        type=lambda value: Path(value) if value else None,
        help="also append the Markdown here ($GITHUB_STEP_SUMMARY); empty: don't",
    )
    args = cli.parse_args(argv)
    configure_logging()
    try:
        review = collect(args.base, Path.cwd())
        summary = write_outputs(review, args.out)
        if args.summary_file is not None:
            with args.summary_file.open("a", encoding="utf-8") as handle:
                handle.write(_summary(review, embed_images=False))
    except (ReviewError, OSError) as exc:
        log.error("%s", exc)
        return 1
    if review.nothing_changed:
        log.info("nothing changed against %s: no metric, param or plot changes", args.base)
    sys.stdout.write(f"{summary}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
