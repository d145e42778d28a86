"""One source, two forms: report.j2 holds the words, md.j2 and html.j2 the building blocks;
the HTML page is self-contained (figures as base64 PNG, styles inline, no request)."""

from __future__ import annotations

import base64
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined
from markupsafe import Markup

from gym_churn.report.content import ReportInputs, context

STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:52rem;
margin:1.5rem auto;padding:0 1rem;color:#1c2833;line-height:1.45;font-size:15px}
h1{font-size:1.5rem;margin:.2rem 0 .8rem}h2{font-size:1.2rem;margin-top:1.8rem;
border-bottom:1px solid #d5d8dc}h3{font-size:1.05rem}
#summary{background:#fdf2e9;border-left:6px solid #c0392b;padding:.4rem 1rem .2rem;
margin-bottom:1rem}#summary h2{border:none;margin-top:.4rem}#summary li{margin:.35rem 0}
figure{margin:.6rem 0}img{max-width:100%;height:auto}
code{background:#f4f6f7;padding:0 .2rem;font-size:.9em}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #d5d8dc;padding:.2rem .45rem;text-align:left;vertical-align:top}
#appendix{margin-top:3rem;border-top:4px double #aab7b8}
"""


def _squash(text: str) -> str:
    """Whitespace runs as one space (a template's line breaks inside a paragraph)."""
    out = re.sub(r"\s+", " ", str(text)).strip()
    return Markup(out) if isinstance(text, Markup) else out


def _upfirst(text: str) -> str:
    """The first letter in capitals, the rest as written (Jinja's capitalize lowers it)."""
    text = str(text)
    return text[:1].upper() + text[1:]


@cache
def _environment(html: bool) -> Environment:
    # Compiled templates are kept in Jinja's cache folder (in the system's temporary folder,
    # the user's own), one set per form: compiling them took a third of the report stage.
    # Jinja checks each against its template's source before using it, as Python does its
    # .pyc files.
    try:
        compiled = FileSystemBytecodeCache(pattern=f"gym-churn-{'html' if html else 'md'}-%s.cache")
    except (OSError, RuntimeError):  # no private temporary folder: compile every time
        compiled = None
    env = Environment(
        loader=PackageLoader("gym_churn.report", "templates"),
        bytecode_cache=compiled,
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["squash"] = _squash
    env.filters["upfirst"] = _upfirst
    return env


def _tidy_markdown(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def render(r: ReportInputs, html: bool, figures: dict[str, dict[str, str]]) -> str:
    """The report in one form; `figures`: key -> {"path": Markdown link, "data": data URI}."""
    env = _environment(html)
    ctx: dict[str, Any] = {**context(r), "figs": figures,
                           "blocks": "html.j2" if html else "md.j2"}  # fmt: skip
    body = env.get_template("report.j2").render(ctx)
    if not html:
        return _tidy_markdown(body)
    title = f"{ctx['w']['Many']} who may leave: {ctx['w']['name']}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">\n"
        f"<title>{Markup.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def figure_refs(paths: dict[str, Path], report_dir: Path) -> dict[str, dict[str, str]]:
    """Each existing figure as a Markdown link relative to the report and a data URI."""
    return {
        key: {"path": os.path.relpath(path, report_dir), "data": data_uri(path)}
        for key, path in paths.items()
        if path.is_file()
    }


def build_report(r: ReportInputs, figures: dict[str, dict[str, str]] | None = None) -> str:
    """The report as Markdown (figures linked)."""
    return render(r, html=False, figures=figures or {})


def build_html(r: ReportInputs, figures: dict[str, dict[str, str]] | None = None) -> str:
    """The report as one self-contained HTML page (figures embedded)."""
    return render(r, html=True, figures=figures or {})
