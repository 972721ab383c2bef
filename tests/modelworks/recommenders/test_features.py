"""Point-in-time feature tables: tastes, past items and item demand, against hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.recommenders import InteractionColumns
from modelworks.recommenders.features import activity_windows, item_history, preference_history

T0 = pd.Timestamp("2024-03-01 10:00", tz="UTC")
COLUMNS = InteractionColumns(user="user_id", item="hotel_id", time="at")
HOTELS = pd.DataFrame(
    {
        "hotel_id": [1, 2, 3],
        "has_wifi": [True, False, True],
        "stars": [5, 3, 4],
        "city": ["rome", "paris", "rome"],
    }
)


def events(rows: list[tuple[int, int, float, str]]) -> pd.DataFrame:
    """(user, hotel, hours after T0, event) rows."""
    user, hotel, hours, event = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": user,
            "hotel_id": hotel,
            "at": T0 + pd.to_timedelta(hours, unit="h"),
            "event": event,
        }
    )


def test_preference_history_is_the_running_mean_of_the_selected_interactions():
    frame = events(
        [(7, 1, 0, "click"), (7, 2, 1, "booking"), (7, 3, 2, "click"), (8, 2, 0, "click")]
    )
    history = preference_history(
        frame,
        HOTELS,
        columns=COLUMNS,
        numeric=["has_wifi", "stars"],
        categorical={"city": ["rome", "paris", "oslo"]},
        where=frame["event"] == "click",
        prefix="clicked_",
    )
    user7 = history[history["user_id"] == 7].reset_index(drop=True)
    # Stamped at every interaction, the booking included; it counts for nothing here.
    assert list(user7["at"]) == list(frame["at"][:3])
    assert list(user7["clicked_count"]) == [1, 1, 2]
    assert list(user7["clicked_has_wifi"]) == [1.0, 1.0, 1.0]
    assert list(user7["clicked_stars"]) == [5.0, 5.0, 4.5]
    assert list(user7["clicked_city_rome"]) == [1.0, 1.0, 1.0]
    assert list(user7["clicked_city_oslo"]) == [0.0, 0.0, 0.0]
    user8 = history[history["user_id"] == 8].iloc[0]
    assert user8["clicked_city_paris"] == 1.0 and user8["clicked_stars"] == 3.0


def test_preference_history_is_missing_before_the_first_selected_interaction():
    frame = events([(7, 1, 0, "click"), (7, 2, 1, "booking")])
    history = preference_history(
        frame, HOTELS, columns=COLUMNS, numeric=["stars"], where=frame["event"] == "booking"
    )
    assert list(history["count"]) == [0, 1]
    assert np.isnan(history["stars"].iloc[0]) and history["stars"].iloc[1] == 3.0


def test_interactions_of_one_instant_collapse_into_one_row_that_holds_them_all():
    frame = events([(7, 1, 0, "click"), (7, 2, 0, "click")])
    history = preference_history(frame, HOTELS, columns=COLUMNS, numeric=["stars"])
    assert len(history) == 1
    assert history["count"].iloc[0] == 2 and history["stars"].iloc[0] == 4.0


def test_preference_history_names_items_missing_from_the_item_table():
    with pytest.raises(ValueError, match=r"missing from the item table, e\.g\. \[9\]"):
        preference_history(events([(7, 9, 0, "click")]), HOTELS, columns=COLUMNS)


def test_item_history_lists_distinct_items_in_first_seen_order():
    frame = events(
        [(7, 2, 0, "booking"), (7, 1, 1, "click"), (7, 1, 2, "booking"), (7, 2, 3, "booking")]
    )
    booked = item_history(frame, columns=COLUMNS, where=frame["event"] == "booking", name="b")
    assert list(booked["at"]) == list(frame["at"].iloc[[0, 2, 3]])
    assert list(booked["b"]) == [[2], [2, 1], [2, 1]]


def test_activity_windows_count_at_events_and_every_midnight():
    frame = events([(7, 1, 0, "click"), (8, 1, 30, "booking"), (9, 1, 60, "click")])
    hotels = pd.DataFrame(
        {"hotel_id": [1, 2], "listed_at": [T0 - pd.Timedelta(days=9), T0 + pd.Timedelta(days=1)]}
    )
    windows = activity_windows(
        frame,
        hotels,
        key="hotel_id",
        time="at",
        available_from="listed_at",
        counts={"clicks": frame["event"] == "click", "bookings": frame["event"] == "booking"},
        windows_days=[1],
    )
    hotel1 = windows[windows["hotel_id"] == 1].set_index("at")
    midnight = T0.floor("D")
    day = pd.Timedelta(days=1)
    assert hotel1.loc[T0, "clicks_1d"] == 1
    assert hotel1.loc[midnight + day, ["clicks_1d", "bookings_1d"]].tolist() == [1, 0]
    # The first click has left the window by the next midnight: that row says so.
    assert hotel1.loc[midnight + 2 * day, ["clicks_1d", "bookings_1d"]].tolist() == [0, 1]
    assert hotel1.loc[T0 + pd.Timedelta(hours=60), ["clicks_1d", "bookings_1d"]].tolist() == [1, 0]
    assert hotel1.index.max() == T0 + pd.Timedelta(hours=60)  # no midnight after the data
    # Hotel 2 is listed on day 2 and never chosen: zeros from that day's midnight on.
    hotel2 = windows[windows["hotel_id"] == 2]
    assert hotel2["at"].min() == midnight + day
    assert (hotel2[["clicks_1d", "bookings_1d"]] == 0).all().all()
    assert windows["clicks_1d"].dtype == np.int64
