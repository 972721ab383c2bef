"""Domain nodes of credit_risk: feature tables and entity rows from the validated raw tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelworks.features import WindowAggregation, rolling_window_features
from pipelines.credit_risk.features import (
    HISTORY_COUNTS,
    PROFILE_CATEGORICAL,
    PROFILE_NUMERIC,
    WINDOWS_DAYS,
)

ENTITY_COLUMNS = ["loan_id", "borrower_id", "applied_at", "amount", "term_days"]
LABEL = "defaulted"
DEFAULT_WINDOW_DAYS = 30
"""A loan has defaulted when it is not repaid this many days after its due date."""

_HISTORY_AGGREGATIONS = [
    WindowAggregation(name="payments_count", column="amount", function="count"),
    WindowAggregation(name="late_payments_count", column="is_late", function="sum"),
    WindowAggregation(name="repaid_amount", column="amount", function="sum"),
    WindowAggregation(name="days_late_mean", column="days_late", function="mean"),
    WindowAggregation(name="days_late_max", column="days_late", function="max"),
    WindowAggregation(name="paid_share_mean", column="paid_share", function="mean"),
]


def build_borrower_profile(borrowers: pd.DataFrame) -> pd.DataFrame:
    """One row per borrower, known from the moment they signed up."""
    profile = borrowers[["borrower_id", *PROFILE_CATEGORICAL, *PROFILE_NUMERIC]].copy()
    profile["event_timestamp"] = borrowers["signup_at"]
    return profile


def build_repayment_history(repayments: pd.DataFrame, loans: pd.DataFrame) -> pd.DataFrame:
    """Trailing 30/90-day repayment behaviour per borrower, stamped at each payment."""
    loan_terms = loans[["loan_id", "due_at", "amount"]].rename(columns={"amount": "loan_amount"})
    events = repayments.merge(loan_terms, on="loan_id", how="inner", validate="many_to_one")
    days_late = (events["paid_at"] - events["due_at"]) / pd.Timedelta(days=1)
    events["days_late"] = days_late.clip(lower=0.0)
    events["is_late"] = (days_late > 0).astype(np.int64)
    events["paid_share"] = events["amount"] / events["loan_amount"]
    history = rolling_window_features(
        events,
        entity="borrower_id",
        timestamp="paid_at",
        windows_days=list(WINDOWS_DAYS),
        aggregations=_HISTORY_AGGREGATIONS,
    ).rename(columns={"paid_at": "event_timestamp"})
    for days in WINDOWS_DAYS:
        for name in HISTORY_COUNTS:
            history[f"{name}_{days}d"] = history[f"{name}_{days}d"].astype(np.int64)
    return history


def build_loan_entity_rows(loans: pd.DataFrame) -> pd.DataFrame:
    """Training entity rows: each loan at its application time, with its outcome."""
    return loans[[*ENTITY_COLUMNS, LABEL]].reset_index(drop=True)


def build_scoring_entity_rows(scoring_loans: pd.DataFrame) -> pd.DataFrame:
    """The newest applications to score, without outcomes."""
    return scoring_loans[ENTITY_COLUMNS].reset_index(drop=True)


def label_simulation_rows(training_set: pd.DataFrame) -> pd.DataFrame:
    """Every loan of a replayed world with the time its label becomes known (due + 30 days)."""
    wait = pd.to_timedelta(training_set["term_days"] + DEFAULT_WINDOW_DAYS, unit="D")
    return training_set.assign(label_known_at=training_set["applied_at"] + wait)
