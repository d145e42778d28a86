"""preprocess: validate the raw export and add the engineered features.

Reads  --raw        the member export (CSV or parquet; never written to)
Writes --output     validated, typed members with engineered columns
       --metrics    metrics/preprocess.json: rows read, dropped (by reason) and written
Params base.target, preprocess.*
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.features import add_features
from gym_churn.io import load_params, read_table, write_json, write_table
from gym_churn.schema import check_export

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "raw", "output", "metrics").parse_args(argv)
    params = load_params(args.params)
    cfg, target = params.preprocess, params.base.target
    members, counts = check_export(
        read_table(args.raw), cfg, target=target, duplicates=cfg.duplicates, source=args.raw
    )
    processed = add_features(members, cfg.features)
    write_table(processed, args.output)
    write_json({**counts, "rows_written": len(processed)}, args.metrics)
    log.info("%d members, %d columns -> %s", len(processed), processed.shape[1], args.output)


if __name__ == "__main__":
    exit_with(main())
