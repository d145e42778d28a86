"""The `gym-churn` command: `init` starts the template on a new export, `score` scores one,
`campaign` lists whom to contact from a scored export, `uplift` reads a campaign's hold-out
a month later.

    gym-churn init --data data/raw/export.csv --target churn [--positive Yes] [--id member_id]
                   [--snapshot month]
    gym-churn score --model models --input new_month.csv --output scored.csv
    gym-churn campaign --scored scored.csv --output campaign.csv [--params params.yaml]
    gym-churn uplift --campaign reports/campaign.csv --outcomes next_month.csv [--model models]

`init` drafts a data contract from the export (data/contracts/<file name>.yaml), points
dvc.yaml at both, prints what to review, then checks the export against the draft. Then
`dvc repro` runs the whole pipeline on the export.

Exit status of init: 0 the contract is written and the export meets it; 3 the contract is
written and dvc.yaml pointed, but the export breaks a rule of the draft (repeated members,
blank labels or IDs): each finding is reported with the contract key that would accept it
(e.g. `duplicates: drop`); edit the contract, then `dvc repro`; 1 nothing written (no such
file, no usable column, contract exists without --force, ...); 2 wrong arguments.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

import yaml

from gym_churn.cli import configure_logging, exit_with
from gym_churn.contract.checks import check_export
from gym_churn.contract.draft import draft_contract
from gym_churn.contract.spec import parse_contract
from gym_churn.errors import ContractError, DataValidationError, GymChurnError
from gym_churn.io import read_table, write_text

log = logging.getLogger(__name__)

# init wrote the draft, but the export breaks it: edit the keys named, then dvc repro
EXIT_FINDINGS = 3

HEADER = """\
# Data contract drafted by `gym-churn init` from {data}.
# Review it, then run `dvc repro`. Kinds, bounds and allowed values were inferred from the
# data; meaning was not. What to set by hand (README "Your own export"):
#   role:     lever (the club can act on it), attribute (fixed about the member), behaviour
#             (what members do after joining), tenure (months since joining; one column)
#   population: who the rows are (one / many: member(s), customer(s), employee(s)) and who
#             acts on the report (actor: club, company, bank); drafted from the file name
#   label, unit, high, low: the words the report, portraits and reasons use (label drafted
#             from the column name)
#   segment:  false for columns the segments should not be built on
#   engineered, relations, findings: features computed from columns, rules across columns,
#             claims to re-check on every run (see data/contracts/gym_churn.yaml)
"""


def repoint_pipeline(dvc_yaml: str, data: str, contract: str) -> str:
    """dvc.yaml's text with `vars.paths.raw` and `.contract` set, and every later whole
    occurrence of their old values (the stages spell paths out) replaced; comments kept."""
    out = dvc_yaml
    for key, value in (("raw", data), ("contract", contract)):
        entry = re.search(rf"^(\s+{key}:[ \t]*)(\S[^#\n]*?)[ \t]*$", out, flags=re.MULTILINE)
        if entry is None:
            raise ContractError(f"dvc.yaml: no `{key}:` entry under vars.paths to point at it")
        old, end = entry.group(2), entry.start(2) + len(value)
        out = out[: entry.start(2)] + value + out[entry.end(2) :]
        later = re.sub(rf"(?<![\w/.-]){re.escape(old)}(?![\w/.-])", lambda _, v=value: v, out[end:])
        out = out[:end] + later
    return out


def _init(args: argparse.Namespace) -> int:
    """Draft, write and point first; then check the export against the draft. A finding in
    the data never stops the draft from being written: the user edits the key it names."""
    data = Path(args.data)
    raw = read_table(data)
    draft = draft_contract(
        raw, target=args.target, positive=args.positive, id_column=args.id,
        snapshot=args.snapshot, name=data.stem,
    )  # fmt: skip
    contract = parse_contract(draft.contract, source="drafted contract")
    target = Path(args.contract or f"data/contracts/{data.stem}.yaml")
    if target.exists() and not args.force:
        raise ContractError(f"{target}: exists; pass --force to replace it, or --contract PATH")
    text = HEADER.format(data=data) + yaml.safe_dump(
        draft.contract, sort_keys=False, allow_unicode=True, width=100
    )
    dvc_yaml = Path(args.dvc_yaml)
    pipeline = repoint_pipeline(dvc_yaml.read_text(encoding="utf-8"), str(data), str(target))
    write_text(text, target)
    write_text(pipeline, dvc_yaml)

    feats = contract.features
    kinds = {k: [c for c, f in feats.items() if f.kind == k] for k in
             ("binary", "integer", "numeric", "categorical")}  # fmt: skip
    lines = [
        f"Wrote {target} and pointed {dvc_yaml} at {data}.",
        f"{len(raw)} rows; target {contract.target.column!r}: "
        f"{contract.target.positive} = churned; "
        f"member key: {contract.key}"
        + ("" if contract.id else " (row number; pass --id COLUMN to key by an ID)")
        + (f"; snapshot: {contract.snapshot}" if contract.snapshot else ""),
    ]
    lines += [f"  {k}: {', '.join(v)}" for k, v in kinds.items() if v]
    lines += [f"  left out: {c} ({why})" for c, why in contract.ignore.items()]
    left_out = tuple(f"{c}:" for c in contract.ignore)
    lines += [f"  note: {n}" for n in draft.notes if not n.startswith(left_out)]
    lines += [
        "Review before trusting the report:",
        "  - roles: every feature is an 'attribute' for now. Mark the levers the "
        f"{contract.population.actor} can act on (role: lever), what "
        f"{contract.population.many} do after joining (role: behaviour) and the months since "
        "joining (role: tenure).",
        f"  - population: the report calls one row a {contract.population.one!r}, several "
        f"{contract.population.many!r}, and who acts a {contract.population.actor!r} (guessed "
        "from the file name); set population.one, .many and .actor if that is wrong.",
        "  - words: label/unit/high/low for each feature, so the report speaks your language.",
        "  - rules: bounds (min/max) and allowed values only cover what this file holds.",
    ]
    try:
        check_export(raw, contract, source=str(data))
    except DataValidationError as exc:
        # every finding, each with the key of the contract that would accept it
        lines += [
            f"The export breaks the draft; `dvc repro` would stop at preprocess until {target} "
            "is edited (or the export fixed) as each finding says:",
            *(f"  {line.strip()}" for line in str(exc).splitlines()[1:]),
            f"Then: dvc repro (exit status {EXIT_FINDINGS}: contract written, findings to act on)",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        log.warning("%s: the export breaks the drafted contract; see each finding above", data)
        return EXIT_FINDINGS
    lines.append("Then: dvc repro")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _uplift(args: argparse.Namespace) -> None:
    from gym_churn.scoring.campaign import campaign_outcome, check_campaign_list
    from gym_churn.scoring.load import bundle_contract

    contract = bundle_contract(args.model)
    target = contract.target.column
    outcomes = check_export(
        read_table(args.outcomes), contract, source=args.outcomes, duplicates="keep"
    ).members
    listed = read_table(args.campaign)
    check_campaign_list(listed, contract, args.campaign)
    keys = [k for k in contract.keys if k in listed and k in outcomes]
    try:
        r = campaign_outcome(listed, outcomes, keys, target)
    except ValueError as exc:
        raise ContractError(f"{args.outcomes}: {exc}") from exc
    label = contract.target.label
    verdict = (
        "the campaign has not shown an effect yet (the interval includes 0)"
        if r["kept_points_low"] <= 0 <= r["kept_points_high"]
        else "the offer kept members (the interval is above 0)"
        if r["kept_points_low"] > 0
        else "contacted members churned more (the interval is below 0)"
    )
    sys.stdout.write(
        f"{r['held_out']} held-out members: {r['held_out_churn']:.1%} {label}\n"
        f"{r['contacted']} contacted members: {r['contacted_churn']:.1%} {label}\n"
        f"difference: {r['kept_points']:.1f} percentage points kept by the offer "
        f"(95% CI {r['kept_points_low']:.1f} to {r['kept_points_high']:.1f}): {verdict}\n"
        + (
            f"implied success rate (share of would-be churners kept): {r['success_rate']:.0%} "
            f"(95% CI {r['success_rate_low']:.0%} to {r['success_rate_high']:.0%})\n"
            if r["held_out_churned"]
            else ""
        )
        + (f"{r['missing']} listed members are not in the outcomes file\n" if r["missing"] else "")
    )


def _campaign(args: argparse.Namespace) -> None:
    """The campaign stage's list for a newly scored export: same economics (params.yaml's
    `campaign` section, base.seed for the hold-out), same optimal share and budget cap."""
    from gym_churn.io import load_params, sidecar, write_table
    from gym_churn.scoring.campaign import Economics, campaign_list, holdout_size, plan
    from gym_churn.scoring.load import bundle_contract

    key = bundle_contract(args.model).key
    params = load_params(args.params)
    cfg = params.campaign
    eco = Economics.of(cfg)
    scored = read_table(args.scored)
    needed = [c for c in (key, "churn_probability", "at_risk") if c not in scored]
    if needed:
        raise ContractError(
            f"{args.scored}: not a scored export (no {', '.join(needed)}); "
            "score the export first with `gym-churn score`"
        )
    chosen = plan(scored["churn_probability"].to_numpy(), eco, cfg.budget)
    p = scored["churn_probability"].to_numpy()
    churn = float(p[chosen.listed].mean()) if chosen.contacts else 0.0
    held_out, power = holdout_size(
        chosen.contacts, churn, cfg.min_effect_points, cfg.power, cfg.holdout_max_share
    )
    table = campaign_list(scored, key, chosen.contacts, eco, held_out, params.base.seed)
    curve = sidecar(args.output, "profit.csv")
    write_table(chosen.curve, curve)
    write_table(table, args.output)
    unexplained = int((scored.loc[chosen.listed, "at_risk"] == 0).sum())
    if unexplained:
        log.warning(
            "%d listed members are below the at-risk threshold, so the scored export has no "
            "reasons or lever for them", unexplained,
        )  # fmt: skip
    best = chosen.best
    held = int((table["group"] == "holdout").sum())
    sys.stdout.write(
        f"best share: contact the riskiest {best['contact_share']:.0%} "
        f"({int(best['contacted'])} members), expected profit {best['profit']:,.0f}\n"
        f"the budget of {cfg.budget:,.0f} pays for {chosen.affordable} offers\n"
        f"listed {chosen.contacts}: {chosen.contacts - held} to contact, {held} held out "
        f"(power {power:.0%} to detect {cfg.min_effect_points:g} points of churn) "
        f"-> {args.output} (profit curve: {curve})\n"
    )


def _score(argv: list[str]) -> int:
    from gym_churn.scoring.cli import main as score_main

    return score_main(argv)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gym-churn", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = p.add_subparsers(dest="command", required=True)
    init = sub.add_parser(
        "init", help="draft a data contract for an export and point the pipeline at it",
        description="Draft a data contract for an export, point dvc.yaml at both, then check "
        "the export against the draft.",
        epilog="exit status: 0 written and the export meets it; 3 written, but the export "
        "breaks the draft: each finding names the contract key to change (e.g. duplicates: "
        "drop), then dvc repro; 1 nothing written (error); 2 wrong arguments",
    )  # fmt: skip
    init.add_argument("--data", required=True, help="the export (CSV or parquet)")
    init.add_argument("--target", required=True, help="the column saying who churned")
    init.add_argument("--positive", help="the target value that means churned (e.g. Yes)")
    init.add_argument("--id", help="the column identifying members, carried into every output")
    init.add_argument("--snapshot", help="the column naming each row's month, when the export "
                      "holds one row per member per month")  # fmt: skip
    init.add_argument("--contract", help="where to write it (default data/contracts/<name>.yaml)")
    init.add_argument("--dvc-yaml", default="dvc.yaml", help="the pipeline file to point")
    init.add_argument("--force", action="store_true", help="replace an existing contract file")
    sub.add_parser("score", help="score an export with a trained model (see gym-churn-score -h)",
                   add_help=False)  # fmt: skip
    camp = sub.add_parser("campaign", help="whom to contact, from a scored export")
    camp.add_argument("--scored", required=True, help="gym-churn score's output")
    camp.add_argument("--output", required=True, help="the campaign list (.csv or .parquet)")
    camp.add_argument("--params", default="params.yaml", help="economics: its campaign section")
    camp.add_argument("--model", default="models", help="the model bundle (for the contract)")
    up = sub.add_parser("uplift", help="a month later: churn of contacted vs held-out members")
    up.add_argument("--campaign", required=True, help="the campaign list (reports/campaign.csv)")
    up.add_argument("--outcomes", required=True, help="the next export, with the target")
    up.add_argument("--model", default="models", help="the model bundle (for the contract)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["score"]:
        return _score(argv[1:])
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        code = {"init": _init, "campaign": _campaign, "uplift": _uplift}[args.command](args)
    except GymChurnError as exc:
        log.error("%s", exc)
        return 1
    return code or 0


def run() -> None:
    """The `gym-churn` console script."""
    exit_with(main())


if __name__ == "__main__":
    run()
