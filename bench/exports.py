"""Seeded, realistic member exports "from other chains", for testing the template on data that
is not the bundled file.

    python bench/exports.py --source data/raw/gym_churn.csv --out DIR [--only NAME ...] [--csv]

Writes into DIR (NAME in parentheses):

- (snake)    snake.csv: the bundled members with snake_case names, an ID, a text `club`, no
  `Phone`, "Yes"/"No" labels and the columns reordered.
- (telco)    telco.csv: a synthetic subscription business (not gym data), 6,000 customers, with
  an ID, a signup date, free-text notes, text categoricals, blanks and "True"/"False" labels;
  churn is the majority class and its log-odds are linear (logistic regression is the right
  model family there).
- (majority) majority.csv, `;`-delimited: the bundled members renamed, a text contract plan, a
  join date, "F"/"M", "yes"/"no" labels, blanks, churners subsampled up to the majority.
- (scale)    scale_cat.parquet and scale_num.parquet (CSV with --csv): 100,000 synthetic members,
  8 text categoricals + 12 numerics, and the numeric-only equivalent of the same rows.

Every builder is a pure function of its inputs and `seed` (numpy's default_rng), so the same
call gives the same frame. Only the standard library, numpy, pandas and pyarrow are used.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = PROJECT / "data" / "raw" / "gym_churn.csv"
SEED = 0
EXPORT_DATE = pd.Timestamp("2024-06-30")
DAYS_PER_MONTH = 30.4375

SOURCE_COLUMNS = (
    "gender", "Near_Location", "Partner", "Promo_friends", "Phone", "Contract_period",
    "Group_visits", "Age", "Avg_additional_charges_total", "Month_to_end_contract", "Lifetime",
    "Avg_class_frequency_total", "Avg_class_frequency_current_month", "Churn",
)  # fmt: skip
SOURCE_TARGET = "Churn"

CLUBS = ("North", "South", "East", "West", "Centre")

TELCO_ROWS = 6_000
TELCO_CHURN = 0.60
TELCO_CONTRACTS = ("month-to-month", "one year", "two year")
TELCO_PAYMENTS = ("electronic check", "mailed check", "bank transfer", "credit card")
US_STATES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
    "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas",
    "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota",
    "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey",
    "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon",
    "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
    "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
)  # fmt: skip
TELCO_BLANKS = {"data_gb": 0.03, "age": 0.02}

MAJORITY_CHURN = 0.60
MAJORITY_BLANKS = 0.02
MAJORITY_NAMES = {
    "gender": "Gender",
    "Near_Location": "LivesNearby",
    "Partner": "CorporatePartner",
    "Promo_friends": "ReferredByFriend",
    "Phone": "PhoneOnFile",
    "Contract_period": "contract_plan",
    "Group_visits": "GroupClasses",
    "Age": "Age",
    "Avg_additional_charges_total": "ExtraSpendTotal",
    "Month_to_end_contract": "ContractMonthsLeft",
    "Lifetime": "MembershipMonths",
    "Avg_class_frequency_total": "VisitsPerWeek",
    "Avg_class_frequency_current_month": "VisitsPerWeekLastMonth",
    "Churn": "left",
}
MAJORITY_PLANS = {1: "monthly", 6: "half-year", 12: "annual"}

SCALE_ROWS = 100_000
SCALE_CHURN = 0.25
# name -> levels; `plan` and `tier` are ordinal (their effect rises with the level), the others
# nominal (random effects per level).
SCALE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "plan": ("basic", "plus", "premium"),
    "channel": ("web", "app", "store", "phone"),
    "payment": ("card", "direct debit", "cash", "invoice", "voucher"),
    "segment": tuple(f"segment_{chr(ord('A') + i)}" for i in range(6)),
    "device": ("android", "ios", "windows", "mac", "linux", "tablet", "tv", "none"),
    "tier": tuple(f"tier_{i:02d}" for i in range(1, 13)),
    "city": tuple(f"city_{i:02d}" for i in range(1, 26)),
    "region": tuple(f"region_{i:02d}" for i in range(1, 51)),
}
SCALE_NUMERIC = (
    "tenure_months", "monthly_fee", "visits_30d", "visits_90d", "support_calls", "discount_pct",
    "age", "days_since_last_visit", "late_payments", "app_sessions", "referrals", "extra_spend",
)  # fmt: skip
SCALE_ORDER = (
    "plan", "tenure_months", "monthly_fee", "channel", "visits_30d", "visits_90d", "payment",
    "support_calls", "segment", "discount_pct", "age", "device", "days_since_last_visit",
    "late_payments", "tier", "app_sessions", "city", "referrals", "region", "extra_spend",
)  # fmt: skip

log = logging.getLogger("exports")


# --------------------------------------------------------------------------- helpers


def _check_source(source: pd.DataFrame) -> None:
    missing = [c for c in SOURCE_COLUMNS if c not in source.columns]
    if missing:
        raise ValueError(f"source lacks the bundled columns {missing}")


def _draw(rng: np.random.Generator, levels: Sequence[str], n: int, p=None) -> np.ndarray:
    """`n` draws from `levels` (probabilities `p`); every level appears at least once when
    n >= len(levels), so level counts do not depend on luck."""
    k = len(levels)
    codes = rng.choice(k, size=n, p=p)
    if n >= k:
        codes[rng.choice(n, size=k, replace=False)] = np.arange(k)
    return np.asarray(levels, dtype=object)[codes]


def _codes(values: np.ndarray, levels: Sequence[str]) -> np.ndarray:
    lookup = {level: i for i, level in enumerate(levels)}
    return np.array([lookup[v] for v in values], dtype=np.int64)


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return (x - x.mean()) / (x.std() or 1.0)


def _intercept_for(eta: np.ndarray, rate: float) -> float:
    """The intercept b with mean(sigmoid(b + eta)) == rate (bisection: the mean is monotone)."""
    lo, hi = -30.0, 30.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(mid + eta)))) < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _bernoulli(rng: np.random.Generator, eta: np.ndarray, rate: float) -> np.ndarray:
    prob = 1.0 / (1.0 + np.exp(-(_intercept_for(eta, rate) + eta)))
    return rng.random(len(eta)) < prob


def _blank_rows(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """A boolean mask with exactly round(share * n) True rows, at random."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=round(share * n), replace=False)] = True
    return mask


