"""Entity rows and feature tables built from the declaration, on hand-made flights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.declared.schema import Aggregation, DeclaredSpec
from modelworks.declared.tables import (
    STATIC_SINCE,
    build_entity_rows,
    build_feature_table,
    trailing_aggregates,
)
from tests.modelworks.declared.toy import T0, H, flight_block


def test_entity_rows_hold_arrived_flights_and_keep_the_batch_labels_aside(
    spec: DeclaredSpec, flights: pd.DataFrame
) -> None:
    training, batch, labels = build_entity_rows(flights, spec)

    # f6 was cancelled (no arrival delay): no entity row; f8 is in the last 14 days
    assert training["flight"].tolist() == [1, 2, 7, 3, 4, 5]  # time order, then keys
    assert batch["flight"].tolist() == [8]
    assert "arr_delay" not in batch.columns
    assert labels.to_dict("records") == [
        {
            "carrier": "UA",
            "flight": 8,
            "origin": "EWR",
            "time_hour": T0 + pd.Timedelta(days=20),
            "arr_delay": 0.0,
        }
    ]
    assert list(training.columns) == [
        "carrier", "flight", "origin", "time_hour", "tailnum", "dest", "distance", "hour",
        "month", "arr_delay", "day_of_week",
    ]  # fmt: skip
    # the flight's own departure delay is no entity-row column
    assert "dep_delay" not in training.columns


def test_calendar_parts_are_read_on_the_local_clock(spec: DeclaredSpec) -> None:
    # 03:00 UTC on Sunday 2 June 2013 is 23:00 on Saturday 1 June in New York
    late = pd.DataFrame(
        [
            {
                "carrier": "UA", "flight": 1, "tailnum": "N1", "origin": "EWR", "dest": "ORD",
                "distance": 719, "hour": 23, "month": 6, "dep_delay": 0.0, "arr_delay": 0.0,
                "time_hour": pd.Timestamp("2013-06-02 03:00", tz="UTC"),
            }
        ]
    )  # fmt: skip
    late = pd.concat([late, late.assign(time_hour=late["time_hour"] + pd.Timedelta(days=30))])
    training, _, _ = build_entity_rows(late, spec)
    assert training["day_of_week"].tolist() == [5]  # Monday is 0


def test_the_sample_is_deterministic_and_of_the_declared_size() -> None:
    block = flight_block()["declared"]
    block["entity_rows"]["sample"] = {"fraction": 0.25, "seed": 3}
    spec = DeclaredSpec.model_validate(block)
    rng = np.random.default_rng(0)
    n = 4000
    flights = pd.DataFrame(
        {
            "carrier": rng.choice(["UA", "AA"], n),
            "flight": np.arange(n),
            "tailnum": "N1",
            "origin": rng.choice(["EWR", "JFK"], n),
            "dest": "ORD",
            "distance": 719,
            "hour": 9,
            "month": 6,
            "dep_delay": rng.normal(size=n),
            "arr_delay": rng.normal(size=n),
            "time_hour": T0 + pd.to_timedelta(rng.integers(0, 24 * 60, n), unit="h"),
        }
    )
    first = build_entity_rows(flights, spec)
    shuffled = build_entity_rows(flights.sample(frac=1.0, random_state=1), spec)
    for a, b in zip(first, shuffled, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert len(first[0]) + len(first[1]) == n // 4


def test_origin_delays_exclude_the_flight_itself_and_its_hour(
    spec: DeclaredSpec, flights: pd.DataFrame
) -> None:
    table = build_feature_table(flights, spec, view="origin_delays").set_index(
        ["origin", "event_timestamp"]
    )
    at_t0 = table.loc[("EWR", T0)]
    # [07:00, 10:00): f6 (cancelled, no delay), f1 (10) and f2 (20); not f3 or f4 (at 10:00)
    assert at_t0["dep_delay_count_3h"] == 2
    assert at_t0["dep_delay_mean_3h"] == 15.0
    assert at_t0["dep_delay_max_3h"] == 20.0
    after = table.loc[("EWR", T0 + H)]
    # [08:00, 11:00): f1, f2, f3, f4; the 11:00 flight f5 is not in its own window
    assert after["dep_delay_count_3h"] == 4
    assert after["dep_delay_mean_3h"] == (10 + 20 + 300 + 1000) / 4
    assert after["dep_delay_max_24h"] == 1000.0
    # JFK's first flight has an empty window: no count, no mean; EWR's never reach JFK
    first_jfk = table.loc[("JFK", T0 - H)]
    assert first_jfk["dep_delay_count_24h"] == 0 and np.isnan(first_jfk["dep_delay_mean_24h"])
    assert table["dep_delay_count_3h"].dtype == np.int64
    assert not table.index.duplicated().any()  # one row per origin and hour


def test_trailing_aggregates_match_a_brute_force_oracle() -> None:
    rng = np.random.default_rng(7)
    n = 600
    events = pd.DataFrame(
        {
            "key": rng.choice(["a", "b", "c"], n),
            "at": T0 + pd.to_timedelta(rng.integers(0, 200, n), unit="h"),
            "value": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        }
    )
    aggregation = Aggregation(
        column="value", functions=["count", "sum", "mean", "max", "min"], windows_hours=[5, 48]
    )
    table = trailing_aggregates(events, entity="key", timestamp="at", aggregations=[aggregation])
    for row in table.sample(80, random_state=0).itertuples(index=False):
        for hours in (5, 48):
            start = row.event_timestamp - pd.Timedelta(hours=hours)
            window = events.loc[
                (events["key"] == row.key)
                & (events["at"] >= start)
                & (events["at"] < row.event_timestamp),
                "value",
            ].dropna()
            assert getattr(row, f"value_count_{hours}h") == len(window)
            assert getattr(row, f"value_sum_{hours}h") == pytest.approx(window.sum())
            for function in ("mean", "max", "min"):
                got = getattr(row, f"value_{function}_{hours}h")
                want = getattr(window, function)() if len(window) else np.nan
                assert got == pytest.approx(want, nan_ok=True)


def test_weather_snapshots_and_static_planes(
    spec: DeclaredSpec, weather: pd.DataFrame, planes: pd.DataFrame
) -> None:
    snapshots = build_feature_table(weather, spec, view="weather")
    assert snapshots["event_timestamp"].tolist() == sorted(weather["time_hour"])
    assert set(snapshots.columns) == {
        "origin",
        "event_timestamp",
        *spec.feature_views["weather"].features,
    }

    static = build_feature_table(
        pd.concat([planes, planes.assign(tailnum=None)]), spec, view="plane"
    )
    assert static["tailnum"].tolist() == ["N1", "N2", "N3"]  # no row without a key
    assert (static["event_timestamp"] == STATIC_SINCE).all()
    assert list(static.columns) == [
        "tailnum", "plane_year", "plane_type", "plane_engines", "plane_seats", "plane_engine",
        "event_timestamp",
    ]  # fmt: skip
