"""The ranking family's case for the conformance suite (``tests/modelworks/tasks``).

Users of segment a or b prefer items of their own kind, the pricier ones the higher their
budget, the more popular ones first; some users join late, so both the validation period and
the holdout have cold-start users. The rows are made as ``recommenders.rows`` makes them, the
feature store's point-in-time lookups played by the static user and item tables: training
interactions with their users' features, the holdout's judged users, the run's context of
users and catalogue. Training rows are degraded by shuffling their item ids, which leaves no
user's taste to learn.

A ranking is watched by its own nodes (``recommenders.watch``): its reference profile is the
users at their requests, the catalogue and the demand per item of the week before the cutoff,
and monitoring compares the latest period's interactions with it. The watch measures no
realised performance (the use case's retrain policy leaves ``max_realised_drop`` off), so the
case says so; drift and the cooldown are decided by the generic ``decide`` node on its summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from modelworks.recommenders import watch
from modelworks.recommenders.data import COLD_START, RELEVANT
from modelworks.recommenders.metrics import ranking_metrics
from modelworks.recommenders.params import RecommenderMonitoringParams, RecommenderTrainingParams
from modelworks.recommenders.rankings import DEFAULT_K, top_lists
from modelworks.recommenders.rows import (
    AS_OF,
    ITEMS,
    build_holdout_users,
    build_snapshot_rows,
    build_training_context,
    split_interactions,
)
from modelworks.serving.datasets import ServedModel
from modelworks.training.features import FeatureSpec
from tests.modelworks.tasks.case import START, ConformanceCase, Rows

PARAMS = RecommenderTrainingParams.model_validate(
    {
        "time_column": "timestamp",
        "request_time_column": "timestamp",
        "event_column": "event",
        "positive_events": ["click"],
        "relevant_events": ["click"],
        "holdout_days": 4,
        "validation_days": 4,
        "users": {
            "key": "user_id",
            "available_from": "joined_at",
            "service": "user_service",
            "exclude_feature": "seen",
        },
        "items": {"key": "item_id", "available_from": "listed_at", "service": "item_service"},
        "candidates": {"hybrid": {"max_epochs": 3, "batch_size": 256, "seed": 7}},
        "baselines": {"popularity_window_days": 7, "content_features": ["kind", "price"]},
    }
)
WATCH = RecommenderMonitoringParams(
    user_features=FeatureSpec(numeric=["budget"], categorical=["segment"]),
    item_features=FeatureSpec(numeric=["price"], categorical=["kind"]),
    window_days=7,
)
SERVICE = {
    "service": "user_service",
    "join_keys": ["user_id"],
    "features": ["segment", "budget"],
    "repo_path": "/nowhere",  # opened only when a caller sends keys alone
    "definitions_sha256": "0" * 64,
    "feature_views": {},
}
USER_FEATURES = ["segment", "budget"]
ITEM_SNAPSHOTS, TIME_SPLIT = "item_snapshots", "time_split"


def ranking_data(
    seed: int = 0, *, n_users: int = 300, n_late: int = 60, n_items: int = 40, per_user: int = 8
) -> dict[str, pd.DataFrame]:
    """Users (the last ``n_late`` joining in the data's last ten days), items and 20 days of
    clicks, ``per_user`` each, after the user joined."""
    rng = np.random.default_rng(seed)
    n, days = n_users + n_late, 20.0
    segment = rng.choice(["a", "b"], size=n)
    budget = rng.normal(size=n)
    joined = np.where(np.arange(n) < n_users, 0.0, rng.uniform(days - 10, days - 2, size=n))
    kind = np.where(np.arange(n_items) % 2 == 0, "a", "b")
    price = rng.uniform(50, 200, n_items)
    popularity = rng.lognormal(0.0, 0.7, size=n_items)
    weights = (
        popularity
        * np.where(segment[:, None] == kind[None, :], 6.0, 1.0)
        * np.exp(budget[:, None] * (price[None, :] - 125) / 75)
    )
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((n, per_user))
    items = np.minimum((draws[:, :, None] > cum[:, None, :]).sum(axis=2), n_items - 1).ravel()
    when = joined[:, None] + rng.uniform(size=(n, per_user)) * (days - joined[:, None])
    return {
        "interactions": pd.DataFrame(
            {
                "user_id": np.repeat(np.arange(n), per_user),
                "item_id": items,
                # To the second, as events are stamped.
                "timestamp": (START + pd.to_timedelta(when.ravel(), unit="D")).round("s"),
                "event": "click",
            }
        ),
        "users": pd.DataFrame(
            {
                "user_id": np.arange(n),
                "joined_at": START + pd.to_timedelta(joined, unit="D"),
                "segment": segment,
                "budget": budget,
            }
        ),
        "items": pd.DataFrame(
            {"item_id": np.arange(n_items), "listed_at": START, "kind": kind, "price": price}
        ),
    }


def _snapshots(
    entities: pd.DataFrame, split: dict[str, str], side: str, clicks: pd.DataFrame
) -> pd.DataFrame:
    """Snapshot rows of ``side`` with their (static) features; a user's ``seen``: the items
    clicked up to the snapshot's ``as_of``."""
    entity = getattr(PARAMS, side)
    rows = build_snapshot_rows(entities, split, PARAMS, side=side)
    frame = rows.merge(entities.drop(columns=entity.available_from), on=entity.key, how="left")
    if side == "users":
        by_user = dict(tuple(clicks.groupby("user_id")))
        frame["seen"] = [
            sorted(set(by_user[user].loc[by_user[user]["timestamp"] <= as_of, "item_id"]))
            if user in by_user
            else []
            for user, as_of in zip(frame["user_id"], frame[AS_OF], strict=True)
        ]
    return frame


@cache
def _rows() -> Rows:
    data = ranking_data()
    users, items, clicks = data["users"], data["items"], data["interactions"]
    train, holdout, split = split_interactions(clicks, PARAMS)
    user_snapshots = _snapshots(users, split, "users", clicks)
    item_snapshots = _snapshots(items, split, "items", clicks)
    judged = build_holdout_users(holdout, train, user_snapshots, PARAMS)
    features = users[["user_id", *USER_FEATURES]]
    return Rows(
        # Each interaction with its user's features at the request, as Feast would give them.
        train=train.merge(features, on="user_id", how="left").set_axis(train.index),
        holdout=judged,
        entities=clicks[["user_id", "timestamp"]],
        latest=holdout.merge(features, on="user_id", how="left").set_axis(holdout.index),
        scoring=judged.drop(columns=[RELEVANT, COLD_START, PARAMS.time_column]),
        context=build_training_context(user_snapshots, item_snapshots, SERVICE, PARAMS),
        tables={ITEM_SNAPSHOTS: item_snapshots, TIME_SPLIT: split},
    )


def ranking_rows() -> Rows:
    """The case's rows (made once; frames are not to be changed in place)."""
    return _rows()


def shuffle_items(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The training interactions with their item ids shuffled: no user's taste left."""
    rng = np.random.default_rng(seed)
    return train.assign(item_id=rng.permutation(train["item_id"].to_numpy()))


def profile(rows: Rows, best: dict[str, Any], params: Any) -> dict[str, Any]:
    """The ranking's reference: the week before the cutoff (``watch.profile_reference``)."""
    tables = rows.tables
    return watch.profile_reference(
        rows.train, tables[ITEM_SNAPSHOTS], tables[TIME_SPLIT], best, params, WATCH
    )


def monitor(served: ServedModel, rows: Rows, batch: pd.DataFrame, params: Any) -> dict[str, Any]:
    """The champion's watch over ``batch``, the latest period's interactions."""
    return watch.monitor_recommender(served, batch, rows.tables[ITEM_SNAPSHOTS], params, WATCH)


def moved(batch: pd.DataFrame) -> pd.DataFrame:
    """The latest period's requests from users whose budget moved far away."""
    return batch.assign(budget=batch["budget"] * 4.0 + 5.0)


def judge_served(rows: Rows, answer: pd.DataFrame, params: Any) -> dict[str, float]:
    """The ranking metrics of the served top-k lists against the holdout users' choices."""
    context: Mapping[str, Any] = rows.context or {}
    user, item = params.users.key, params.items.key
    catalogue = pd.Index(context[ITEMS][item])
    judged = rows.holdout.set_index(user)
    lists = top_lists(answer).reindex(judged.index)["items"]
    top = np.full((len(judged), DEFAULT_K), -1, dtype=np.int64)
    for row, items in enumerate(lists):
        top[row, : len(items)] = catalogue.get_indexer(pd.Index(items))
    relevant = np.zeros((len(judged), len(catalogue)), dtype=bool)
    for row, items in enumerate(judged[RELEVANT]):
        relevant[row, catalogue.get_indexer(pd.Index(items))] = True
    return ranking_metrics(relevant, top=top, cold=judged[COLD_START].to_numpy())


RANKING_CASE = ConformanceCase(
    "ranking",
    PARAMS,
    ranking_rows,
    shuffle_items,
    id_columns=("user_id",),
    feature_service=SERVICE,
    profile=profile,
    monitor=monitor,
    moved=moved,
    served_metrics=judge_served,
    realised=False,
)
