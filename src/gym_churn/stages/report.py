"""report: write reports/report.md from the metrics and figures of the other stages.

Reads  --evaluate, --cluster, --profile   metrics JSON files
       --evaluate-figures, --cluster-figures, --profile-figures   PNG folders
Writes --output   the Markdown report (figures linked relative to it)
Params none
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from gym_churn.cli import parser, stage_main
from gym_churn.io import read_json, write_bytes
from gym_churn.report import build_report

log = logging.getLogger(__name__)

FIGURES = {
    "evaluate_figures": ("roc", "gain", "calibration", "importance"),
    "cluster_figures": ("k_scan", "dendrogram"),
    "profile_figures": ("segments", "distributions", "correlations"),
}


@stage_main
def main(argv: list[str] | None = None) -> None:
    cli = parser(__doc__, "evaluate", "cluster", "profile", *FIGURES, "output", with_params=False)
    args = cli.parse_args(argv)
    out_dir = Path(args.output).parent
    figures = {
        name: os.path.relpath(Path(getattr(args, folder)) / f"{name}.png", out_dir)
        for folder, names in FIGURES.items()
        for name in names
    }
    text = build_report(
        read_json(args.evaluate), read_json(args.cluster), read_json(args.profile), figures
    )
    write_bytes(text.encode(), args.output)
    log.info("report -> %s", args.output)


if __name__ == "__main__":
    sys.exit(main())
