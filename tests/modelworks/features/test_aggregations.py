from __future__ import annotations

import pandas as pd
import pytest

from modelworks.features import WindowAggregation, rolling_window_features


def _ts(day: int, hour: int = 0) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day, hours=hour)


def test_windows_are_trailing_and_right_closed() -> None:
    events = pd.DataFrame(
        {
            "borrower_id": [1, 1, 1, 2],
            "paid_at": [_ts(0), _ts(10), _ts(40), _ts(5)],
            "amount": [10.0, 20.0, 40.0, 7.0],
        }
    )
    out = rolling_window_features(
        events,
        entity="borrower_id",
        timestamp="paid_at",
        windows_days=[30],
        aggregations=[
            WindowAggregation(name="n", column="amount", function="count"),
            WindowAggregation(name="paid", column="amount", function="sum"),
        ],
    )
    b1 = out[out["borrower_id"] == 1].set_index("paid_at")
    assert b1.loc[_ts(0), "paid_30d"] == 10.0
    assert b1.loc[_ts(10), "paid_30d"] == 30.0
    # day 0 and day 10 are more than 30 days before day 40
    assert b1.loc[_ts(40), "paid_30d"] == 40.0
    assert b1.loc[_ts(40), "n_30d"] == 1
    assert out[out["borrower_id"] == 2]["paid_30d"].tolist() == [7.0]


def test_events_at_the_same_instant_collapse_into_one_complete_row() -> None:
    events = pd.DataFrame(
        {"borrower_id": [1, 1, 1], "paid_at": [_ts(1), _ts(1), _ts(2)], "amount": [1.0, 2.0, 4.0]}
    )
    out = rolling_window_features(
        events,
        entity="borrower_id",
        timestamp="paid_at",
        windows_days=[7],
        aggregations=[WindowAggregation(name="paid", column="amount", function="sum")],
    )
    assert out["paid_at"].tolist() == [_ts(1), _ts(2)]
    assert out["paid_7d"].tolist() == [3.0, 7.0]


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="amount"):
        rolling_window_features(
            pd.DataFrame({"borrower_id": [1], "paid_at": [_ts(0)]}),
            entity="borrower_id",
            timestamp="paid_at",
            windows_days=[7],
            aggregations=[WindowAggregation(name="x", column="amount", function="sum")],
        )
