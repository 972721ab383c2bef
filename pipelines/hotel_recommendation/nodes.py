"""Domain nodes of hotel_recommendation: feature tables and interactions from the raw tables."""

from __future__ import annotations

import pandas as pd

from modelworks.features import EVENT_TIMESTAMP
from modelworks.recommenders import InteractionColumns
from modelworks.recommenders.features import activity_windows, item_history, preference_history
from pipelines.hotel_recommendation.features import (
    BOOKED_HOTELS,
    FLAGS,
    HOTEL_BANDS,
    HOTEL_CATEGORICAL,
    POPULARITY_COUNTS,
    POPULARITY_WINDOWS_DAYS,
    PREFERENCE_CITIES,
    PREFERENCE_NUMERIC,
    PREFERENCES,
)

COLUMNS = InteractionColumns(user="user_id", item="hotel_id", time="occurred_at")
EVENT = "event"


def build_hotel_attributes(hotels: pd.DataFrame) -> pd.DataFrame:
    """One row per hotel, known from the moment it is listed."""
    attributes = hotels[[COLUMNS.item, *HOTEL_CATEGORICAL, *HOTEL_BANDS, *FLAGS]].copy()
    attributes[EVENT_TIMESTAMP] = hotels["listed_at"]
    return attributes


def build_hotel_popularity(interactions: pd.DataFrame, hotels: pd.DataFrame) -> pd.DataFrame:
    """Trailing 7/30-day clicks and bookings per hotel, stamped at each and at every midnight."""
    popularity = activity_windows(
        interactions,
        hotels,
        key=COLUMNS.item,
        time=COLUMNS.time,
        available_from="listed_at",
        counts={stem: interactions[EVENT] == event for stem, event in POPULARITY_COUNTS.items()},
        windows_days=POPULARITY_WINDOWS_DAYS,
    )
    return popularity.rename(columns={COLUMNS.time: EVENT_TIMESTAMP})


def build_user_profile(users: pd.DataFrame) -> pd.DataFrame:
    """The traveller type each user declared, known from sign-up."""
    profile = users[[COLUMNS.user, "traveller_type"]].copy()
    profile[EVENT_TIMESTAMP] = users["signed_up_at"]
    return profile


def build_user_preferences(interactions: pd.DataFrame, hotels: pd.DataFrame) -> pd.DataFrame:
    """Each user's taste so far in clicked and booked hotels, stamped at each click or booking."""
    chosen = interactions.loc[interactions[EVENT].isin(PREFERENCES.values())]
    histories = [
        preference_history(
            chosen,
            hotels,
            columns=COLUMNS,
            numeric=PREFERENCE_NUMERIC,
            categorical={"city": PREFERENCE_CITIES[prefix]},
            where=chosen[EVENT] == event,
            prefix=prefix,
        )
        for prefix, event in PREFERENCES.items()
    ]
    keys = [COLUMNS.user, COLUMNS.time]
    # Every history is stamped at the same (user, instant) rows, so they join one to one.
    preferences = histories[0].merge(histories[1], on=keys, validate="one_to_one")
    return preferences.rename(columns={COLUMNS.time: EVENT_TIMESTAMP})


def build_user_bookings(interactions: pd.DataFrame) -> pd.DataFrame:
    """The hotels each user has booked so far, stamped at each booking."""
    bookings = item_history(
        interactions, columns=COLUMNS, where=interactions[EVENT] == "booking", name=BOOKED_HOTELS
    )
    return bookings.rename(columns={COLUMNS.time: EVENT_TIMESTAMP})


def attach_search_times(interactions: pd.DataFrame, searches: pd.DataFrame) -> pd.DataFrame:
    """Every interaction with the time of the search it came from: when the user asked."""
    return interactions.merge(
        searches[["search_id", "searched_at"]], on="search_id", how="left", validate="many_to_one"
    )
