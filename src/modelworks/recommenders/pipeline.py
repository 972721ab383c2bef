"""Recommender pipelines: a time split, point-in-time features from Feast, the models against
their baselines in MLflow, the gate and the registry, and the drift of what the model sees.

The split is by time, as the model is used: the latest ``holdout_days`` are judged and never
trained on; the ``validation_days`` before them decide early stopping and which candidate
wins. The framework's cross-validation (stratified folds over rows) would train on the future
of what it validates, so a recommender validates on the latest period before the holdout.

Features come from the use case's Feast services, one per side (users, items), point in
time: each training interaction gets its user's features as of the request (the search),
and the catalogue and the users are snapshotted at the validation start, the cutoff and the
end of the data. Every model and baseline is judged on the same holdout users, warm and cold.

Each node takes and returns plain frames and dicts; MLflow, the registry and Feast are reached
through ``registry.tracking``, ``registry.promotion`` and the ``FeatureRepo`` dataset.
"""

from __future__ import annotations

from functools import partial, update_wrapper
from typing import Any

import numpy as np
import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.features import FeatureRepo, FeatureStoreParams
from modelworks.pipelines.training import RegistryParams, describe_lineage, worst_verdict
from modelworks.recommenders.base import Recommender
from modelworks.recommenders.baselines import ContentRecommender, PopularityRecommender
from modelworks.recommenders.data import InteractionColumns
from modelworks.recommenders.metrics import evaluate_recommender
from modelworks.recommenders.monitoring import (
    build_recommender_profile,
    compare_to_profile,
    render_recommender_report,
)
from modelworks.recommenders.params import (
    EntitySide,
    RecommenderMonitoringParams,
    RecommenderParams,
    RecommenderTrainingParams,
)
from modelworks.recommenders.plots import learning_curve_figure, ndcg_figure
from modelworks.recommenders.serving import item_list, log_recommender
from modelworks.registry import promotion, tracking
from modelworks.registry.lineage import LINEAGE_FILE, PROFILE_FILE, lineage_tags
from modelworks.serving.datasets import ServedModel

TASK = "ranking"
RELEVANT = "relevant_items"  # the holdout users' items to find, a list per user
COLD_START = "cold_start"  # no interaction before the cutoff
SNAPSHOT, AS_OF = "snapshot", "as_of"
VALIDATION, CUTOFF, END = "validation", "cutoff", "end"
ROLE_BASELINE = "baseline"  # a run judged like a candidate's, never registered
GROUPS = ("", "_warm", "_cold")


def interaction_columns(params: RecommenderTrainingParams) -> InteractionColumns:
    """The user key, item key and time column of the interactions."""
    return InteractionColumns(user=params.users.key, item=params.items.key, time=params.time_column)


# --------------------------------------------------------------------------------------------
# Split and point-in-time features
# --------------------------------------------------------------------------------------------


