"""check_params: validate every section of params.yaml whenever any of it changes.

Each stage lists only the params keys it reads, so dvc runs no stage when a section nobody
reads appears (a misspelled `profil:`), and the typo would pass in silence. This stage
depends on the whole file: any edit re-runs it, and an unknown section, key or value stops
`dvc repro` with a message naming it and what exists.

Reads  --params   params.yaml
Writes nothing
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import load_params

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__).parse_args(argv)
    params = load_params(args.params)
    log.info("%s: valid (%s)", args.params, ", ".join(type(params).model_fields))


if __name__ == "__main__":
    exit_with(main())
