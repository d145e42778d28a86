"""bench/exports.py: each builder of the "other chain" test exports keeps its promises."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e_helpers import load_bench

PROJECT = Path(__file__).resolve().parents[1]
SOURCE = PROJECT / "data" / "raw" / "gym_churn.csv"
TELCO_ROWS = 3_000
SCALE_ROWS = 2_000


def _load_exports():
    """bench/ is not a package: import bench/exports.py by its path."""
    return load_bench("exports")


exports = _load_exports()


@pytest.fixture(scope="module")
def source() -> pd.DataFrame:
    return pd.read_csv(SOURCE)


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return exports.telco(rows=TELCO_ROWS, seed=0)


@pytest.fixture(scope="module")
def scale() -> tuple[pd.DataFrame, pd.DataFrame]:
    return exports.scale(rows=SCALE_ROWS, seed=0)


def _is_text(series: pd.Series) -> bool:
    return bool(series.dropna().map(lambda v: isinstance(v, str)).all())


# --------------------------------------------------------------------------- snake


def test_snake_names_ids_club_and_labels(source):
    frame = exports.snake(source)
    expected = {c.lower() for c in source.columns if c != "Phone"} | {"member_id", "club"}
    assert set(frame.columns) == expected
    assert "Phone" not in frame.columns
    assert "phone" not in frame.columns
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in frame.columns)
    assert {"near_location", "avg_class_frequency_current_month", "churn"} <= set(frame.columns)
    assert len(frame) == len(source)

    assert frame.columns[0] == "member_id"
    assert frame["member_id"].is_unique
    assert frame["member_id"].iloc[0] == "M000000"
    assert frame["member_id"].str.fullmatch(r"M\d{6}").all()

    assert _is_text(frame["club"])
    assert set(frame["club"]) == {"North", "South", "East", "West", "Centre"}
    assert set(frame["churn"]) == {"Yes", "No"}
    assert (frame["churn"] == "Yes").mean() == pytest.approx(source["Churn"].mean())
    # values unchanged, columns reordered
    assert (frame["near_location"].to_numpy() == source["Near_Location"].to_numpy()).all()
    original = [c.lower() for c in source.columns if c != "Phone"]
    assert [c for c in frame.columns if c in original] != original


# --------------------------------------------------------------------------- telco


def test_telco_columns_levels_and_ids(telco):
    assert list(telco.columns) == [
        "customer_id", "signup_date", "region", "contract_type", "payment_method", "senior",
        "age", "tenure_months", "monthly_fee", "data_gb", "support_calls", "notes", "churned",
    ]  # fmt: skip
    assert len(telco) == TELCO_ROWS
    assert pd.api.types.is_integer_dtype(telco["customer_id"])
    assert telco["customer_id"].is_unique
    dates = pd.to_datetime(telco["signup_date"], format="%Y-%m-%d")
    assert dates.notna().all()
    assert _is_text(telco["notes"])
    assert telco["notes"].nunique() / len(telco) > 0.9

    for column, levels in [("region", 50), ("contract_type", 3), ("payment_method", 4)]:
        assert _is_text(telco[column])
        assert telco[column].nunique() == levels
    assert set(telco["contract_type"]) == {"month-to-month", "one year", "two year"}
    assert set(telco["senior"]) == {"Yes", "No"}

    assert pd.api.types.is_integer_dtype(telco["tenure_months"])
    assert telco["tenure_months"].between(0, 72).all()
    assert pd.api.types.is_integer_dtype(telco["support_calls"])
    assert pd.api.types.is_float_dtype(telco["monthly_fee"])
    assert pd.api.types.is_float_dtype(telco["data_gb"])
    assert pd.api.types.is_integer_dtype(telco["age"])


def test_telco_blanks_and_majority_label(telco):
    assert telco["data_gb"].isna().mean() == pytest.approx(0.03, abs=0.005)
    assert telco["age"].isna().mean() == pytest.approx(0.02, abs=0.005)
    other = telco.drop(columns=["data_gb", "age"])
    assert not other.isna().any().any()
    assert set(telco["churned"]) == {"True", "False"}
    share = (telco["churned"] == "True").mean()
    assert share > 0.5
    assert share == pytest.approx(0.60, abs=0.04)


def test_telco_logistic_regression_is_not_beaten_by_gradient_boosting(telco):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from threadpoolctl import threadpool_limits

    y = (telco["churned"] == "True").astype(int)
    X = telco.drop(columns=["customer_id", "signup_date", "notes", "churned"])
    X["age"] = X["age"].astype(float)
    categorical = ["region", "contract_type", "payment_method", "senior"]
    numeric = [c for c in X.columns if c not in categorical]

    def pipeline(model):
        pre = ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ]
        )
        return make_pipeline(pre, model)

    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    # scikit-learn's OpenMP runtime loads with the import above, after conftest's session-wide
    # limit: one thread here too (tiny fits on a busy machine crawl with more)
    with threadpool_limits(limits=1):
        logreg = cross_val_score(
            pipeline(LogisticRegression(max_iter=1000)), X, y, cv=folds, scoring="roc_auc"
        ).mean()
        boosting = cross_val_score(
            pipeline(HistGradientBoostingClassifier(random_state=0)),
            X,
            y,
            cv=folds,
            scoring="roc_auc",
        ).mean()
    assert logreg > 0.75
    assert logreg >= boosting


# --------------------------------------------------------------------------- majority


def test_majority_names_plan_dates_and_labels(source):
    frame = exports.majority(source)
    assert not any(" " in c for c in frame.columns)
    assert frame.columns[0] == "member_no"
    assert frame["member_no"].is_unique
    assert pd.api.types.is_integer_dtype(frame["member_no"])
    assert {"joined_on", "contract_plan", "Gender", "left", "VisitsPerWeekLastMonth"} <= set(
        frame.columns
    )
    assert not (set(source.columns) - {"Age"}) & set(frame.columns)  # every other name changed
    assert pd.to_datetime(frame["joined_on"], format="%Y-%m-%d").notna().all()
    assert set(frame["contract_plan"]) == {"monthly", "half-year", "annual"}
    assert set(frame["Gender"]) == {"F", "M"}
    assert set(frame["left"]) == {"yes", "no"}


def test_majority_churners_are_the_majority_and_blanks(source):
    frame = exports.majority(source)
    churners = int(source["Churn"].sum())
    assert (frame["left"] == "yes").sum() == churners  # every churner kept
    share = (frame["left"] == "yes").mean()
    assert share > 0.5
    assert share == pytest.approx(0.60, abs=0.01)
    assert frame["ExtraSpendTotal"].isna().mean() == pytest.approx(0.02, abs=0.002)
    assert frame.drop(columns="ExtraSpendTotal").notna().all().all()
    # the rows are bundled members: same values, looked up by member_no
    bundled = source.iloc[frame["member_no"].to_numpy() - 50_000]
    assert (frame["MembershipMonths"].to_numpy() == bundled["Lifetime"].to_numpy()).all()
    assert ((frame["left"] == "yes").to_numpy() == (bundled["Churn"] == 1).to_numpy()).all()


# --------------------------------------------------------------------------- scale


def test_scale_columns_levels_and_pairing(scale):
    scale_cat, scale_num = scale
    for frame in scale:
        assert frame.shape == (SCALE_ROWS, 22)
        assert frame["id"].is_unique
        assert set(frame["churn"]) == {0, 1}
    assert list(scale_cat.columns) == list(scale_num.columns)
    assert list(scale_cat.columns[[0, -1]]) == ["id", "churn"]

    features = scale_cat.columns[1:-1]
    text = [c for c in features if _is_text(scale_cat[c])]
    assert len(text) == 8
    assert len(features) - len(text) == 12
    assert all(pd.api.types.is_numeric_dtype(scale_cat[c]) for c in features if c not in text)
    assert all(pd.api.types.is_numeric_dtype(scale_num[c]) for c in scale_num.columns)
    for column in text:
        assert 3 <= scale_cat[column].nunique() <= 50
        # the numeric export carries the same information: one code per level, and back
        pairs = pd.DataFrame({"text": scale_cat[column], "code": scale_num[column]})
        assert pairs.groupby("text")["code"].nunique().eq(1).all()
        assert pairs.groupby("code")["text"].nunique().eq(1).all()
    assert {scale_cat[c].nunique() for c in text} >= {3, 50}
    numeric = [c for c in scale_cat.columns if c not in text]
    pd.testing.assert_frame_equal(scale_cat[numeric], scale_num[numeric])
    assert scale_cat["churn"].mean() == pytest.approx(0.25, abs=0.04)


# --------------------------------------------------------------------------- determinism


BUILDERS = {
    "snake": lambda source, seed: exports.snake(source, seed=seed),
    "telco": lambda source, seed: exports.telco(rows=500, seed=seed),
    "majority": lambda source, seed: exports.majority(source, seed=seed),
    "scale_cat": lambda source, seed: exports.scale(rows=500, seed=seed)[0],
    "scale_num": lambda source, seed: exports.scale(rows=500, seed=seed)[1],
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_same_seed_same_frame(source, name):
    build = BUILDERS[name]
    pd.testing.assert_frame_equal(build(source, 3), build(source, 3))
    assert not build(source, 3).equals(build(source, 4))


# --------------------------------------------------------------------------- CLI


def test_cli_writes_files_and_majority_uses_semicolons(tmp_path, source):
    assert exports.main(["--source", str(SOURCE), "--out", str(tmp_path), "--only", "majority",
                         "snake", "telco"]) == 0  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["majority.csv", "snake.csv", "telco.csv"]

    header = (tmp_path / "majority.csv").read_text().splitlines()[0]
    assert "," not in header
    assert header.split(";")[:2] == ["member_no", "joined_on"]
    written = pd.read_csv(tmp_path / "majority.csv", sep=";")
    assert written.shape == exports.majority(source).shape
    assert list(written.columns) == header.split(";")

    snake_header = (tmp_path / "snake.csv").read_text().splitlines()[0]
    assert snake_header.startswith("member_id,")

    telco = pd.read_csv(tmp_path / "telco.csv", dtype={"churned": str})
    assert set(telco["churned"]) == {"True", "False"}
    assert len(telco) == exports.TELCO_ROWS
    assert telco["age"].isna().any()


def test_cli_scale_csv_flag(tmp_path, monkeypatch):
    build = exports.scale
    monkeypatch.setattr(exports, "scale", lambda seed: build(rows=300, seed=seed))
    exports.main(["--out", str(tmp_path), "--only", "scale", "--csv"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scale_cat.csv", "scale_num.csv"]
    assert pd.read_csv(tmp_path / "scale_cat.csv").shape == (300, 22)
    exports.main(["--out", str(tmp_path / "pq"), "--only", "scale"])
    assert pd.read_parquet(tmp_path / "pq" / "scale_num.parquet").shape == (300, 22)


def test_cli_rejects_an_unknown_export(tmp_path):
    with pytest.raises(SystemExit):
        exports.main(["--out", str(tmp_path), "--only", "nonsense"])
    assert not list(tmp_path.iterdir())


def test_iso_dates_follow_the_months():
    rng = np.random.default_rng(0)
    dates = pd.to_datetime(exports._iso_dates_before(rng, np.array([0, 12])))
    days = (exports.EXPORT_DATE - dates).days
    assert 0 <= days[0] < 28
    assert 365 <= days[1] < 365 + 28
