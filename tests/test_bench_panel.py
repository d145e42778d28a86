"""bench/panel_cdnow.py: the monthly panel has one row per customer and month end, no feature
uses a purchase after its snapshot, and the target says "no purchase in the next K months",
blank where those months are not observed yet."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e_helpers import load_bench

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "data" / "examples" / "cdnow_panel.csv"
EXAMPLE_README = PROJECT / "data" / "examples" / "README.md"
FEATURES = [
    "cohort", "tenure_months", "purchases_1m", "spend_1m", "purchases_3m", "spend_3m",
    "purchases_total", "spend_total", "cds_total", "avg_basket", "months_since_last_purchase",
    "spend_tier", "bought_last_month", "repeat_buyer",
]  # fmt: skip
KEY = ["customer_id", "snapshot"]
FIRST, LAST = pd.Period("2020-01"), pd.Period("2020-12")
# (horizon K, active months A)
SETTINGS = [(1, 1), (2, 3), (3, 2), (3, 3)]
# the horizon does not enter the features: the leakage check varies the active months only
LEAKAGE_SETTINGS = [(1, 1), (3, 3)]


def _load_panel_module():
    """bench/ is not a package: import bench/panel_cdnow.py by its path."""
    return load_bench("panel_cdnow")


panel_cdnow = _load_panel_module()


def _transactions(rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "number_of_cds", "dollar_value"])
    return frame.assign(date=pd.to_datetime(frame["date"]))


def tiny() -> pd.DataFrame:
    """A handful of hand-made purchases in 2020 (two lines of one day are one purchase)."""
    return _transactions(
        [
            ("a", "2020-01-05", 1, 10.0),
            ("a", "2020-01-05", 2, 5.0),
            ("a", "2020-03-20", 1, 30.0),
            ("a", "2020-07-31", 1, 20.0),
            ("b", "2020-02-29", 3, 60.0),
            ("c", "2020-01-31", 4, 100.0),
            ("c", "2020-02-01", 1, 100.0),
            ("c", "2020-06-15", 1, 0.0),
            ("d", "2020-05-01", 2, 200.0),
            ("d", "2020-08-01", 1, 5.0),
            ("e", "2020-12-31", 1, 12.0),
        ]
    )


def random_transactions(customers: int = 30, seed: int = 0) -> pd.DataFrame:
    """Seeded purchases on random days of 2020, customers starting in different months."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(customers):
        days = rng.integers(0, 366, size=rng.integers(1, 8))
        for day in days:
            date = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(day))
            rows.append((f"{number:03d}", str(date.date()), int(rng.integers(1, 4)), 9.99))
    return _transactions(rows)


FRAMES = {"tiny": tiny, "random": random_transactions}


def _build(transactions: pd.DataFrame, horizon: int, active: int, observed=LAST) -> pd.DataFrame:
    return panel_cdnow.build_panel(transactions, FIRST, LAST, observed, horizon, active)


@functools.cache
def _panel(frame: str, horizon: int, active: int) -> pd.DataFrame:
    """The panel of FRAMES[frame], built once for the tests that only read it."""
    return _build(FRAMES[frame](), horizon, active)


def _months(transactions: pd.DataFrame) -> pd.Series:
    return transactions["date"].dt.to_period("M")


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize(("horizon", "active"), SETTINGS)
def test_one_row_per_customer_and_snapshot(frame: str, horizon: int, active: int) -> None:
    panel = _panel(frame, horizon, active)
    assert list(panel.columns) == list(panel_cdnow.PANEL_COLUMNS)
    assert not panel.duplicated(KEY).any()
    assert panel["snapshot"].is_monotonic_increasing


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize(("horizon", "active"), SETTINGS)
def test_rows_are_the_active_customers(frame: str, horizon: int, active: int) -> None:
    """A row for M exactly when the customer bought in one of the A months ending with M."""
    transactions = FRAMES[frame]()
    months = _months(transactions)
    panel = _build(transactions, horizon, active)
    for month in pd.period_range(FIRST, LAST, freq="M"):
        window = (months > month - active) & (months <= month)
        expected = set(transactions.loc[window, "customer_id"])
        assert set(panel.loc[panel["snapshot"] == str(month), "customer_id"]) == expected


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize(("horizon", "active"), LEAKAGE_SETTINGS)
def test_no_feature_uses_a_later_purchase(frame: str, horizon: int, active: int) -> None:
    """Dropping every purchase after M's last day leaves M's rows and features unchanged."""
    transactions = FRAMES[frame]()
    panel = _panel(frame, horizon, active)
    for month in pd.period_range(FIRST, LAST, freq="M"):
        known = transactions[transactions["date"] <= month.end_time]
        alone = panel_cdnow.build_panel(known, month, month, month, horizon, active)
        rows = panel[panel["snapshot"] == str(month)].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows[KEY + FEATURES], alone[KEY + FEATURES])


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize(("horizon", "active"), SETTINGS)
def test_target_is_no_purchase_in_the_next_k_months(frame: str, horizon: int, active: int) -> None:
    transactions = FRAMES[frame]()
    panel = _panel(frame, horizon, active)
    labelled = panel[panel["churned"].notna()]
    assert len(labelled) > 0
    for row in labelled.itertuples():
        month = pd.Period(row.snapshot, freq="M")
        own = transactions[transactions["customer_id"] == row.customer_id]
        later = own["date"].between(month.end_time, (month + horizon).end_time, inclusive="right")
        assert row.churned == ("No" if later.any() else "Yes"), (row.customer_id, row.snapshot)