def _iso_dates_before(rng: np.random.Generator, months: np.ndarray) -> np.ndarray:
    """ISO dates `months` whole months (plus 0-27 days) before the export date."""
    days = np.round(np.asarray(months, dtype=float) * DAYS_PER_MONTH)
    days = days + rng.integers(0, 28, size=len(days))
    dates = EXPORT_DATE - pd.to_timedelta(days, unit="D")
    return np.asarray(dates.strftime("%Y-%m-%d"), dtype=object)


# --------------------------------------------------------------------------- builders


def snake(source: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """The bundled members in another chain's naming: same rows and values, but `Phone`
    dropped, every name snake_case (`Near_Location` -> `near_location`, `Churn` -> `churn`),
    a `member_id` ("M000000", ...) inserted first, a text `club` (North/South/East/West/Centre,
    drawn at random, unrelated to churn) added, `churn` as "Yes"/"No" and the columns after
    `member_id` in a shuffled order."""
    _check_source(source)
    rng = np.random.default_rng(seed)
    frame = source.loc[:, [c for c in SOURCE_COLUMNS if c != "Phone"]].reset_index(drop=True)
    frame.columns = [c.lower() for c in frame.columns]
    frame["churn"] = np.where(frame["churn"].to_numpy() == 1, "Yes", "No")
    frame["club"] = _draw(rng, CLUBS, len(frame))
    columns = list(frame.columns)
    order = list(rng.permutation(columns))
    while order == columns:  # a permutation that keeps the order would not test anything
        order = list(rng.permutation(columns))
    frame = frame.loc[:, order]
    frame.insert(0, "member_id", [f"M{i:06d}" for i in range(len(frame))])
    return frame


def telco(rows: int = TELCO_ROWS, seed: int = SEED) -> pd.DataFrame:
    """A different subscription business (a mobile/broadband provider), built from scratch,
    not from gym data. Unlike the bundled file: an integer ID `customer_id`, an ISO date
    `signup_date`, free-text `notes` (mostly unique, unrelated to churn), text categoricals
    `region` (50 US states), `contract_type` (3 levels) and `payment_method` (4), a Yes/No text
    binary `senior`, numerics `monthly_fee`, `tenure_months` (0..72), `support_calls`,
    `data_gb` (3% blank) and `age` (2% blank), and the target `churned` as the text
    "True"/"False", with "True" the MAJORITY class (about 60%).

    The churn log-odds are an additive linear function of the standardised numerics (drawn
    before blanking) plus per-level offsets of the categoricals and `senior`, so logistic
    regression on one-hot categoricals is the right model family: trees can only approximate
    it."""
    rng = np.random.default_rng(seed)
    contract = _draw(rng, TELCO_CONTRACTS, rows, p=[0.55, 0.25, 0.20])
    payment = _draw(rng, TELCO_PAYMENTS, rows, p=[0.34, 0.20, 0.23, 0.23])
    region_p = rng.gamma(6.0, size=len(US_STATES))
    region = _draw(rng, US_STATES, rows, p=region_p / region_p.sum())
    senior = rng.random(rows) < 0.18
    age = np.where(senior, rng.integers(65, 86, size=rows), rng.integers(18, 65, size=rows))
    contract_code = _codes(contract, TELCO_CONTRACTS)
    tenure_scale = np.array([10.0, 24.0, 38.0])[contract_code]
    tenure = np.clip(np.round(rng.gamma(1.6, tenure_scale / 1.6)), 0, 72).astype(np.int64)
    data_gb = np.round(rng.lognormal(np.log(12.0), 0.7, size=rows), 1)
    fee = 18.0 + 1.6 * data_gb + np.array([12.0, 6.0, 0.0])[contract_code]
    fee = np.round(fee + rng.normal(0.0, 8.0, size=rows).clip(-15, 30), 2)
    calls = rng.poisson(0.6 + 0.8 * (contract_code == 0) + 0.01 * age, size=rows)

    eta = (
        0.55 * _standardise(fee)
        - 0.85 * _standardise(tenure)
        + 0.50 * _standardise(calls)
        - 0.25 * _standardise(data_gb)
        - 0.20 * _standardise(age)
        + 0.35 * senior
        + np.array([0.9, -0.3, -1.1])[contract_code]
        + np.array([0.45, 0.05, -0.2, -0.3])[_codes(payment, TELCO_PAYMENTS)]
        + rng.normal(0.0, 0.35, size=len(US_STATES))[_codes(region, US_STATES)]
    )
    churned = _bernoulli(rng, eta, TELCO_CHURN)

    data_gb = np.where(_blank_rows(rng, rows, TELCO_BLANKS["data_gb"]), np.nan, data_gb)
    age_blank = _blank_rows(rng, rows, TELCO_BLANKS["age"])
    frame = pd.DataFrame(
        {
            "customer_id": 100_000 + rng.choice(900_000, size=rows, replace=False),
            "signup_date": _iso_dates_before(rng, tenure),
            "region": region,
            "contract_type": contract,
            "payment_method": payment,
            "senior": np.where(senior, "Yes", "No"),
            "age": pd.arrays.IntegerArray(age.astype(np.int64), age_blank),
            "tenure_months": tenure,
            "monthly_fee": fee,
            "data_gb": data_gb,
            "support_calls": calls.astype(np.int64),
            "notes": _notes(rng, rows),
            "churned": np.where(churned, "True", "False"),
        }
    )
    return frame


_NOTE_TOPICS = (
    "billing", "roaming charges", "a slow connection", "the router", "a late payment",
    "a price increase", "the contract terms", "a dropped call", "the mobile app", "a refund",
    "porting a number", "the data allowance", "an outage", "a SIM replacement",
)  # fmt: skip
_NOTE_TEMPLATES = (
    "Called about {topic} on {date}; ticket #{ticket} closed by {agent}.",
    "Customer asked about {topic}. Agent {agent} offered {pct}% off for {k} months.",
    "Complained about {topic} (ticket #{ticket}), follow-up due {date}.",
    "Chat on {date}: questions on {topic}, no action needed (case {ticket}).",
    "Visited the store on {date} regarding {topic}; referred to {agent}, case {ticket}.",
    "Email {ticket}: wants a callback about {topic}.",
    "Satisfied after {topic} was fixed on {date} by {agent}.",
    "Requested paper bills; {agent} noted {topic} as well (ref {ticket}).",
    "No contact logged since {date}; last invoice {ticket}.",
    "Asked for a plan review on {date}, {k} devices on the account; mentioned {topic}.",
)  # fmt: skip
_NOTE_AGENTS = ("Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Greg", "Hiro", "Ines", "Jon")


def _notes(rng: np.random.Generator, rows: int) -> list[str]:
    """Free text, one note per row, from varied templates with ticket numbers and dates, so
    nearly every value is unique."""
    templates = rng.integers(0, len(_NOTE_TEMPLATES), size=rows)
    topics = rng.integers(0, len(_NOTE_TOPICS), size=rows)
    agents = rng.integers(0, len(_NOTE_AGENTS), size=rows)
    tickets = rng.integers(10_000, 1_000_000, size=rows)
    days = rng.integers(0, 900, size=rows)
    dates = (EXPORT_DATE - pd.to_timedelta(days, unit="D")).strftime("%d %b %Y")
    pcts = rng.choice([5, 10, 15, 20, 25], size=rows)
    ks = rng.integers(2, 7, size=rows)
    return [
        _NOTE_TEMPLATES[t].format(
            topic=_NOTE_TOPICS[c], agent=_NOTE_AGENTS[a], ticket=tk, date=d, pct=p, k=k
        )
        for t, c, a, tk, d, p, k in zip(
            templates, topics, agents, tickets, dates, pcts, ks, strict=True
        )
    ]


def majority(source: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """The bundled members as a chain whose export has churn as the MAJORITY class (about 60%):
    every churner is kept and retained members are subsampled at random. Also unlike the
    bundled file: names in another style without spaces (`Near_Location` -> `LivesNearby`,
    `Avg_class_frequency_current_month` -> `VisitsPerWeekLastMonth`, ...; see MAJORITY_NAMES),
    `Contract_period` replaced by the text `contract_plan` ("monthly"/"half-year"/"annual"),
    an integer ID `member_no` (50000 + the row's position in the bundled file), an ISO date
    `joined_on` (`Lifetime` months before the export date), `Gender` as "M" (1)/"F" (0), 2%
    blanks in `ExtraSpendTotal` and the target `left` as lowercase "yes"/"no". Meant to be
    written with ";" as the delimiter (see write_majority)."""
    _check_source(source)
    rng = np.random.default_rng(seed)
    frame = source.loc[:, list(SOURCE_COLUMNS)].reset_index(drop=True)
    churner = frame[SOURCE_TARGET].to_numpy() == 1
    stayers = np.flatnonzero(~churner)
    n_stay = min(len(stayers), round(churner.sum() * (1 - MAJORITY_CHURN) / MAJORITY_CHURN))
    keep = np.sort(np.concatenate([np.flatnonzero(churner), rng.choice(stayers, n_stay, False)]))
    frame = frame.iloc[keep].reset_index(drop=True)
    unknown = sorted(set(frame["Contract_period"]) - set(MAJORITY_PLANS))
    if unknown:
        raise ValueError(f"Contract_period values {unknown} have no plan name")

    frame["gender"] = np.where(frame["gender"].to_numpy() == 1, "M", "F")
    frame["Contract_period"] = frame["Contract_period"].map(MAJORITY_PLANS)
    frame[SOURCE_TARGET] = np.where(frame[SOURCE_TARGET].to_numpy() == 1, "yes", "no")
    blanks = _blank_rows(rng, len(frame), MAJORITY_BLANKS)
    frame.loc[blanks, "Avg_additional_charges_total"] = np.nan
    frame = frame.rename(columns=MAJORITY_NAMES)
    frame.insert(0, "joined_on", _iso_dates_before(rng, frame["MembershipMonths"].to_numpy()))
    frame.insert(0, "member_no", 50_000 + keep)
    return frame


def scale(rows: int = SCALE_ROWS, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two synthetic exports of the same `rows` members (default 100,000), for speed and
    memory tests: `scale_cat` with an ID `id`, 8 text categoricals (3 to 50 levels, see
    SCALE_CATEGORIES), 12 numerics (ints and floats) and the target `churn` as 0/1; and
    `scale_num`, the same rows and names with every categorical replaced by its integer code
    (the position of the level in SCALE_CATEGORIES). No blanks. Churn is about 25%; its
    log-odds mix linear effects, per-level offsets and interactions (tenure x plan,
    fee x discount, support calls x late payments, visits x tenure, channel x app sessions)."""
    rng = np.random.default_rng(seed)
    codes: dict[str, np.ndarray] = {}
    effects: dict[str, np.ndarray] = {}
    for name, levels in SCALE_CATEGORIES.items():
        k = len(levels)
        p = rng.dirichlet(np.full(k, 4.0))
        codes[name] = _codes(_draw(rng, levels, rows, p=p), levels)
        spread = rng.normal(0.0, 0.4, size=k)
        effects[name] = np.sort(spread) if name in {"plan", "tier"} else spread

    plan = codes["plan"]
    tenure = np.clip(np.round(rng.exponential(14.0 + 6.0 * plan, size=rows)), 0, 120)
    fee = np.round(25.0 + 15.0 * plan + 0.8 * codes["tier"] + rng.normal(0, 6, rows), 2)
    visits_30 = rng.poisson(rng.gamma(2.0, 3.0, size=rows))
    visits_90 = visits_30 + rng.poisson(2.0 * visits_30 + 1.0)
    calls = rng.poisson(0.8, size=rows)
    discount = np.where(rng.random(rows) < 0.6, 0.0, np.round(rng.uniform(5, 30, rows), 1))
    age = rng.integers(18, 81, size=rows)
    days_since = np.round(rng.exponential(6.0 + 40.0 / (1.0 + visits_30))).astype(np.int64)
    late = rng.poisson(0.3 + 0.2 * (codes["payment"] == 3), size=rows)
    app = rng.poisson(np.where(codes["channel"] == 1, 20.0, 6.0))
    referrals = rng.poisson(0.4, size=rows)
    extra = np.round(rng.lognormal(3.0, 1.0, size=rows), 2)
    numeric = {
        "tenure_months": tenure.astype(np.int64),
        "monthly_fee": fee,
        "visits_30d": visits_30.astype(np.int64),
        "visits_90d": visits_90.astype(np.int64),
        "support_calls": calls.astype(np.int64),
        "discount_pct": discount,
        "age": age.astype(np.int64),
        "days_since_last_visit": days_since,
        "late_payments": late.astype(np.int64),
        "app_sessions": app.astype(np.int64),
        "referrals": referrals.astype(np.int64),
        "extra_spend": extra,
    }
    z = {name: _standardise(values) for name, values in numeric.items()}
    eta = (
        -0.7 * z["tenure_months"]
        + 0.3 * z["monthly_fee"]
        - 0.5 * z["visits_30d"]
        + 0.2 * z["visits_90d"]
        + 0.3 * z["support_calls"]
        - 0.1 * z["age"]
        + 0.5 * z["days_since_last_visit"]
        - 0.2 * z["referrals"]
        - 0.15 * z["extra_spend"]
        + sum(effects[name][codes[name]] for name in SCALE_CATEGORIES)
        # interactions
        - 0.9 * z["tenure_months"] * (plan == 2)
        + 0.5 * z["monthly_fee"] * z["discount_pct"]
        + 0.45 * z["support_calls"] * z["late_payments"]
        + 0.4 * z["visits_30d"] * z["tenure_months"]
        - 0.7 * z["app_sessions"] * (codes["channel"] == 1)
    )
    churn = _bernoulli(rng, eta, SCALE_CHURN).astype(np.int64)

    ids = np.arange(1, rows + 1, dtype=np.int64)
    cat = {name: np.asarray(SCALE_CATEGORIES[name], dtype=object)[c] for name, c in codes.items()}
    scale_cat = pd.DataFrame(
        {"id": ids, **{n: cat[n] if n in cat else numeric[n] for n in SCALE_ORDER}, "churn": churn}
    )
    scale_num = pd.DataFrame(
        {"id": ids, **{n: codes[n] if n in codes else numeric[n] for n in SCALE_ORDER}}
    )
    scale_num["churn"] = churn
    return scale_cat, scale_num


# --------------------------------------------------------------------------- writing


def _log_written(path: Path, frame: pd.DataFrame, target: str, positive: object) -> None:
    rate = float((frame[target] == positive).mean())
    log.info("wrote %s: %d rows x %d columns, %s=%r %.1f%%", path, *frame.shape, target,
             positive, 100 * rate)  # fmt: skip


def write_snake(out: Path, source: pd.DataFrame, seed: int, csv: bool) -> list[Path]:
    frame = snake(source, seed)
    path = out / "snake.csv"
    frame.to_csv(path, index=False)
    _log_written(path, frame, "churn", "Yes")
    return [path]


def write_telco(out: Path, source: pd.DataFrame | None, seed: int, csv: bool) -> list[Path]:
    frame = telco(seed=seed)
    path = out / "telco.csv"
    frame.to_csv(path, index=False)
    _log_written(path, frame, "churned", "True")
    return [path]


def write_majority(out: Path, source: pd.DataFrame, seed: int, csv: bool) -> list[Path]:
    frame = majority(source, seed)
    path = out / "majority.csv"
    frame.to_csv(path, index=False, sep=";")
    _log_written(path, frame, "left", "yes")
    return [path]


def write_scale(out: Path, source: pd.DataFrame | None, seed: int, csv: bool) -> list[Path]:
    paths = []
    for name, frame in zip(("scale_cat", "scale_num"), scale(seed=seed), strict=True):
        if csv:
            path = out / f"{name}.csv"
            frame.to_csv(path, index=False)
        else:
            path = out / f"{name}.parquet"
            frame.to_parquet(path, index=False, engine="pyarrow")
        _log_written(path, frame, "churn", 1)
        paths.append(path)
    return paths


Writer = Callable[[Path, pd.DataFrame | None, int, bool], list[Path]]
WRITERS: dict[str, Writer] = {
    "snake": write_snake,
    "telco": write_telco,
    "majority": write_majority,
    "scale": write_scale,
}
NEEDS_SOURCE = frozenset({"snake", "majority"})


def write_exports(
    source: Path, out: Path, only: Sequence[str] | None = None, seed: int = SEED, csv: bool = False
) -> list[Path]:
    """Writes the exports named in `only` (all by default) into `out`; returns their paths."""
    names = list(dict.fromkeys(only)) if only else list(WRITERS)
    unknown = [n for n in names if n not in WRITERS]
    if unknown:
        raise ValueError(f"unknown exports {unknown}; choose from {list(WRITERS)}")
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(source) if NEEDS_SOURCE.intersection(names) else None
    paths: list[Path] = []
    for name in names:
        paths += WRITERS[name](out, frame, seed, csv)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="the bundled export (default: %(default)s)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--only", nargs="+", choices=list(WRITERS), metavar="NAME",
                        help=f"only these exports, of {', '.join(WRITERS)}")  # fmt: skip
    parser.add_argument("--csv", action="store_true", help="write scale_* as CSV, not Parquet")
    parser.add_argument("--seed", type=int, default=SEED, help="default: %(default)s")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    write_exports(args.source, args.out, args.only, args.seed, args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
