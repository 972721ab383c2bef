"""Feast definitions of repayment_uplift: credit_risk's borrower entity and views, two views of
collections behaviour, and the model's service.

The borrower, their sign-up profile and their repayment history are credit_risk's objects,
reused as they are (``gather_definitions`` registers each once). What is specific to collections
is keyed by the same borrower: the calls they received and their app activity. Days past due
and the amounts owed belong to the episode itself, so they arrive with the entity row.

Feast is imported inside ``definitions()`` so importing the use case stays cheap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pipelines.credit_risk.features import definitions as credit_risk_definitions

# Kedro's catalog (conf/base/catalog/repayment_uplift.yml) writes these files; Feast reads them.
# Paths are relative to feature_repo/, as Feast resolves them.
CALL_HISTORY_SOURCE_PATH = "../data/04_feature/repayment_uplift/borrower_call_history.parquet"
APP_ACTIVITY_SOURCE_PATH = "../data/04_feature/repayment_uplift/borrower_app_activity.parquet"

CALL_WINDOWS_DAYS = (365,)
CALL_COUNTS = ("calls", "calls_answered", "promises", "refusals")
APP_WINDOWS_DAYS = (7, 30)
APP_COUNTS = ("sessions", "repayment_views")
# What the collections model takes from credit_risk's repayment history: the 90-day window.
HISTORY_FEATURES = (
    "payments_count_90d",
    "late_payments_count_90d",
    "days_late_mean_90d",
    "days_late_max_90d",
    "paid_share_mean_90d",
)
SERVICE = "repayment_uplift_service"


def windowed(names: tuple[str, ...], windows_days: tuple[int, ...]) -> list[str]:
    """``<name>_<window>d`` for every name and window."""
    return [f"{name}_{days}d" for days in windows_days for name in names]


def definitions() -> list[Any]:
    """credit_risk's entity and views, the collections views and the model's feature service."""
    from feast import Entity, FeatureService, FeatureView, Field, FileSource
    from feast.types import Int64

    shared = {(type(o).__name__, o.name): o for o in credit_risk_definitions()}
    borrower: Entity = shared[("Entity", "borrower")]
    profile_fv: FeatureView = shared[("FeatureView", "borrower_profile_fv")]
    history_fv: FeatureView = shared[("FeatureView", "borrower_repayment_history_fv")]

    call_history_source = FileSource(
        name="borrower_call_history_source",
        path=CALL_HISTORY_SOURCE_PATH,
        timestamp_field="event_timestamp",
    )
    app_activity_source = FileSource(
        name="borrower_app_activity_source",
        path=APP_ACTIVITY_SOURCE_PATH,
        timestamp_field="event_timestamp",
    )
    # Both tables hold a row whenever a window's count changes, as an event enters it and as it
    # leaves it, so the latest row is exact at any time and never goes stale: no TTL.
    call_history_fv = FeatureView(
        name="borrower_call_history_fv",
        entities=[borrower],
        ttl=timedelta(0),
        schema=[Field(name=n, dtype=Int64) for n in windowed(CALL_COUNTS, CALL_WINDOWS_DAYS)],
        source=call_history_source,
        description="Calls to the borrower (reminders and collections) and how they went",
    )
    app_activity_fv = FeatureView(
        name="borrower_app_activity_fv",
        entities=[borrower],
        ttl=timedelta(0),
        schema=[Field(name=n, dtype=Int64) for n in windowed(APP_COUNTS, APP_WINDOWS_DAYS)],
        source=app_activity_source,
        description="App sessions and repayment-page views over trailing windows",
    )
    service = FeatureService(
        name=SERVICE,
        features=[
            profile_fv,
            history_fv[list(HISTORY_FEATURES)],
            call_history_fv,
            app_activity_fv,
        ],
        description="Features of the repayment_uplift model: who a collection call persuades",
    )
    return [
        borrower,
        profile_fv,
        history_fv,
        call_history_source,
        app_activity_source,
        call_history_fv,
        app_activity_fv,
        service,
    ]