def split_interactions(
    interactions: pd.DataFrame, params: RecommenderTrainingParams
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Positive interactions before the latest ``holdout_days`` and in them, and the instants
    that matter: where validation starts, the cutoff and the end of the data."""
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


def retrieve_side_features(
    store: FeatureRepo,
    rows: pd.DataFrame,
    side: EntitySide,
    time_column: str,
    feature_store_state: dict[str, Any],
) -> pd.DataFrame:
    """``rows`` with the side's features as of each row's ``time_column`` (point in time)."""
    params = FeatureStoreParams(
        service=side.service,
        materialize=[],
        join_keys=[side.key],
        event_timestamp_column=time_column,
    )
    return store.point_in_time(rows, params)


def retrieve_snapshots(
    store: FeatureRepo,
    rows: pd.DataFrame,
    params: RecommenderTrainingParams,
    feature_store_state: dict[str, Any],
    *,
    side: str,
) -> pd.DataFrame:
    """The snapshot rows of ``side`` with their features as of each row's ``as_of``."""
    return retrieve_side_features(store, rows, _side(params, side), AS_OF, feature_store_state)


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
    features = retrieve_side_features(store, rows, params.users, AS_OF, feature_store_state)
    exclude = params.users.exclude_feature
    return features.drop(columns=[AS_OF, *([exclude] if exclude in features.columns else [])])


def build_holdout_users(
    holdout: pd.DataFrame,
    training: pd.DataFrame,
    user_snapshots: pd.DataFrame,
    params: RecommenderTrainingParams,
) -> pd.DataFrame:
    """One row per user judged on the latest period: their features at the cutoff, the items
    to leave out, the relevant items still to find, and whether they are a cold start.

    Relevant are the items of ``relevant_events`` in the holdout, less the excluded ones (a
    hotel booked before is never recommended, so finding it again proves nothing); users left
    without any say nothing about a ranking and are not judged.
    """
    user, item = params.users.key, params.items.key
    relevant = holdout.loc[holdout[params.event_column].isin(params.relevant_events)]
    found = relevant.groupby(user, sort=True)[item].agg(lambda s: list(dict.fromkeys(s)))
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
    judged = users.loc[users[RELEVANT].map(len) > 0]
    if judged.empty:
        raise ValueError(f"no user has a {params.relevant_events} interaction in the holdout")
    return judged.reset_index()


def snapshot(snapshots: pd.DataFrame, name: str) -> pd.DataFrame:
    """One snapshot's rows, without the bookkeeping columns."""
    return snapshots.loc[snapshots[SNAPSHOT] == name].drop(columns=[SNAPSHOT, AS_OF])


# --------------------------------------------------------------------------------------------
# Models and baselines
# --------------------------------------------------------------------------------------------


def train_recommenders(
    training_set: pd.DataFrame,
    holdout_users: pd.DataFrame,
    user_snapshots: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    time_split: dict[str, str],
    feature_service: dict[str, Any],
    params: RecommenderTrainingParams,
) -> list[dict[str, Any]]:
    """Train, validate and judge every candidate; each in its own MLflow run with its pyfunc.

    ``training_set`` holds the training interactions with their users' features as of each
    request; the model keeps the snapshots at the cutoff, and validates with those at the
    validation start.
    """
    from modelworks.recommenders.trainer import Validation, torch_threads

    columns = interaction_columns(params)
    user_features = _user_features(user_snapshots, params)
    validation = Validation(
        start=pd.Timestamp(time_split[VALIDATION]),
        users=snapshot(user_snapshots, VALIDATION)[[columns.user, *user_features]],
        items=snapshot(item_snapshots, VALIDATION),
    )
    data = {
        "interactions": training_set,
        "users": snapshot(user_snapshots, CUTOFF)[[columns.user, *user_features]],
        "items": snapshot(item_snapshots, CUTOFF),
        "request_users": training_set[user_features],
        "history_features": _history_features(feature_service, params),
        "validation": validation,
    }
    serving = {
        "user_key": columns.user,
        "user_service": params.users.service,
        "exclude_feature": params.users.exclude_feature,
        "feature_repo": feature_service["repo_path"],
    }
    with torch_threads(params.torch_threads):
        return [
            _train_candidate(name, candidate, data, holdout_users, training_set, serving, params)
            for name, candidate in params.candidates.items()
        ]


def _train_candidate(
    name: str,
    candidate: RecommenderParams,
    data: dict[str, Any],
    holdout_users: pd.DataFrame,
    training: pd.DataFrame,
    serving: dict[str, Any],
    params: RecommenderTrainingParams,
) -> dict[str, Any]:
    from modelworks.recommenders.trainer import fit_recommender

    with tracking.candidate_run(name, tags={"modelworks.adapter": "torch"}) as run_id:
        settings = candidate.model_copy(update={"validation_days": params.validation_days})
        tracking.log_params(settings.model_dump(mode="json"), prefix="model.")
        model = fit_recommender(
            data["interactions"],
            users=data["users"],
            items=data["items"],
            params=settings,
            columns=interaction_columns(params),
            history_features=data["history_features"],
            request_users=data["request_users"],
            validation=data["validation"],
        )
        history = model.history
        assert history is not None  # fit_recommender always records one
        valid = {
            "valid_ndcg_at_10": history.best_valid_ndcg_at_10 or 0.0,
            "best_epoch": float(history.best_epoch),
            "samples_per_second": history.samples_per_second,
        }
        tracking.log_metrics(valid)
        tracking.log_dict_to(run_id, history.to_json(), "training/history.json")
        tracking.log_figure(learning_curve_figure(history), "plots/learning_curve.png")
        holdout = _evaluate(model, holdout_users, training, params)
        tracking.log_metrics(holdout, prefix="holdout_")
        model_uri = log_recommender(model, _request_example(holdout_users, params), config=serving)
    return {
        "name": name,
        "adapter": "torch",
        "run_id": run_id,
        "model_uri": model_uri,
        "rounds": history.best_epoch,
        "cv": valid,
        "holdout": holdout,
    }


def evaluate_baselines(
    training: pd.DataFrame,
    holdout_users: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    params: RecommenderTrainingParams,
) -> list[dict[str, Any]]:
    """Popularity and content-based similarity, trained on the same interactions as the
    models and judged on the same users; each in its own MLflow run."""
    columns = interaction_columns(params)
    catalogue = snapshot(item_snapshots, CUTOFF)
    baselines = params.baselines
    models: dict[str, tuple[Recommender, dict[str, Any]]] = {
        "popularity": (
            PopularityRecommender.fit(
                training,
                items=catalogue[[columns.item]],
                columns=columns,
                window_days=baselines.popularity_window_days,
            ),
            {"window_days": baselines.popularity_window_days},
        ),
        "content": (
            ContentRecommender.fit(
                training,
                items=catalogue[[columns.item, *baselines.content_features]],
                columns=columns,
            ),
            {"features": ",".join(baselines.content_features)},
        ),
    }
    results = []
    for name, (model, settings) in models.items():
        tags = {tracking.TAG_ROLE: ROLE_BASELINE, "modelworks.adapter": name}
        with tracking.candidate_run(name, tags=tags) as run_id:
            tracking.log_params(settings, prefix="baseline.")
            holdout = _evaluate(model, holdout_users, training, params)
            tracking.log_metrics(holdout, prefix="holdout_")
        results.append({"name": name, "run_id": run_id, "holdout": holdout})
    return results


def select_recommender(
    candidates: list[dict[str, Any]], baselines: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The candidate with the best validation NDCG@10 (the holdout stays unbiased), its margin
    over the best baseline, and every model's holdout metrics side by side (JSON, MLflow).

    ``ndcg_at_10<group>_over_baselines`` is the winner's NDCG@10 minus the best baseline's,
    overall and for warm and cold-start users: what the gate's thresholds hold it to.
    """
    best = max(candidates, key=lambda c: c["cv"]["valid_ndcg_at_10"])
    margins = {}
    for group in GROUPS:
        key = f"ndcg_at_10{group}"
        rivals = [b["holdout"][key] for b in baselines if key in b["holdout"]]
        if key in best["holdout"] and rivals:
            margins[f"{key}_over_baselines"] = best["holdout"][key] - max(rivals)
    best = {**best, "holdout": {**best["holdout"], **margins}}
    document = {
        "candidate": best["name"],
        **{f"holdout_{k}": round(v, 6) for k, v in best["holdout"].items()},
        **{f"cv_{k}": round(v, 6) for k, v in best["cv"].items()},
        "baselines": {
            b["name"]: {f"holdout_{k}": round(v, 6) for k, v in b["holdout"].items()}
            for b in baselines
        },
    }
    tracking.log_figure(ndcg_figure([*candidates, *baselines]), "plots/ndcg_at_10.png")
    flat = {k: v for k, v in document.items() if isinstance(v, float)}
    for name, metrics in document["baselines"].items():
        flat.update({f"{name}.{k}": v for k, v in metrics.items()})
    return best, document, {k: {"value": v, "step": 0} for k, v in flat.items()}


def register_recommender(
    best: dict[str, Any],
    lineage: dict[str, Any],
    holdout_users: pd.DataFrame,
    drift_summary: dict[str, Any],
    reference_profile: dict[str, Any],
    registry: RegistryParams,
) -> dict[str, Any]:
    """Register the winner with its lineage, evidence and reference profile, then let the gate
    decide on it (task ``ranking``: the gate scores it on the same holdout users)."""
    if not lineage["validation"]["success"]:
        raise RuntimeError(
            f"Refusing to register {registry.model_name}: its training data failed validation"
        )
    run_id = best["run_id"]
    tracking.log_dict_to(run_id, lineage, LINEAGE_FILE)
    tracking.log_dict_to(run_id, reference_profile, PROFILE_FILE)
    promotion.log_gate_evidence(
        run_id,
        task=TASK,
        label=RELEVANT,
        holdout=holdout_users,
        holdout_metrics=best["holdout"],
        validation_passed=True,
        drift_verdict=worst_verdict(drift_summary),
    )
    version = promotion.register_version(
        model_name=registry.model_name,
        model_uri=best["model_uri"],
        run_id=run_id,
        tags={
            "modelworks.candidate": best["name"],
            "modelworks.adapter": best["adapter"],
            **{f"holdout.{k}": f"{v:.6f}" for k, v in best["holdout"].items()},
            **{f"cv.{k}": f"{v:.6f}" for k, v in best["cv"].items()},
            **lineage_tags(lineage),
        },
        description=registry.description,
    )
    decision = promotion.promote(
        registry.model_name, version, registry.gate, triggered_by=tracking.active_run_id()
    )
    return decision.to_dict()


# --------------------------------------------------------------------------------------------
# Monitoring
# --------------------------------------------------------------------------------------------


def profile_reference(
    training_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    time_split: dict[str, str],
    training: RecommenderTrainingParams,
    monitoring: RecommenderMonitoringParams,
) -> dict[str, Any]:
    """What the model saw in the ``window_days`` before the cutoff: its users' features at each
    request, the catalogue at the cutoff and the interactions per item."""
    cutoff = pd.Timestamp(time_split[CUTOFF])
    window = training_set.loc[
        training_set[training.time_column] > cutoff - pd.Timedelta(days=monitoring.window_days)
    ]
    catalogue = snapshot(item_snapshots, CUTOFF)
    return build_recommender_profile(
        _requests(window, training),
        catalogue.loc[catalogue[training.items.key].isin(training_set[training.items.key])],
        window[training.items.key].value_counts(),
        params=monitoring,
    )


def detect_drift(
    reference_profile: dict[str, Any],
    holdout_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    training: RecommenderTrainingParams,
    monitoring: RecommenderMonitoringParams,
) -> dict[str, Any]:
    """The latest period against the reference: user features at its requests, the catalogue
    at the end, and the shift of interactions across items."""
    return compare_to_profile(
        reference_profile,
        _requests(holdout_set, training),
        snapshot(item_snapshots, END),
        holdout_set[training.items.key].value_counts(),
        params=monitoring,
    )


def render_drift_report(
    drift_summary: dict[str, Any],
    reference_profile: dict[str, Any],
    holdout_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    training: RecommenderTrainingParams,
    registry: RegistryParams,
) -> str:
    """A self-contained HTML page a person can read."""
    return render_recommender_report(
        drift_summary,
        reference_profile,
        _requests(holdout_set, training),
        snapshot(item_snapshots, END),
        title=f"Drift of the latest period: {registry.model_name}",
    )


def monitor_recommender(
    champion: ServedModel,
    holdout_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    training: RecommenderTrainingParams,
    monitoring: RecommenderMonitoringParams,
    registry_decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The champion's reference against the latest period (``registry_decision`` only orders
    this after a registration in the same run)."""
    if champion.reference_profile is None:
        raise ValueError(
            f"{champion.name} v{champion.version} was registered without a reference profile: "
            "retrain it with this version of modelworks to monitor it"
        )
    summary = detect_drift(
        champion.reference_profile, holdout_set, item_snapshots, training, monitoring
    )
    return summary | {"model_name": champion.name, "model_version": champion.version}


def render_monitoring_report(
    summary: dict[str, Any],
    champion: ServedModel,
    holdout_set: pd.DataFrame,
    item_snapshots: pd.DataFrame,
    training: RecommenderTrainingParams,
) -> str:
    """The champion's monitoring page."""
    return render_recommender_report(
        summary,
        champion.reference_profile or {},
        _requests(holdout_set, training),
        snapshot(item_snapshots, END),
        title=f"Monitoring of {champion.name} v{champion.version}",
    )


# --------------------------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------------------------


def recommender_features_pipeline(
    *, interactions: str = "interactions", users: str = "users", items: str = "items"
) -> Pipeline:
    """``interactions`` (every event, with its request time), ``users`` and ``items`` (entity
    tables, with when each appears) -> ``time_split``, ``user_snapshots``, ``item_snapshots``,
    and the request features of the training and holdout interactions (``training_set``,
    ``holdout_set``), all read from Feast point in time."""
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
    requests = [
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
            *requests,
        ]
    )


def recommender_training_pipeline(
    *,
    use_case: str,
    interactions: str = "interactions",
    users: str = "users",
    items: str = "items",
) -> Pipeline:
    """Features -> holdout users -> candidates and baselines in MLflow -> the winner ->
    reference profile and drift -> lineage -> gate and registry (``registry_decision``).

    ``use_case`` picks the use case's block of the Kedro parameters for the lineage; the
    dataset names are those of ``recommender_features_pipeline``.
    """
    lineage = update_wrapper(partial(describe_lineage, use_case=use_case), describe_lineage)
    features = recommender_features_pipeline(interactions=interactions, users=users, items=items)
    return features + Pipeline(
        [
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
                train_recommenders,
                inputs=[
                    "training_set",
                    "holdout_users",
                    "user_snapshots",
                    "item_snapshots",
                    "time_split",
                    "feature_service",
                    "params:training",
                ],
                outputs="candidates",
                name="train_recommenders",
            ),
            node(
                evaluate_baselines,
                inputs=[
                    "training_interactions",
                    "holdout_users",
                    "item_snapshots",
                    "params:training",
                ],
                outputs="baselines",
                name="evaluate_baselines",
            ),
            node(
                select_recommender,
                inputs=["candidates", "baselines"],
                outputs=["best_candidate", "holdout_metrics", "holdout_metrics_mlflow"],
                name="select_recommender",
            ),
            node(
                profile_reference,
                inputs=[
                    "training_set",
                    "item_snapshots",
                    "time_split",
                    "params:training",
                    "params:monitoring",
                ],
                outputs="reference_profile",
                name="profile_reference",
            ),
            node(
                detect_drift,
                inputs=[
                    "reference_profile",
                    "holdout_set",
                    "item_snapshots",
                    "params:training",
                    "params:monitoring",
                ],
                outputs="drift_summary",
                name="detect_drift",
            ),
            node(
                render_drift_report,
                inputs=[
                    "drift_summary",
                    "reference_profile",
                    "holdout_set",
                    "item_snapshots",
                    "params:training",
                    "params:registry",
                ],
                outputs="drift_report",
                name="render_drift_report",
            ),
            node(
                lineage,
                inputs=[
                    "best_candidate",
                    interactions,
                    "validation_report",
                    "feature_service",
                    "parameters",
                ],
                outputs="lineage",
                name="describe_lineage",
            ),
            node(
                register_recommender,
                inputs=[
                    "best_candidate",
                    "lineage",
                    "holdout_users",
                    "drift_summary",
                    "reference_profile",
                    "params:registry",
                ],
                outputs="registry_decision",
                name="register_recommender",
            ),
        ]
    )


