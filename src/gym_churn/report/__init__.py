"""The report: reports/report.html (self-contained, for a marketer, with a data-science
appendix) and reports/report.md (the same words, for PR diffs), from the pipeline's outputs
and the data contract only. content.py computes and formats the numbers (fmt.py), templates/
hold the words (report.j2, once for both forms; md.j2 and html.j2 the building blocks),
render.py renders them, figures.py picks the marketer's charts (drawn by plots.py)."""
