"""The rows of a ranking use case: a time split of its interactions, the users and the catalogue
as of the instants that matter, each interaction's user as of its request, and the users judged.

The split is by time, as the model is used: the latest ``holdout_days`` are judged and never
trained on, and the ``validation_days`` before them (marked ``validation_period`` on the
training rows) decide early stopping and which candidate wins. The framework's shuffled folds
would train on the future of what they validate.

Features come from the use case's Feast services, one per side (users, items), point in
time: each training interaction gets its user's features as of the request (the search),
and the catalogue and the users are snapshotted at the validation start, the cutoff and the
end of the data. Every model and baseline is judged on the same holdout users, warm and cold.

``ranking_rows_pipeline`` wires these nodes ahead of the framework's training pipeline, which
reads ``training_set`` and ``holdout_users`` as its rows and ``training_context`` as what every
fit needs beyond them (see ``modelworks.tasks.ranking``).
"""

from __future__ import annotations

from functools import partial, update_wrapper
from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

# FeatureRepo at run time too: Kedro reads node annotations (get_type_hints) to check inputs
from modelworks.features import FeatureRepo, FeatureStoreParams
from modelworks.recommenders.data import COLD_START, RELEVANT, InteractionColumns, item_list
from modelworks.recommenders.params import EntitySide, RecommenderTrainingParams

VALIDATION_PERIOD = "validation_period"  # training rows after the validation start
SNAPSHOT, AS_OF = "snapshot", "as_of"
VALIDATION, CUTOFF, END = "validation", "cutoff", "end"
# Keys of the training context: the tables as of the cutoff (which the model keeps) and as of
# the validation start (which early stopping ranks with), and the users' history features.
USERS, ITEMS = "users", "items"
VALIDATION_USERS, VALIDATION_ITEMS = "validation_users", "validation_items"
HISTORY_FEATURES = "history_features"


def interaction_columns(params: RecommenderTrainingParams) -> InteractionColumns:
    """The user key, item key and time column of the interactions."""
    return InteractionColumns(user=params.users.key, item=params.items.key, time=params.time_column)


