"""Recommender pipeline nodes on tiny frames: time split, snapshots, holdout users, selection."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from modelworks.recommenders.params import RecommenderTrainingParams
from modelworks.recommenders.pipeline import (
    build_holdout_users,
    build_snapshot_rows,
    select_recommender,
    split_interactions,
)

T0 = pd.Timestamp("2024-05-01", tz="UTC")
PARAMS = RecommenderTrainingParams.model_validate(
    {
        "time_column": "at",
        "request_time_column": "asked_at",
        "event_column": "event",
        "positive_events": ["click", "booking"],
        "relevant_events": ["booking"],
        "holdout_days": 7,
        "validation_days": 7,
        "users": {
            "key": "user_id",
            "available_from": "joined_at",
            "service": "user_service",
            "exclude_feature": "booked",
        },
        "items": {"key": "item_id", "available_from": "listed_at", "service": "item_service"},
        "candidates": {"hybrid": {}},
        "baselines": {"content_features": ["kind"]},
    }
)


def day(n: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=n)


def test_the_split_holds_out_the_latest_days_of_positive_interactions():
    interactions = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2],
            "item_id": [10, 11, 10, 12],
            "event": ["click", "booking", "rating", "booking"],
            "at": [day(0), day(14), day(20), day(21)],
        }
    )
    train, holdout, split = split_interactions(interactions, PARAMS)
    assert train["at"].tolist() == [day(0), day(14)]
    assert holdout["at"].tolist() == [day(21)]  # the rating is no positive
    assert split == {
        "validation": day(7).isoformat(),
        "cutoff": day(14).isoformat(),
        "end": day(21).isoformat(),
    }


def test_snapshots_see_each_entity_as_of_the_later_of_the_instant_and_its_appearance():
    users = pd.DataFrame({"user_id": [1, 2, 3], "joined_at": [day(-30), day(10), day(18)]})
    split = {
        "validation": day(7).isoformat(),
        "cutoff": day(14).isoformat(),
        "end": day(21).isoformat(),
    }
    rows = build_snapshot_rows(users, split, PARAMS, side="users")
    as_of = rows.set_index(["snapshot", "user_id"])["as_of"]
    # The validation snapshot serves up to the cutoff: user 3 joins after it.
    assert as_of["validation"].to_dict() == {1: day(7), 2: day(10)}
    assert as_of["cutoff"].to_dict() == {1: day(14), 2: day(14), 3: day(18)}
    assert as_of["end"].to_dict() == {1: day(21), 2: day(21), 3: day(21)}


def test_holdout_users_find_only_items_not_excluded_and_know_who_is_new():
    holdout = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3, 3],
            "item_id": [10, 11, 12, 13, 13],
            "event": ["booking", "booking", "click", "booking", "booking"],
        }
    )
    training = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 12]})
    snapshots = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 1],
            "booked": [[10], None, None, [99]],
            "taste": [0.5, 0.1, None, 0.9],
            "snapshot": ["cutoff", "cutoff", "cutoff", "validation"],
            "as_of": [day(14)] * 4,
        }
    )
    judged = build_holdout_users(holdout, training, snapshots, PARAMS).set_index("user_id")
    # User 2 only clicked; user 1 booked hotel 10 before, so only 11 is left to find.
    assert judged.index.tolist() == [1, 3]
    assert judged["relevant_items"].tolist() == [[11], [13]]
    assert judged["booked"].tolist() == [[10], []]
    assert judged["cold_start"].tolist() == [False, True]
    assert judged.loc[1, "taste"] == 0.5  # the cutoff's features, not an earlier snapshot's


def test_the_winner_is_chosen_on_validation_and_measured_against_the_best_baseline(tracking):
    def holdout(overall: float, warm: float, cold: float) -> dict[str, float]:
        return {"ndcg_at_10": overall, "ndcg_at_10_warm": warm, "ndcg_at_10_cold": cold}

    candidates = [
        {"name": "a", "cv": {"valid_ndcg_at_10": 0.20}, "holdout": holdout(0.30, 0.32, 0.25)},
        {"name": "b", "cv": {"valid_ndcg_at_10": 0.10}, "holdout": holdout(0.40, 0.40, 0.40)},
    ]
    baselines = [
        {"name": "popularity", "holdout": holdout(0.10, 0.09, 0.12)},
        {"name": "content", "holdout": holdout(0.12, 0.15, 0.01)},
    ]
    with mlflow.start_run():
        best, document, logged = select_recommender(candidates, baselines)
    assert best["name"] == "a"
    assert best["holdout"]["ndcg_at_10_warm_over_baselines"] == pytest.approx(0.32 - 0.15)
    assert best["holdout"]["ndcg_at_10_cold_over_baselines"] == pytest.approx(0.25 - 0.12)
    assert document["candidate"] == "a"
    assert document["baselines"]["content"]["holdout_ndcg_at_10_warm"] == 0.15
    assert logged["popularity.holdout_ndcg_at_10"] == {"value": 0.1, "step": 0}


def test_a_candidate_may_not_bring_its_own_validation_period():
    settings = PARAMS.model_dump(mode="json")
    settings["candidates"] = {"hybrid": {"validation_days": 3}}
    with pytest.raises(ValueError, match=r"set it once, as training\.validation_days"):
        RecommenderTrainingParams.model_validate(settings)