def recommender_monitoring_pipeline(
    *,
    interactions: str = "interactions",
    users: str = "users",
    items: str = "items",
    after_training: bool = False,
) -> Pipeline:
    """``champion_model`` + the features of the latest period -> ``monitoring_summary`` (JSON)
    and ``monitoring_report`` (HTML); ``after_training`` waits for ``registry_decision``."""
    decision = ["registry_decision"] if after_training else []
    features = recommender_features_pipeline(interactions=interactions, users=users, items=items)
    return features + Pipeline(
        [
            node(
                monitor_recommender,
                inputs=[
                    "champion_model",
                    "holdout_set",
                    "item_snapshots",
                    "params:training",
                    "params:monitoring",
                    *decision,
                ],
                outputs="monitoring_summary",
                name="monitor_recommender",
            ),
            node(
                render_monitoring_report,
                inputs=[
                    "monitoring_summary",
                    "champion_model",
                    "holdout_set",
                    "item_snapshots",
                    "params:training",
                ],
                outputs="monitoring_report",
                name="render_monitoring_report",
            ),
        ]
    )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _side(params: RecommenderTrainingParams, side: str) -> EntitySide:
    if side not in ("users", "items"):
        raise ValueError(f"side must be 'users' or 'items', got {side!r}")
    entity: EntitySide = getattr(params, side)
    return entity


