"""The synthetic loan book: schema, integrity, determinism, learnability, injected drift."""

from __future__ import annotations

from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from pipelines.credit_risk.generator import GeneratorParams, ShiftParams, generate_credit_data

CATEGORICAL = ["region", "occupation", "device_os", "acquisition_channel", "education"]
NUMERIC = ["age", "monthly_income", "amount", "term_days"]
UTC = "datetime64[ns, UTC]"
SCHEMA = {
    "borrowers": {
        "borrower_id": "int64",
        "signup_at": UTC,
        "region": "object",
        "occupation": "object",
        "device_os": "object",
        "acquisition_channel": "object",
        "education": "object",
        "age": "int64",
        "monthly_income": "float64",
    },
    "loans": {
        "loan_id": "int64",
        "borrower_id": "int64",
        "applied_at": UTC,
        "amount": "float64",
        "term_days": "int64",
        "due_at": UTC,
        "defaulted": "int64",
    },
    "repayments": {
        "repayment_id": "int64",
        "loan_id": "int64",
        "borrower_id": "int64",
        "paid_at": UTC,
        "amount": "float64",
    },
}
SCHEMA["scoring_loans"] = {k: v for k, v in SCHEMA["loans"].items() if k != "defaulted"}

# Small but not tiny: ~700 scoring loans keep sampling noise in PSI well below the thresholds.
SMALL = GeneratorParams(n_loans=6_000, history_days=360, scoring_days=42)
TINY = GeneratorParams(n_loans=1_500, history_days=120)


def _window(params: GeneratorParams) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(params.start, tz="UTC")
    history_end = start + pd.Timedelta(days=params.history_days)
    return start, history_end, history_end + pd.Timedelta(days=params.scoring_days)


def _shifted(params: GeneratorParams, **shift: object) -> GeneratorParams:
    return params.model_copy(update={"shift": ShiftParams(enabled=True, **shift)})


def _with_borrowers(data: dict[str, pd.DataFrame], table: str) -> pd.DataFrame:
    return data[table].merge(data["borrowers"], on="borrower_id", validate="many_to_one")


def psi(reference: pd.Series, current: pd.Series, bins: int = 10) -> float:
    """Population stability index; numeric columns are cut at the reference's deciles."""
    if pd.api.types.is_numeric_dtype(reference):
        edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
        edges[0], edges[-1] = -np.inf, np.inf
        reference, current = pd.cut(reference, edges), pd.cut(current, edges)
    ref = reference.value_counts(normalize=True)
    cur = current.value_counts(normalize=True).reindex(ref.index, fill_value=0.0)
    ref, cur = ref.clip(lower=1e-4), cur.clip(lower=1e-4)
    return float(((cur - ref) * np.log(cur / ref)).sum())