@pytest.mark.parametrize(("horizon", "active"), SETTINGS)
@pytest.mark.parametrize("observed", ["2020-09", "2020-12"])
def test_target_is_blank_where_the_next_k_months_are_not_observed(
    horizon: int, active: int, observed: str
) -> None:
    end = pd.Period(observed, freq="M")
    panel = _build(random_transactions(), horizon, active, observed=end)
    months = panel["snapshot"].map(lambda text: pd.Period(text, freq="M"))
    unknown = months > end - horizon
    assert unknown.any()
    assert panel.loc[unknown, "churned"].isna().all()
    assert panel.loc[~unknown, "churned"].isin(["Yes", "No"]).all()


def test_features_of_one_customer_by_hand() -> None:
    """Customer a: two lines on 5 Jan (one purchase, $15, 3 CDs), then $30 on 20 Mar."""
    panel = _build(tiny(), horizon=2, active=3)
    row = panel[(panel["customer_id"] == "a") & (panel["snapshot"] == "2020-04")].iloc[0]
    expected = {
        "cohort": "Jan 2020", "tenure_months": 3, "purchases_1m": 0, "spend_1m": 0.0,
        "purchases_3m": 1, "spend_3m": 30.0, "purchases_total": 2, "spend_total": 45.0,
        "cds_total": 4, "avg_basket": 22.5, "months_since_last_purchase": 1,
        "spend_tier": "low", "bought_last_month": "No", "repeat_buyer": "Yes", "churned": "Yes",
    }  # fmt: skip
    assert row[list(expected)].to_dict() == expected
    # bought again on 31 July: not churned as of May (June, July ahead), churned as of April
    may = panel[(panel["customer_id"] == "a") & (panel["snapshot"] == "2020-05")].iloc[0]
    assert may["churned"] == "No"


@pytest.mark.parametrize(
    ("spend", "tier"),
    [(0.0, "low"), (49.99, "low"), (50.0, "mid"), (149.99, "mid"), (150.0, "high"), (1e4, "high")],
)
def test_spend_tier_bounds(spend: float, tier: str) -> None:
    transactions = _transactions([("x", "2020-01-10", 1, spend)])
    panel = panel_cdnow.build_panel(transactions, FIRST, FIRST, FIRST, 1, 1)
    assert panel["spend_tier"].tolist() == [tier]


@pytest.mark.parametrize(
    ("first", "last", "horizon", "active"),
    [("2020-02", "2020-01", 3, 3), ("2020-01", "2020-02", 0, 3), ("2020-01", "2020-02", 3, 0)],
)
def test_bad_arguments_are_refused(first: str, last: str, horizon: int, active: int) -> None:
    with pytest.raises(ValueError, match=r"must be >= 1|is after"):
        panel_cdnow.build_panel(
            tiny(), pd.Period(first), pd.Period(last), LAST, horizon=horizon, active_months=active
        )


def test_sample_keeps_whole_histories_and_is_seeded() -> None:
    transactions = random_transactions(customers=30)
    sample = panel_cdnow.sample_customers(transactions, 10, seed=3)
    assert sample["customer_id"].nunique() == 10
    kept = transactions[transactions["customer_id"].isin(sample["customer_id"])]
    pd.testing.assert_frame_equal(sample, kept.reset_index(drop=True))
    again = panel_cdnow.sample_customers(transactions, 10, seed=3)
    pd.testing.assert_frame_equal(sample, again)
    other = panel_cdnow.sample_customers(transactions, 10, seed=4)
    assert set(other["customer_id"]) != set(sample["customer_id"])


@pytest.mark.parametrize("header", [True, False])
def test_load_transactions_keeps_leading_zeros(tmp_path: Path, header: bool) -> None:
    lines = [" 00001 19970101  1   11.77", " 00002 19970112  5   77.00"]
    if header:
        lines.insert(0, " customer_id  date number_of_cds  dollar_value")
    path = tmp_path / "CDNOW_master.txt"
    path.write_text("\n".join(lines) + "\n")
    frame = panel_cdnow.load_transactions(path)
    assert frame["customer_id"].tolist() == ["00001", "00002"]
    assert frame["date"].tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1997-01-12")]
    assert frame["dollar_value"].tolist() == [11.77, 77.0]


def _readme_table() -> pd.DataFrame:
    """The per-snapshot table of data/examples/README.md (rows starting with | 19)."""
    rows = re.findall(r"^\| (\d{4}-\d{2}) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| (\S+) \|$",
                      EXAMPLE_README.read_text(), flags=re.MULTILINE)  # fmt: skip
    table = pd.DataFrame(rows, columns=["snapshot", "rows", "labelled", "blank", "churn_rate"])
    for column in ["rows", "labelled", "blank"]:
        table[column] = table[column].str.replace(",", "").astype(int)
    return table


def test_bundled_panel_matches_its_readme() -> None:
    """data/examples/cdnow_panel.csv: one row per key, and the README's table is its summary."""
    panel = pd.read_csv(EXAMPLE, dtype={"customer_id": str}, keep_default_na=False, na_values=[""])
    assert list(panel.columns) == list(panel_cdnow.PANEL_COLUMNS)
    assert not panel.duplicated(KEY).any()
    summary = panel_cdnow.summary(panel)
    table = _readme_table()
    assert table["snapshot"].tolist() == summary["snapshot"].tolist()
    for column in ["rows", "labelled", "blank"]:
        assert table[column].tolist() == summary[column].tolist(), column
    rates = summary["churn_rate"].map(lambda rate: "–" if pd.isna(rate) else f"{rate:.1%}")
    assert table["churn_rate"].tolist() == rates.tolist()