def _for_side(func: Any, side: str) -> Any:
    """``func`` with ``side`` bound, keeping its name and annotations for Kedro."""
    return update_wrapper(partial(func, side=side), func)


def _user_features(user_snapshots: pd.DataFrame, params: RecommenderTrainingParams) -> list[str]:
    """The user features a model reads: the users' service, less the list of items to leave out."""
    skip = {params.users.key, SNAPSHOT, AS_OF, params.users.exclude_feature}
    return [c for c in user_snapshots.columns if c not in skip]


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


def _evaluate(
    model: Recommender,
    holdout_users: pd.DataFrame,
    training: pd.DataFrame,
    params: RecommenderTrainingParams,
) -> dict[str, float]:
    """Ranking metrics on the holdout users, warm and cold, without their excluded items."""
    columns = interaction_columns(params)
    exclude = params.users.exclude_feature
    return evaluate_recommender(
        model,
        _pairs(holdout_users, RELEVANT, columns),
        history=training,
        exclude=_pairs(holdout_users, exclude, columns) if exclude else None,
        columns=columns,
    )


def _pairs(users: pd.DataFrame, lists: str, columns: InteractionColumns) -> pd.DataFrame:
    """(user, item) rows of a column holding a list of items per user."""
    pairs = users[[columns.user, lists]].explode(lists).dropna(subset=[lists])
    return pairs.rename(columns={lists: columns.item}).astype({columns.item: np.int64})


def _request_example(
    holdout_users: pd.DataFrame, params: RecommenderTrainingParams
) -> pd.DataFrame:
    """A few requests as a caller sends them in full: key, features, items to leave out."""
    exclude = params.users.exclude_feature
    order = holdout_users[exclude].map(len) if exclude else pd.Series(0, holdout_users.index)
    # Users with exclusions first, so the example shows (and types) the list column.
    example = holdout_users.loc[order.sort_values(ascending=False, kind="stable").index[:5]]
    return example.drop(columns=[RELEVANT, COLD_START]).reset_index(drop=True)


def _requests(interactions: pd.DataFrame, params: RecommenderTrainingParams) -> pd.DataFrame:
    """One row per request (a user's search), from interactions that carry its features."""
    keys = [params.users.key, params.request_time_column]
    return interactions.drop_duplicates(keys).reset_index(drop=True)


def _without(items: list[Any], gone: list[Any]) -> list[Any]:
    """``items`` less those in ``gone``, in order."""
    left_out = set(gone)
    return [item for item in items if item not in left_out]
