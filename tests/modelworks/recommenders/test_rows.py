"""The rows of a ranking use case on tiny frames: time split, snapshots, holdout users, the
training context, the scoring users; and what the parameters refuse."""

from __future__ import annotations

import pandas as pd
import pytest

from modelworks.recommenders.params import RecommenderTrainingParams
from modelworks.recommenders.rows import (
    build_holdout_users,
    build_scoring_users,
    build_snapshot_rows,
    build_training_context,
    request_example,
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
    # The 7 days before the cutoff (day 14) decide early stopping and the winner.
    assert train["validation_period"].tolist() == [False, True]
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
            "at": [day(15), day(16), day(15), day(17), day(18)],
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
    assert judged["at"].tolist() == [day(16), day(18)]  # when the last relevant item was chosen
    # A served request carries key, features and exclusions, never the answer.
    assert list(request_example(judged.reset_index(), PARAMS).columns) == [
        "user_id",
        "booked",
        "taste",
    ]


def test_the_context_and_the_scoring_users_come_from_the_snapshots():
    snapshots = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 1, 2],
            "booked": [None, [10], None, [10, 11], None],
            "taste": [0.1, 0.5, 0.2, 0.7, 0.3],
            "clicked_count": [1, 2, 1, 3, 1],
            "snapshot": ["validation", "cutoff", "cutoff", "end", "end"],
            "as_of": [day(7), day(14), day(14), day(21), day(21)],
        }
    )
    items = pd.DataFrame(
        {
            "item_id": [10, 11, 10],
            "kind": ["x", "y", "x"],
            "snapshot": ["validation", "cutoff", "cutoff"],
            "as_of": [day(7), day(14), day(14)],
        }
    )
    service = {"service": "s", "feature_views": {"prefs_fv": {"features": ["clicked_count"]}}}
    params = PARAMS.model_copy(
        update={"users": PARAMS.users.model_copy(update={"history_views": ["prefs_fv"]})}
    )
    context = build_training_context(snapshots, items, service, params)
    assert context["users"]["taste"].tolist() == [0.5, 0.2]  # the cutoff's, no exclusions
    assert list(context["users"].columns) == ["user_id", "taste", "clicked_count"]
    assert context["validation_users"]["taste"].tolist() == [0.1]
    assert context["items"]["item_id"].tolist() == [11, 10]
    assert context["history_features"] == ["clicked_count"]
    scoring = build_scoring_users(snapshots, PARAMS)
    assert scoring["user_id"].tolist() == [1, 2]
    assert scoring["booked"].tolist() == [[10, 11], []]  # lists, never missing


def test_the_selection_metric_is_a_ranking_metric():
    settings = PARAMS.model_dump(mode="json", exclude_unset=True)
    assert PARAMS.task == "ranking" and PARAMS.metric == "ndcg_at_10" and PARAMS.n_splits == 1
    settings["selection_metric"] = "ndcg_at_10_cold"
    assert RecommenderTrainingParams.model_validate(settings).metric == "ndcg_at_10_cold"
    settings["selection_metric"] = "roc_auc"
    with pytest.raises(ValueError, match="task 'ranking' has no metric 'roc_auc'"):
        RecommenderTrainingParams.model_validate(settings)


def test_a_candidate_may_not_bring_its_own_validation_period():
    settings = PARAMS.model_dump(mode="json")
    settings["candidates"] = {"hybrid": {"validation_days": 3}}
    with pytest.raises(ValueError, match=r"set validation_days once, as training\.validation_days"):
        RecommenderTrainingParams.model_validate(settings)
    settings["candidates"] = {"hybrid": {"refit": False}}
    with pytest.raises(ValueError, match=r"candidates \['hybrid'\] set refit"):
        RecommenderTrainingParams.model_validate(settings)