def history_features(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Loans joined to borrower attributes plus two point-in-time repayment-history features.

    A borrower's next loan only starts after the previous one is repaid, so every earlier loan
    of the same borrower is settled when a loan is applied for.
    """
    loans = data["loans"].merge(data["borrowers"], on="borrower_id").sort_values("applied_at")
    last_paid = data["repayments"].groupby("loan_id")["paid_at"].max()
    late = (loans["loan_id"].map(last_paid) - loans["due_at"]).dt.total_seconds() / 86_400
    # Shifted, so that a loan never sees its own outcome (NaN = a defaulter's unpaid loan).
    previous_late = late.clip(lower=0).groupby(loans["borrower_id"]).shift()
    n_previous = loans.groupby("borrower_id").cumcount()
    loans["n_previous_loans"] = n_previous
    loans["mean_days_late_previous"] = previous_late.groupby(
        loans["borrower_id"]
    ).cumsum() / n_previous.replace(0, np.nan)
    return loans.reset_index(drop=True)


def lightgbm_auc(loans: pd.DataFrame, features: list[str]) -> float:
    """Train on the earliest 80 % of loans by application time, score the latest 20 %."""
    frame = loans.sort_values("applied_at").reset_index(drop=True)
    X = frame[features].copy()
    for col in CATEGORICAL:
        X[col] = X[col].astype("category")
    cut = int(len(frame) * 0.8)
    model = lgb.LGBMClassifier(
        n_estimators=200,
        learning_rate=0.03,
        num_leaves=7,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=0,
        n_jobs=1,
        verbose=-1,
    )
    model.fit(X.iloc[:cut], frame["defaulted"].iloc[:cut])
    scores = model.predict_proba(X.iloc[cut:])[:, 1]
    return float(roc_auc_score(frame["defaulted"].iloc[cut:], scores))


def measure_auc(n_loans: int = 50_000, seed: int = 42) -> dict[str, float]:
    """The figures quoted in the generator's docstring (run by hand; ~7 s at 50k)."""
    loans = history_features(generate_credit_data(GeneratorParams(n_loans=n_loans, seed=seed)))
    base = CATEGORICAL + NUMERIC
    return {
        "default_rate": float(loans["defaulted"].mean()),
        "auc_attributes_and_loan": lightgbm_auc(loans, base),
        "auc_with_history": lightgbm_auc(
            loans, [*base, "n_previous_loans", "mean_days_late_previous"]
        ),
    }


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return generate_credit_data(SMALL)


def test_tables_have_the_documented_columns_and_dtypes(data):
    assert set(data) == set(SCHEMA)
    for table, columns in SCHEMA.items():
        assert data[table].dtypes.astype(str).to_dict() == columns, table
        assert len(data[table]) > 0, table


def test_keys_are_unique_and_references_resolve(data):
    borrowers, loans, repayments = data["borrowers"], data["loans"], data["repayments"]
    scoring = data["scoring_loans"]
    assert borrowers["borrower_id"].is_unique
    assert repayments["repayment_id"].is_unique
    assert pd.concat([loans["loan_id"], scoring["loan_id"]]).is_unique
    assert loans["borrower_id"].isin(borrowers["borrower_id"]).all()
    assert scoring["borrower_id"].isin(borrowers["borrower_id"]).all()
    paid = repayments.merge(loans, on="loan_id", suffixes=("", "_loan"), validate="many_to_one")
    assert len(paid) == len(repayments)
    assert (paid["borrower_id"] == paid["borrower_id_loan"]).all()
    assert (paid["paid_at"] >= paid["applied_at"]).all()


def test_values_are_in_their_documented_ranges(data):
    borrowers, loans = data["borrowers"], data["loans"]
    assert borrowers["age"].between(18, 70).all()
    assert (borrowers["monthly_income"] > 0).all()
    assert borrowers["region"].nunique() == 8
    assert borrowers["occupation"].nunique() == 10
    assert {"organic", "referral", "agent", "facebook_ads"} <= set(borrowers["acquisition_channel"])
    assert set(borrowers["education"]) == {"none", "primary", "secondary", "tertiary"}
    for table in ("loans", "scoring_loans"):
        frame = data[table]
        assert (frame["amount"] > 0).all()
        assert set(frame["term_days"]) <= {7, 14, 30}
        assert (
            frame["due_at"] == frame["applied_at"] + pd.to_timedelta(frame["term_days"], "D")
        ).all()
    assert set(loans["defaulted"]) == {0, 1}
    assert (data["repayments"]["amount"] > 0).all()


def test_loans_fall_in_their_windows_and_scoring_loans_have_no_label(data):
    start, history_end, scoring_end = _window(SMALL)
    loans, scoring = data["loans"], data["scoring_loans"]
    assert loans["applied_at"].between(start, history_end, inclusive="left").all()
    assert scoring["applied_at"].between(history_end, scoring_end, inclusive="left").all()
    assert "defaulted" not in scoring.columns
    assert abs(len(loans) - SMALL.n_loans) <= 0.02 * SMALL.n_loans
    # Repeat borrowers and newly signed-up ones in the scoring batch; new ones sign up just before.
    borrowers = data["borrowers"].set_index("borrower_id")
    seen = scoring["borrower_id"].isin(loans["borrower_id"])
    assert 0.2 < seen.mean() < 0.9
    new_signup = borrowers.loc[scoring.loc[~seen, "borrower_id"], "signup_at"].to_numpy()
    assert (new_signup <= scoring.loc[~seen, "applied_at"].to_numpy()).all()


def test_default_rate_and_repayments_agree_with_the_label(data):
    loans, repayments = data["loans"], data["repayments"]
    assert 0.10 <= loans["defaulted"].mean() <= 0.18
    paid = repayments.groupby("loan_id").agg(total=("amount", "sum"), last=("paid_at", "max"))
    loans = loans.join(paid, on="loan_id")
    good, bad = loans[loans["defaulted"] == 0], loans[loans["defaulted"] == 1]
    np.testing.assert_allclose(good["total"], good["amount"], atol=0.02)
    assert (good["last"] <= good["due_at"] + pd.Timedelta(days=30)).all()
    assert (good["last"] > good["due_at"]).mean() > 0.05  # some pay late
    assert (bad["total"].fillna(0) < bad["amount"]).all()
    assert bad["total"].notna().mean() > 0.2  # some defaulters pay part of it
    # Repeat borrowing: most loans belong to borrowers with several loans; defaulters stop.
    assert loans.groupby("borrower_id").size().mean() > 1.5
    last_loan = loans.sort_values("applied_at").groupby("borrower_id").tail(1)["loan_id"]
    assert loans.loc[loans["defaulted"] == 1, "loan_id"].isin(last_loan).all()


def test_same_seed_same_data_other_seed_other_data():
    first, again = generate_credit_data(TINY), generate_credit_data(TINY)
    other = generate_credit_data(TINY.model_copy(update={"seed": 7}))
    for table in first:
        pd.testing.assert_frame_equal(first[table], again[table])
    assert not first["loans"]["amount"].equals(other["loans"]["amount"])
    assert not first["borrowers"]["region"].equals(other["borrowers"]["region"])


def test_params_reject_unknown_keys():
    with pytest.raises(ValidationError, match="n_loan"):
        GeneratorParams.model_validate({"n_loan": 10})
    with pytest.raises(ValidationError, match="strenght"):
        GeneratorParams.model_validate({"shift": {"enabled": True, "strenght": 2}})


def test_default_is_learnable_but_not_trivial(data):
    loans = history_features(data)
    assert 0.65 <= lightgbm_auc(loans, CATEGORICAL + NUMERIC) <= 0.90


def test_repayment_history_predicts_the_next_default(data):
    loans = history_features(data)
    repeat = loans[loans["n_previous_loans"] > 0]
    late = repeat["mean_days_late_previous"] > 1
    assert 0.1 < late.mean() < 0.4
    assert repeat.loc[late, "defaulted"].mean() > 1.4 * repeat.loc[~late, "defaulted"].mean()
    # First loans, without a track record, default more than repeat loans.
    assert (
        loans.loc[loans["n_previous_loans"] == 0, "defaulted"].mean() > repeat["defaulted"].mean()
    )


def test_without_shift_the_scoring_batch_looks_like_the_history(data):
    reference, current = _with_borrowers(data, "loans"), _with_borrowers(data, "scoring_loans")
    for column in ("acquisition_channel", "device_os", "amount", "monthly_income"):
        assert psi(reference[column], current[column]) < 0.1, column


def test_shift_changes_the_scoring_batch():
    _, history_end, _ = _window(SMALL)
    shifted = generate_credit_data(_shifted(SMALL))
    reference = _with_borrowers(shifted, "loans")
    current = _with_borrowers(shifted, "scoring_loans")
    assert psi(reference["acquisition_channel"], current["acquisition_channel"]) > 0.25
    assert psi(reference["amount"], current["amount"]) > 0.1
    assert current["amount"].median() > 1.25 * reference["amount"].median()
    facebook_share = current["acquisition_channel"].eq("facebook_ads").mean()
    assert facebook_share > 2 * reference["acquisition_channel"].eq("facebook_ads").mean()
    new_borrowers = current[current["signup_at"] >= history_end]
    assert new_borrowers["monthly_income"].median() < reference["monthly_income"].median()


def test_shift_applies_by_date_inside_the_history_and_raises_defaults():
    _, history_end, _ = _window(SMALL)
    shift_start = (history_end - pd.Timedelta(days=120)).date()
    loans = _with_borrowers(generate_credit_data(_shifted(SMALL, start=shift_start)), "loans")
    after = loans["applied_at"] >= pd.Timestamp(shift_start, tz="UTC")
    before_rate = loans.loc[~after, "defaulted"].mean()
    assert loans.loc[after, "defaulted"].mean() > before_rate + 0.05
    assert before_rate <= 0.18
    facebook = loans["acquisition_channel"].eq("facebook_ads")
    assert facebook[after].mean() > 2 * facebook[~after].mean()
    assert psi(loans.loc[~after, "amount"], loans.loc[after, "amount"]) > 0.1


def test_zero_strength_is_no_shift():
    plain = generate_credit_data(TINY)
    zero = generate_credit_data(_shifted(TINY, strength=0.0, start=date(2024, 3, 1)))
    for table in plain:
        pd.testing.assert_frame_equal(plain[table], zero[table])


def test_shift_start_defaults_to_the_scoring_window():
    explicit = _shifted(TINY, start=TINY.start + timedelta(days=TINY.history_days))
    implicit = generate_credit_data(_shifted(TINY))
    for table, frame in generate_credit_data(explicit).items():
        pd.testing.assert_frame_equal(frame, implicit[table])
