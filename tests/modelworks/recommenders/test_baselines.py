"""Popularity and content-based baselines, and the encoding they share with the neural model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.recommenders import (
    ContentRecommender,
    FeatureEncoder,
    IdIndex,
    PopularityRecommender,
)
from modelworks.recommenders.data import preference_profiles

DAY = pd.Timestamp("2024-03-01", tz="UTC")
ITEMS = pd.DataFrame(
    {
        "item_id": ["a", "b", "c", "d"],
        "wifi": [True, True, False, False],
        "stars": [5, 4, 2, 1],
        "city": ["x", "x", "y", "y"],
    }
)


def interactions(pairs: list[tuple[int, str, int]]) -> pd.DataFrame:
    """(user, item, days before DAY) triples as an interaction frame."""
    users, items, days = zip(*pairs, strict=True)
    return pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "timestamp": DAY - pd.to_timedelta(np.array(days), unit="D"),
        }
    )


def test_popularity_counts_the_recent_window_only():
    old = [(1, "a", 40), (2, "a", 35), (3, "a", 31)]
    events = interactions([*old, (1, "b", 2), (2, "b", 1), (3, "c", 0)])
    model = PopularityRecommender.fit(events, items=ITEMS, window_days=30)
    assert model.counts.tolist() == [0, 2, 1, 0]  # "a" was popular, but over a month ago
    assert model.top_k(99, k=2).tolist() == ["b", "c"]
    assert model.top_k(1, k=2, exclude=["b"]).tolist() == ["c", "a"]  # ties keep catalogue order
    assert (model.score_matrix([1, 2]) == model.counts).all()


def test_content_ranks_items_like_the_users_history_first():
    events = interactions([(1, "a", 3), (2, "c", 3), (2, "d", 2)])
    model = ContentRecommender.fit(events, items=ITEMS)
    assert model.top_k(1, k=2).tolist() == ["a", "b"]
    assert set(model.top_k(2, k=2)) == {"c", "d"}
    scores = model.score_matrix([1, 2])
    assert np.abs(scores).max() <= 1 + 1e-9  # cosine similarities
    # A user without history gets the mean profile of those with one.
    mean = model.profiles.to_numpy().mean(axis=0)
    expected = mean / np.linalg.norm(mean) @ model.item_vectors.T
    np.testing.assert_allclose(model.score_matrix([3])[0], expected)


def test_encoder_standardises_numbers_and_one_hot_encodes_categories():
    frame = ITEMS.set_index("item_id")
    encoder = FeatureEncoder.fit(frame)
    assert encoder.names == ["wifi", "stars", "city=x", "city=y"]
    x = encoder.transform(frame)
    np.testing.assert_allclose(x[:, :2].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(x[:, :2].std(axis=0), 1, atol=1e-6)
    assert x[:, 2:].tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]
    # Missing values and unseen categories encode as "average", i.e. zeros.
    odd = pd.DataFrame({"stars": [np.nan], "city": ["z"]})
    assert encoder.transform(odd).tolist() == [[0.0, 0.0, 0.0, 0.0]]
    assert FeatureEncoder.from_json(encoder.to_json()) == encoder
    assert encoder.output_mask(["city"]).tolist() == [False, False, True, True]


def test_encoder_rejects_timestamps_with_a_hint():
    with pytest.raises(ValueError, match="derive numbers from timestamps"):
        FeatureEncoder.fit(pd.DataFrame({"seen_at": [DAY]}))


def test_id_index_maps_unknown_ids_to_row_zero():
    index = IdIndex.from_values([30, 10, 20, 10])
    assert index.ids.tolist() == [10, 20, 30]
    assert index.positions([20, 99, 10]).tolist() == [2, 0, 1]
    assert IdIndex.from_json(index.to_json()).ids.equals(index.ids)


def test_preference_profiles_average_the_items_of_each_user():
    events = interactions([(1, "a", 3), (1, "c", 2), (2, "b", 1)])
    profiles = preference_profiles(events, ITEMS).set_index("user_id")
    assert profiles.loc[1, "pref_wifi"] == pytest.approx(0.5)
    assert profiles.loc[1, "pref_stars"] == pytest.approx(3.5)
    assert profiles.loc[1, "pref_city_x"] == pytest.approx(0.5)
    assert profiles.loc[2, "pref_city_y"] == pytest.approx(0.0)
    assert profiles["pref_interactions"].tolist() == [2, 1]