def split_interactions(
    interactions: pd.DataFrame, params: RecommenderTrainingParams
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Positive interactions before the latest ``holdout_days`` (those of the validation period
    marked) and in them, and the instants that matter: where validation starts, the cutoff and
    the end of the data."""
    from modelworks.training.splits import out_of_time_split

    positives = interactions.loc[interactions[params.event_column].isin(params.positive_events)]
    if positives.empty:
        raise ValueError(
            f"no interaction has {params.event_column} in {params.positive_events}: "
            "nothing to learn from"
        )
    train, holdout = out_of_time_split(
        positives, time_column=params.time_column, holdout_days=params.holdout_days
    )
    end = positives[params.time_column].max()
    cutoff = end - pd.Timedelta(days=params.holdout_days)
    split = {
        VALIDATION: cutoff - pd.Timedelta(days=params.validation_days),
        CUTOFF: cutoff,
        END: end,
    }
    train = train.assign(**{VALIDATION_PERIOD: train[params.time_column] > split[VALIDATION]})
    return train, holdout, {name: moment.isoformat() for name, moment in split.items()}


def build_snapshot_rows(
    entities: pd.DataFrame,
    time_split: dict[str, str],
    params: RecommenderTrainingParams,
    *,
    side: str,
) -> pd.DataFrame:
    """Every entity of ``side`` (users or items) at the validation start, the cutoff and the
    end, as of the later of that instant and its own appearance, among those that appear
    before the period the snapshot serves ends.

    A user who signs up, or a hotel listed, during the period a snapshot serves is part of it
    with what was known when it appeared: that is what a cold-start request sees.
    """
    entity = _side(params, side)
    moments = {name: pd.Timestamp(value) for name, value in time_split.items()}
    served_until = {VALIDATION: moments[CUTOFF], CUTOFF: moments[END], END: moments[END]}
    appears = entities[entity.available_from]
    frames = []
    for name, moment in moments.items():
        present = entities.loc[appears <= served_until[name], [entity.key]]
        appeared = appears.loc[present.index]
        frames.append(
            present.assign(**{SNAPSHOT: name, AS_OF: appeared.where(appeared > moment, moment)})
        )
    return pd.concat(frames, ignore_index=True)


def retrieve_snapshots(
    store: FeatureRepo,
    rows: pd.DataFrame,
    params: RecommenderTrainingParams,
    feature_store_state: dict[str, Any],
    *,
    side: str,
) -> pd.DataFrame:
    """The snapshot rows of ``side`` with their features as of each row's ``as_of``."""
    return _point_in_time(store, rows, _side(params, side), AS_OF)


def retrieve_request_features(
    store: FeatureRepo,
    interactions: pd.DataFrame,
    params: RecommenderTrainingParams,
    feature_store_state: dict[str, Any],
) -> pd.DataFrame:
    """Each interaction with its user's features as known just before the request it came from.

    Feast answers "as of" a time inclusively; a click stamped in the same second as its search
    (timestamps are rounded) must not describe the user who made that search, so the lookup
    is one microsecond, the feature tables' resolution, before the request.
    """
    rows = interactions.assign(
        **{AS_OF: interactions[params.request_time_column] - pd.Timedelta(microseconds=1)}
    )
    features = _point_in_time(store, rows, params.users, AS_OF)
    exclude = params.users.exclude_feature
    return features.drop(columns=[AS_OF, *([exclude] if exclude in features.columns else [])])


def build_holdout_users(
    holdout: pd.DataFrame,
    training: pd.DataFrame,
    user_snapshots: pd.DataFrame,
    params: RecommenderTrainingParams,
) -> pd.DataFrame:
    """One row per user judged on the latest period: their features at the cutoff, the items
    to leave out, the relevant items still to find, whether they are a cold start, and when
    they chose the last of them (``time_column``).

    Relevant are the items of ``relevant_events`` in the holdout, less the excluded ones (a
    hotel booked before is never recommended, so finding it again proves nothing); users left
    without any say nothing about a ranking and are not judged.
    """
    user, item, time = params.users.key, params.items.key, params.time_column
    relevant = holdout.loc[holdout[params.event_column].isin(params.relevant_events)]
    by_user = relevant.groupby(user, sort=True)
    found = by_user[item].agg(lambda s: list(dict.fromkeys(s)))
    users = snapshot(user_snapshots, CUTOFF).set_index(user).reindex(found.index)
    exclude = params.users.exclude_feature
    if exclude is not None:
        users[exclude] = users[exclude].map(item_list)
        found = pd.Series(
            [_without(items, gone) for items, gone in zip(found, users[exclude], strict=True)],
            index=found.index,
        )
    users[RELEVANT] = found
    users[COLD_START] = ~users.index.isin(training[user])
    users[time] = by_user[time].max()
    judged = users.loc[users[RELEVANT].map(len) > 0]
    if judged.empty:
        raise ValueError(f"no user has a {params.relevant_events} interaction in the holdout")
    return judged.reset_index()


def build_training_context(
    user_snapshots: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    feature_service: dict[str, Any],
    params: RecommenderTrainingParams,
) -> dict[str, Any]:
    """What every fit of a run needs beyond its rows: users and catalogue at the cutoff and at
    the validation start (key + features), and the features of the users' history views."""
    key, features = params.users.key, user_features(user_snapshots, params)
    return {
        USERS: snapshot(user_snapshots, CUTOFF)[[key, *features]],
        ITEMS: snapshot(item_snapshots, CUTOFF),
        VALIDATION_USERS: snapshot(user_snapshots, VALIDATION)[[key, *features]],
        VALIDATION_ITEMS: snapshot(item_snapshots, VALIDATION),
        HISTORY_FEATURES: _history_features(feature_service, params),
    }


def build_scoring_users(
    user_snapshots: pd.DataFrame, params: RecommenderTrainingParams
) -> pd.DataFrame:
    """Every user known at the end of the data, with their features and the items to leave out
    as of then: whom a batch scoring ranks the catalogue for."""
    users = snapshot(user_snapshots, END).reset_index(drop=True)
    exclude = params.users.exclude_feature
    if exclude is not None:
        users[exclude] = users[exclude].map(item_list)
    return users


def snapshot(snapshots: pd.DataFrame, name: str) -> pd.DataFrame:
    """One snapshot's rows, without the bookkeeping columns."""
    return snapshots.loc[snapshots[SNAPSHOT] == name].drop(columns=[SNAPSHOT, AS_OF])


def user_features(user_snapshots: pd.DataFrame, params: RecommenderTrainingParams) -> list[str]:
    """The user features a model reads: the users' service, less the list of items to leave out."""
    skip = {params.users.key, SNAPSHOT, AS_OF, params.users.exclude_feature}
    return [c for c in user_snapshots.columns if c not in skip]


def request_example(holdout_users: pd.DataFrame, params: RecommenderTrainingParams) -> pd.DataFrame:
    """A few requests as a caller sends them in full: key, features, items to leave out."""
    exclude = params.users.exclude_feature
    order = holdout_users[exclude].map(len) if exclude else pd.Series(0, holdout_users.index)
    # Users with exclusions first, so the example shows (and types) the list column.
    example = holdout_users.loc[order.sort_values(ascending=False, kind="stable").index[:5]]
    judged = [RELEVANT, COLD_START, params.time_column]
    return example.drop(columns=judged, errors="ignore").reset_index(drop=True)


def requests(interactions: pd.DataFrame, params: RecommenderTrainingParams) -> pd.DataFrame:
    """One row per request (a user's search), from interactions that carry its features."""
    keys = [params.users.key, params.request_time_column]
    return interactions.drop_duplicates(keys).reset_index(drop=True)


def ranking_rows_pipeline(
    *, interactions: str = "interactions", users: str = "users", items: str = "items"
) -> Pipeline:
    """``interactions`` (every event, with its request time), ``users`` and ``items`` (entity
    tables, with when each appears) -> ``time_split``, ``user_snapshots``, ``item_snapshots``,
    the interactions with their request features (``training_set``, ``holdout_set``),
    ``holdout_users``, ``training_context`` and ``scoring_features`` (the users at the end),
    all read from Feast point in time."""
    snapshots = []
    for side, entities in (("user", users), ("item", items)):
        snapshots += [
            node(
                _for_side(build_snapshot_rows, f"{side}s"),
                inputs=[entities, "time_split", "params:training"],
                outputs=f"{side}_snapshot_rows",
                name=f"build_{side}_snapshot_rows",
            ),
            node(
                _for_side(retrieve_snapshots, f"{side}s"),
                inputs=[
                    "feature_store",
                    f"{side}_snapshot_rows",
                    "params:training",
                    "feature_store_state",
                ],
                outputs=f"{side}_snapshots",
                name=f"retrieve_{side}_snapshots",
            ),
        ]
    request_features = [
        node(
            retrieve_request_features,
            inputs=[
                "feature_store",
                f"{part}_interactions",
                "params:training",
                "feature_store_state",
            ],
            outputs=f"{part}_set",
            name=f"retrieve_{part}_request_features",
        )
        for part in ("training", "holdout")
    ]
    return Pipeline(
        [
            node(
                split_interactions,
                inputs=[interactions, "params:training"],
                outputs=["training_interactions", "holdout_interactions", "time_split"],
                name="split_interactions",
            ),
            *snapshots,
            *request_features,
            node(
                build_holdout_users,
                inputs=[
                    "holdout_interactions",
                    "training_interactions",
                    "user_snapshots",
                    "params:training",
                ],
                outputs="holdout_users",
                name="build_holdout_users",
            ),
            node(
                build_training_context,
                inputs=["user_snapshots", "item_snapshots", "feature_service", "params:training"],
                outputs="training_context",
                name="build_training_context",
            ),
            node(
                build_scoring_users,
                inputs=["user_snapshots", "params:training"],
                outputs="scoring_features",
                name="build_scoring_users",
            ),
        ]
    )


def _point_in_time(
    store: FeatureRepo, rows: pd.DataFrame, side: EntitySide, time_column: str
) -> pd.DataFrame:
    """``rows`` with the side's features as of each row's ``time_column``."""
    params = FeatureStoreParams(
        service=side.service,
        materialize=[],
        join_keys=[side.key],
        event_timestamp_column=time_column,
    )
    return store.point_in_time(rows, params)


def _side(params: RecommenderTrainingParams, side: str) -> EntitySide:
    if side not in ("users", "items"):
        raise ValueError(f"side must be 'users' or 'items', got {side!r}")
    entity: EntitySide = getattr(params, side)
    return entity


def _for_side(func: Any, side: str) -> Any:
    """``func`` with ``side`` bound, keeping its name and annotations for Kedro."""
    return update_wrapper(partial(func, side=side), func)


def _history_features(
    feature_service: dict[str, Any], params: RecommenderTrainingParams
) -> list[str]:
    """The features of the users' history views, as the model's feature service lists them."""
    views = feature_service["feature_views"]
    unknown = [v for v in params.users.history_views if v not in views]
    if unknown:
        raise ValueError(
            f"history_views {unknown} are not in feature service {feature_service['service']!r} "
            f"(it has {sorted(views)})"
        )
    return [f for view in params.users.history_views for f in views[view]["features"]]


def _without(items: list[Any], gone: list[Any]) -> list[Any]:
    """``items`` less those in ``gone``, in order."""
    left_out = set(gone)
    return [item for item in items if item not in left_out]
