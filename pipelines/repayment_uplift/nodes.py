"""Domain nodes of repayment_uplift: the experiment's raw tables, feature tables, entity rows, and
the outcomes that answer a call list."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelworks.features import EVENT_TIMESTAMP, WindowAggregation, rolling_window_features
from pipelines.repayment_uplift.features import APP_WINDOWS_DAYS, CALL_WINDOWS_DAYS
from pipelines.repayment_uplift.generator import (
    ACKNOWLEDGED,
    PROMISE,
    REFUSED,
    REPAYMENT_VIEW,
    GeneratorParams,
    generate_collections_data,
    reveal_outcomes,
)

ENTITY = "borrower_id"
ENTITY_COLUMNS = [
    "episode_id",
    "borrower_id",
    "loan_id",
    "started_at",
    "days_past_due",
    "loan_amount",
    "outstanding_amount",
]
EXPERIMENT_COLUMNS = ["called", "repaid", "amount_repaid"]

_CALL_AGGREGATIONS = [
    WindowAggregation(name="calls", column="call", function="count"),
    WindowAggregation(name="calls_answered", column="answered", function="sum"),
    WindowAggregation(name="promises", column="promise", function="sum"),
    WindowAggregation(name="refusals", column="refusal", function="sum"),
]
_APP_AGGREGATIONS = [
    WindowAggregation(name="sessions", column="session", function="count"),
    WindowAggregation(name="repayment_views", column="repayment_view", function="sum"),
]


def generate_collections_tables(
    borrowers: pd.DataFrame,
    loans: pd.DataFrame,
    repayments: pd.DataFrame,
    params: GeneratorParams,
) -> dict[str, pd.DataFrame]:
    """The collections experiment on credit_risk's loan book, and its true effects."""
    credit = {"borrowers": borrowers, "loans": loans, "repayments": repayments}
    return generate_collections_data(credit, params)


def _exact_trailing_counts(
    events: pd.DataFrame,
    *,
    timestamp: str,
    windows_days: tuple[int, ...],
    aggregations: list[WindowAggregation],
) -> pd.DataFrame:
    """Trailing-window counts per borrower, with a row at every instant one of them changes.

    ``rolling_window_features`` stamps a row at each event, but a count also changes when an
    event leaves its window; without a row there, a lookup would read a count of events older
    than the window. So each event is echoed, without a value, where it leaves each window.
    Echoes after the last real event are dropped: the online store must hold today's counts.
    """
    values = [aggregation.column for aggregation in aggregations]
    echoes = [
        events[[ENTITY]].assign(**{timestamp: events[timestamp] + pd.Timedelta(days=days)})
        for days in windows_days
    ]
    stream = pd.concat([events[[ENTITY, timestamp, *values]], *echoes], ignore_index=True)
    stream = stream[stream[timestamp] <= events[timestamp].max()]
    table = rolling_window_features(
        stream,
        entity=ENTITY,
        timestamp=timestamp,
        windows_days=list(windows_days),
        aggregations=aggregations,
    )
    counts = [c for c in table.columns if c not in (ENTITY, timestamp)]
    # A window holding only echoes holds no event: zero, not missing.
    table[counts] = table[counts].fillna(0).astype(np.int64)
    return table.rename(columns={timestamp: EVENT_TIMESTAMP})


def build_call_history(call_log: pd.DataFrame) -> pd.DataFrame:
    """Calls each borrower received and how they went, over trailing windows, exact in time."""
    events = call_log[[ENTITY, "called_at"]].assign(
        call=1.0,
        answered=call_log["outcome"].isin([ACKNOWLEDGED, PROMISE, REFUSED]).astype(float),
        promise=(call_log["outcome"] == PROMISE).astype(float),
        refusal=(call_log["outcome"] == REFUSED).astype(float),
    )
    return _exact_trailing_counts(
        events,
        timestamp="called_at",
        windows_days=CALL_WINDOWS_DAYS,
        aggregations=_CALL_AGGREGATIONS,
    )


def build_app_activity(app_events: pd.DataFrame) -> pd.DataFrame:
    """App sessions and repayment-page views per borrower over trailing windows, exact in time."""
    events = app_events[[ENTITY, "occurred_at"]].assign(
        session=1.0,
        repayment_view=(app_events["event_type"] == REPAYMENT_VIEW).astype(float),
    )
    return _exact_trailing_counts(
        events,
        timestamp="occurred_at",
        windows_days=APP_WINDOWS_DAYS,
        aggregations=_APP_AGGREGATIONS,
    )


def build_episode_entity_rows(episodes: pd.DataFrame) -> pd.DataFrame:
    """Training entity rows: each episode at its start, with its random call and its outcome."""
    return episodes[[*ENTITY_COLUMNS, *EXPERIMENT_COLUMNS]].reset_index(drop=True)


def build_scoring_entity_rows(scoring_episodes: pd.DataFrame) -> pd.DataFrame:
    """The newest episodes to decide on, at their start, without treatment or outcome."""
    return scoring_episodes[ENTITY_COLUMNS].reset_index(drop=True)


def reveal_call_outcomes(call_list: pd.DataFrame, true_effects: pd.DataFrame) -> pd.DataFrame:
    """What each episode of the call list did in the following days, given its call decision.

    The simulated world's answer; in production these rows come from the collections system.
    """
    return reveal_outcomes(call_list[["episode_id", "treat"]], true_effects, treated="treat")
