"""The report: reports/report.html (self-contained, for a marketer, with a data-science
appendix) and reports/report.md (the same words, for PR diffs), from the pipeline's outputs
and the data contract only. content.py computes and formats the numbers, templates/ hold the
words (report.j2, once for both forms), render.py renders, figures.py draws the marketer's
charts in the contract's words."""

from gym_churn.report.content import ReportInputs, context, finding_ci, finding_value
from gym_churn.report.render import figure_refs, render


def build_report(r: ReportInputs, figures: dict[str, dict[str, str]] | None = None) -> str:
    """The report as Markdown."""
    return render(r, html=False, figures=figures or {})


def build_html(r: ReportInputs, figures: dict[str, dict[str, str]] | None = None) -> str:
    """The report as one self-contained HTML page."""
    return render(r, html=True, figures=figures or {})


# names kept for callers of the former module
_finding_ci = finding_ci
_finding_value = finding_value

__all__ = ["ReportInputs", "build_html", "build_report", "context", "figure_refs"]
