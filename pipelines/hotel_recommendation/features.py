"""Feast definitions of hotel_recommendation: users and hotels, five feature views, services.

Hotels: their attributes (from the listing) and their popularity (clicks and bookings in the
trailing 7 and 30 days). Users: the traveller type they declared, their tastes so far (shares
of their clicked and booked hotels by attribute, their budget band, their cities) and the
hotels they booked, which a served model leaves out. Everything is stamped when it became
known, so Feast answers "as of" any instant.

``hotel_recommendation_service`` is the model's contract (every view, recorded in its
lineage). The two-tower model reads each side apart: ``..._user_service`` for the user tower
(the only lookup a served request makes) and ``..._hotel_service`` for the catalogue; Feast
retrieves a service for rows that carry the join keys of all its views, so each tower's
features are asked for on their own.

Feast is imported inside ``definitions()`` so importing the use case stays cheap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pipelines.hotel_recommendation.generator import CITIES

# Kedro's catalog (conf/base/catalog/hotel_recommendation.yml) writes these files; Feast reads
# them. Paths are relative to feature_repo/, as Feast resolves them.
SOURCE_PATH = "../data/04_feature/hotel_recommendation/{table}.parquet"
FEATURE_TABLES = (
    "hotel_attributes",
    "hotel_popularity",
    "user_profile",
    "user_preferences",
    "user_bookings",
)

FLAGS = ("has_wifi", "couple_friendly", "budget_friendly", "close_to_nature")
HOTEL_CATEGORICAL = ("city",)
HOTEL_BANDS = ("star_rating", "price_band")
POPULARITY_WINDOWS_DAYS = (7, 30)
POPULARITY_COUNTS = {"clicks": "click", "bookings": "booking"}  # feature stem: event counted
# Preferences: the mean over a user's clicked (booked) hotels of each attribute, i.e. the share
# that has a flag, the mean star rating and the mean price band (the budget band); clicks also
# say which cities a user looks at.
PREFERENCES = {"clicked_": "click", "booked_": "booking"}  # feature prefix: event averaged
PREFERENCE_NUMERIC = (*FLAGS, *HOTEL_BANDS)
PREFERENCE_CITIES = {"clicked_": CITIES, "booked_": ()}
BOOKED_HOTELS = "booked_hotel_ids"

SERVICE = "hotel_recommendation_service"
USER_SERVICE = "hotel_recommendation_user_service"
HOTEL_SERVICE = "hotel_recommendation_hotel_service"


def popularity_features() -> list[str]:
    """``<clicks|bookings>_<w>d`` for every window."""
    return [f"{count}_{days}d" for days in POPULARITY_WINDOWS_DAYS for count in POPULARITY_COUNTS]


def preference_features() -> list[str]:
    """Counts, attribute means and city shares of clicked and booked hotels."""
    return [
        name
        for prefix in PREFERENCES
        for name in (
            f"{prefix}count",
            *(f"{prefix}{a}" for a in PREFERENCE_NUMERIC),
            *(f"{prefix}city_{c}" for c in PREFERENCE_CITIES[prefix]),
        )
    ]


def definitions() -> list[Any]:
    """Entities, sources, feature views and the services."""
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Array, Bool, Float64, Int64, String

    user = Entity(
        name="user",
        join_keys=["user_id"],
        value_type=ValueType.INT64,
        description="A traveller with an account on the site",
    )
    hotel = Entity(
        name="hotel",
        join_keys=["hotel_id"],
        value_type=ValueType.INT64,
        description="A hotel listed on the site",
    )
    sources = {
        table: FileSource(
            name=f"{table}_source",
            path=SOURCE_PATH.format(table=table),
            timestamp_field="event_timestamp",
        )
        for table in FEATURE_TABLES
    }
    attributes_fv = FeatureView(
        name="hotel_attributes_fv",
        entities=[hotel],
        ttl=timedelta(0),  # a listing's attributes never expire
        schema=[Field(name="city", dtype=String)]
        + [Field(name=band, dtype=Int64) for band in HOTEL_BANDS]
        + [Field(name=flag, dtype=Bool) for flag in FLAGS],
        source=sources["hotel_attributes"],
        description="What a hotel's listing says",
    )
    popularity_fv = FeatureView(
        name="hotel_popularity_fv",
        entities=[hotel],
        # Stamped at every midnight: older than the longest window means the data stopped.
        ttl=timedelta(days=max(POPULARITY_WINDOWS_DAYS)),
        schema=[Field(name=name, dtype=Int64) for name in popularity_features()],
        source=sources["hotel_popularity"],
        description="Clicks and bookings in the trailing windows, stamped at each and daily",
    )
    profile_fv = FeatureView(
        name="user_profile_fv",
        entities=[user],
        ttl=timedelta(0),
        schema=[Field(name="traveller_type", dtype=String)],
        source=sources["user_profile"],
        description="The traveller type declared at sign-up",
    )
    preferences_fv = FeatureView(
        name="user_preferences_fv",
        entities=[user],
        ttl=timedelta(0),  # a taste learnt long ago still says something
        schema=[
            Field(name=name, dtype=Int64 if name.endswith("count") else Float64)
            for name in preference_features()
        ],
        source=sources["user_preferences"],
        description="Shares of clicked and booked hotels by attribute, stamped at each choice",
    )
    bookings_fv = FeatureView(
        name="user_bookings_fv",
        entities=[user],
        ttl=timedelta(0),
        schema=[Field(name=BOOKED_HOTELS, dtype=Array(Int64))],
        source=sources["user_bookings"],
        description="Hotels a user has booked, never recommended to them again",
    )
    user_views = [profile_fv, preferences_fv, bookings_fv]
    hotel_views = [attributes_fv, popularity_fv]
    services = [
        FeatureService(
            name=SERVICE,
            features=user_views + hotel_views,
            description="Features of the hotel_recommendation two-tower model",
        ),
        FeatureService(
            name=USER_SERVICE,
            features=user_views,
            description="What the user tower reads, looked up online per request",
        ),
        FeatureService(
            name=HOTEL_SERVICE,
            features=hotel_views,
            description="What the hotel tower reads for the catalogue",
        ),
    ]
    return [user, hotel, *sources.values(), *hotel_views, *user_views, *services]
