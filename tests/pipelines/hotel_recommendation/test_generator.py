"""The synthetic travel site: schema, time order, cold start, long tail, learnable tastes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.hotel_recommendation.generator import (
    EVENTS,
    TRAVELLER_TYPES,
    GeneratorParams,
    generate_hotel_data,
    latest_period_start,
    window_end,
)

UTC = "datetime64[ns, UTC]"
FLAGS = ["has_wifi", "couple_friendly", "budget_friendly", "close_to_nature"]
SCHEMA = {
    "users": {"user_id": "int64", "signed_up_at": UTC, "traveller_type": "object"},
    "hotels": {
        "hotel_id": "int64",
        "listed_at": UTC,
        "city": "object",
        "star_rating": "int64",
        "price_band": "int64",
        **dict.fromkeys(FLAGS, "bool"),
    },
    "searches": {
        "search_id": "int64",
        "user_id": "int64",
        "searched_at": UTC,
        "city": "object",
        **{f"filter_{flag}": "bool" for flag in FLAGS},
        "filter_min_stars": "int64",
        "filter_max_price_band": "int64",
    },
    "interactions": {
        "interaction_id": "int64",
        "search_id": "int64",
        "user_id": "int64",
        "hotel_id": "int64",
        "event": "object",
        "occurred_at": UTC,
        "rating": "float64",
    },
}
SMALL = GeneratorParams(n_users=4_000, n_hotels=400, n_periods=6)
TINY = GeneratorParams(n_users=500, n_hotels=80, n_periods=3)


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return generate_hotel_data(SMALL)


def _events(data: dict[str, pd.DataFrame], event: str) -> pd.DataFrame:
    frame = data["interactions"]
    return frame[frame["event"] == event]


def test_tables_have_the_documented_columns_and_dtypes(data):
    assert set(data) == set(SCHEMA)
    for table, columns in SCHEMA.items():
        assert data[table].dtypes.astype(str).to_dict() == columns, table
    assert len(data["users"]) == SMALL.n_users
    assert len(data["hotels"]) == SMALL.n_hotels
    assert len(data["searches"]) > 2 * SMALL.n_users  # a few searches per user
    assert set(data["interactions"]["event"]) == set(EVENTS)


def test_keys_are_unique_and_references_resolve(data):
    users, hotels, searches, events = (data[t] for t in SCHEMA)
    for frame, key in ((users, "user_id"), (hotels, "hotel_id"), (searches, "search_id")):
        assert frame[key].is_unique
    assert events["interaction_id"].is_unique
    assert searches["user_id"].isin(users["user_id"]).all()
    assert events["hotel_id"].isin(hotels["hotel_id"]).all()
    joined = events.merge(searches, on="search_id", suffixes=("", "_search"), validate="m:1")
    assert (joined["user_id"] == joined["user_id_search"]).all()
    city = joined["hotel_id"].map(hotels.set_index("hotel_id")["city"])
    assert (city == joined["city"]).all()  # a search only shows hotels in its city


def test_values_are_in_their_documented_ranges(data):
    hotels, events = data["hotels"], data["interactions"]
    assert set(data["users"]["traveller_type"]) == set(TRAVELLER_TYPES)
    assert set(hotels["star_rating"]) == {1, 2, 3, 4, 5}
    assert set(hotels["price_band"]) == {1, 2, 3, 4}
    assert hotels["city"].nunique() == SMALL.n_cities
    rated = events["event"] == "rating"
    assert events.loc[rated, "rating"].isin([1, 2, 3, 4, 5]).all()
    assert events.loc[~rated, "rating"].isna().all()
    # Budget-friendly hotels sit in the low price bands.
    by_band = hotels.groupby("price_band")["budget_friendly"].mean()
    assert by_band[1] > 0.7 > 0.3 > by_band[4]


def test_timestamps_are_ordered_and_inside_the_window(data):
    start, end = pd.Timestamp(SMALL.start, tz="UTC"), window_end(SMALL)
    events, searches = data["interactions"], data["searches"]
    assert events["occurred_at"].is_monotonic_increasing
    assert (events["interaction_id"].diff().dropna() == 1).all()  # ids follow time
    assert searches["searched_at"].is_monotonic_increasing
    assert data["users"]["signed_up_at"].is_monotonic_increasing
    assert data["hotels"]["listed_at"].is_monotonic_increasing
    for frame, column in ((events, "occurred_at"), (searches, "searched_at")):
        assert frame[column].between(start, end, inclusive="left").all()


def test_events_follow_each_other_within_a_search(data):
    searched_at = data["searches"].set_index("search_id")["searched_at"]
    events = data["interactions"]
    assert (events["occurred_at"] >= events["search_id"].map(searched_at)).all()
    signed_up = data["users"].set_index("user_id")["signed_up_at"]
    assert (events["occurred_at"] >= events["user_id"].map(signed_up)).all()
    listed = data["hotels"].set_index("hotel_id")["listed_at"]
    assert (events["occurred_at"] >= events["hotel_id"].map(listed)).all()
    # A booking is of a hotel clicked in the same search, earlier; a rating follows a booking.
    keys = ["search_id", "hotel_id"]
    first = events.groupby([*keys, "event"])["occurred_at"].min().unstack()
    booked = first[first["booking"].notna()]
    assert booked["click"].notna().all()
    assert (booked["click"] < booked["booking"]).all()
    rated = first[first["rating"].notna()]
    assert (rated["booking"] + pd.Timedelta(days=1) < rated["rating"]).all()
    assert 0.25 < len(booked) / len(data["searches"]) < 0.5


def test_cold_start_users_and_hotels_appear_only_in_the_latest_period(data):
    latest = latest_period_start(SMALL)
    users, hotels, events = data["users"], data["hotels"], data["interactions"]
    new_users = users.loc[users["signed_up_at"] >= latest, "user_id"]
    new_hotels = hotels.loc[hotels["listed_at"] >= latest, "hotel_id"]
    assert abs(len(new_users) / len(users) - SMALL.new_user_share) < 0.03
    assert len(new_hotels) > 0.02 * len(hotels)
    for ids, column in ((new_users, "user_id"), (new_hotels, "hotel_id")):
        theirs = events[events[column].isin(ids)]
        assert theirs[column].nunique() > 0.5 * len(ids)  # most of them are active at once
        assert (theirs["occurred_at"] >= latest).all()
    # Warm users and hotels are active in the latest period too.
    recent = events[events["occurred_at"] >= latest]
    assert (~recent["user_id"].isin(new_users)).mean() > 0.6


def test_popularity_has_a_long_tail(data):
    clicks = _events(data, "click")["hotel_id"].value_counts()
    counts = clicks.reindex(data["hotels"]["hotel_id"], fill_value=0).sort_values(ascending=False)
    top_decile = counts.iloc[: len(counts) // 10].sum() / counts.sum()
    assert 0.3 < top_decile < 0.7
    assert counts.iloc[len(counts) // 2] < 0.3 * counts.iloc[len(counts) // 100]


def test_search_filters_follow_tastes_and_are_applied(data):
    searches = data["searches"].merge(data["users"], on="user_id")
    share = searches.groupby("traveller_type")[[f"filter_{f}" for f in FLAGS]].mean()
    for keen, other, flag in (
        ("business", "backpacker", "has_wifi"),
        ("backpacker", "business", "budget_friendly"),
        ("couple", "family", "couple_friendly"),
    ):
        assert share.loc[keen, f"filter_{flag}"] > 2 * share.loc[other, f"filter_{flag}"], flag
    clicks = _events(data, "click").merge(data["searches"], on="search_id")
    clicks = clicks.merge(data["hotels"], on="hotel_id", suffixes=("", "_hotel"))
    for flag in FLAGS:
        filtered = clicks[clicks[f"filter_{flag}"]]
        # The rest come from over-filtered searches, which show every hotel in the city.
        assert filtered[flag].mean() > 0.8, flag
    with_stars = clicks[clicks["filter_min_stars"] > 0]
    assert (with_stars["star_rating"] >= with_stars["filter_min_stars"]).mean() > 0.9


def test_tastes_are_learnable_from_past_choices(data):
    """A user's hotels before the latest period predict the attributes they book in it."""
    latest = latest_period_start(SMALL)
    chosen = data["interactions"].merge(data["hotels"], on="hotel_id")
    chosen = chosen[chosen["event"].isin(["click", "booking"])]
    attributes = [*FLAGS, "star_rating", "price_band"]
    past = chosen[chosen["occurred_at"] < latest].groupby("user_id")[attributes].mean()
    future = chosen[chosen["event"] == "booking"]
    future = future[future["occurred_at"] >= latest].groupby("user_id")[attributes].mean()
    both = past.join(future, lsuffix="_past", rsuffix="_future", how="inner")
    assert len(both) > 300
    for attribute in attributes:
        r = np.corrcoef(both[f"{attribute}_past"], both[f"{attribute}_future"])[0, 1]
        assert r > 0.2, attribute
    # The traveller type declared at sign-up tells the taste apart before any history.
    booked = chosen[chosen["event"] == "booking"].merge(data["users"], on="user_id")
    wifi = booked.groupby("traveller_type")["has_wifi"].mean()
    budget = booked.groupby("traveller_type")["budget_friendly"].mean()
    assert wifi["business"] > wifi["backpacker"] + 0.1
    assert budget["backpacker"] > budget["business"] + 0.2


def test_users_return_to_their_favourite_cities(data):
    cities = data["searches"].groupby("user_id")["city"]
    repeat = cities.agg(lambda c: c.value_counts().iloc[0] / len(c))[cities.size() >= 4]
    assert repeat.mean() > 0.4  # uniform over 12 cities would be ~0.25 for four searches


def test_same_seed_same_data_other_seed_other_data():
    first, again = generate_hotel_data(TINY), generate_hotel_data(TINY)
    other = generate_hotel_data(TINY.model_copy(update={"seed": 7}))
    for table in first:
        pd.testing.assert_frame_equal(first[table], again[table])
    assert not first["hotels"]["city"].equals(other["hotels"]["city"])


def test_params_reject_unknown_keys():
    with pytest.raises(ValidationError, match="n_user"):
        GeneratorParams.model_validate({"n_user": 10})
    with pytest.raises(ValidationError, match="n_cities"):
        GeneratorParams(n_cities=99)
