"""Feast definitions of credit_risk: the borrower entity, two feature views, one service.

Feast is imported inside ``definitions()`` so importing the use case stays cheap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# Kedro's catalog (conf/base/catalog/credit_risk.yml) writes these files; Feast reads them.
# Paths are relative to feature_repo/, as Feast resolves them.
PROFILE_SOURCE_PATH = "../data/04_feature/credit_risk/borrower_profile.parquet"
HISTORY_SOURCE_PATH = "../data/04_feature/credit_risk/borrower_repayment_history.parquet"

WINDOWS_DAYS = (30, 90)
PROFILE_CATEGORICAL = ("region", "occupation", "device_os", "acquisition_channel", "education")
PROFILE_NUMERIC = ("age", "monthly_income")
HISTORY_COUNTS = ("payments_count", "late_payments_count")
HISTORY_AMOUNTS = ("repaid_amount", "days_late_mean", "days_late_max", "paid_share_mean")
SERVICE = "credit_risk_service"


def history_feature_names() -> list[str]:
    """``<aggregate>_<window>d`` for every aggregate and window of the repayment history."""
    return [f"{name}_{days}d" for days in WINDOWS_DAYS for name in HISTORY_COUNTS + HISTORY_AMOUNTS]


def definitions() -> list[Any]:
    """Entity, sources, feature views and the model's feature service."""
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64, String

    borrower = Entity(
        name="borrower",
        join_keys=["borrower_id"],
        value_type=ValueType.INT64,
        description="A person who borrows through the app",
    )
    profile_source = FileSource(
        name="borrower_profile_source",
        path=PROFILE_SOURCE_PATH,
        timestamp_field="event_timestamp",
    )
    history_source = FileSource(
        name="borrower_repayment_history_source",
        path=HISTORY_SOURCE_PATH,
        timestamp_field="event_timestamp",
    )
    profile_fv = FeatureView(
        name="borrower_profile_fv",
        entities=[borrower],
        ttl=timedelta(0),  # static attributes never expire
        schema=[Field(name=c, dtype=String) for c in PROFILE_CATEGORICAL]
        + [Field(name="age", dtype=Int64), Field(name="monthly_income", dtype=Float64)],
        source=profile_source,
        description="Attributes a borrower gave at sign-up",
    )
    history_fv = FeatureView(
        name="borrower_repayment_history_fv",
        entities=[borrower],
        # A snapshot older than the longest window says nothing about the last 90 days.
        ttl=timedelta(days=max(WINDOWS_DAYS)),
        schema=[
            Field(name=f"{name}_{days}d", dtype=Int64 if name in HISTORY_COUNTS else Float64)
            for days in WINDOWS_DAYS
            for name in HISTORY_COUNTS + HISTORY_AMOUNTS
        ],
        source=history_source,
        description="Trailing-window repayment behaviour, stamped at each payment",
    )
    service = FeatureService(
        name=SERVICE,
        features=[profile_fv, history_fv],
        description="Features of the credit_risk default model",
    )
    return [borrower, profile_source, history_source, profile_fv, history_fv, service]
