"""preprocess: validate the raw export and add the engineered features.

Reads  --raw        the member export (CSV or parquet; never written to)
Writes --output     validated, typed members with engineered columns
       --metrics    metrics/preprocess.json: rows read, dropped (by reason) and written
Params base.target, preprocess.*
"""

from __future__ import annotations

import logging
import sys

from gym_churn.cli import parser, stage_main
from gym_churn.features import add_features
from gym_churn.io import load_params, read_table, write_json, write_table
from gym_churn.schema import apply_row_policies, required_columns, validate_members

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "raw", "output", "metrics").parse_args(argv)
    params = load_params(args.params)
    cfg, target = params.preprocess, params.base.target
    rows, counts = apply_row_policies(
        read_table(args.raw),
        required_columns(target),
        missing=cfg.missing,
        duplicates=cfg.duplicates,
        source=args.raw,
    )
    members = validate_members(
        rows,
        target=target,
        contract_periods=cfg.contract_periods,
        age_min=cfg.age_min,
        age_max=cfg.age_max,
        max_visits_per_week=cfg.max_visits_per_week,
        max_lifetime_months=cfg.max_lifetime_months,
        source=args.raw,
    )
    processed = add_features(members, cfg.features)
    write_table(processed, args.output)
    write_json({**counts, "rows_written": len(processed)}, args.metrics)
    log.info("%d members, %d columns -> %s", len(processed), processed.shape[1], args.output)


if __name__ == "__main__":
    sys.exit(main())
