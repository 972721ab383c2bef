"""Feast nodes: register and materialise a use case's features, retrieve them point in time."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.features import EVENT_TIMESTAMP, FeatureRepo, FeatureStoreParams
from modelworks.features.definitions import describe_service


def sync_feature_store(
    store: FeatureRepo,
    params: FeatureStoreParams,
    definitions: list[Any],
    **tables: pd.DataFrame,
) -> dict[str, Any]:
    """Apply every use case's Feast ``definitions`` (as ``feast apply`` would) and materialise
    ours.

    The feature tables arrive as inputs so Kedro has saved them, where Feast reads them,
    before this runs; their ``event_timestamp`` range is the interval materialised.
    """
    applied = store.apply(definitions)
    stamps = pd.concat([frame[EVENT_TIMESTAMP] for frame in tables.values()])
    start = stamps.min() - pd.Timedelta(seconds=1)
    end = stamps.max() + pd.Timedelta(seconds=1)
    store.materialize(params.materialize, start=start.to_pydatetime(), end=end.to_pydatetime())
    return {
        "applied": applied,
        "materialized": params.materialize,
        "interval": [start.isoformat(), end.isoformat()],
        "source_rows": {name: len(frame) for name, frame in tables.items()},
    }


def describe_feature_service(
    store: FeatureRepo, params: FeatureStoreParams, feature_store_state: dict[str, Any]
) -> dict[str, Any]:
    """The model's feature service as registered: views, features, definition hashes, keys."""
    return {**describe_service(store, params.service), "join_keys": list(params.join_keys)}


def retrieve_features(
    store: FeatureRepo,
    entity_rows: pd.DataFrame,
    params: FeatureStoreParams,
    feature_store_state: dict[str, Any],
) -> pd.DataFrame:
    """Each entity row with the feature service's values as of its event time."""
    return store.point_in_time(entity_rows, params)


def feature_store_pipeline(feature_tables: list[str]) -> Pipeline:
    """Feature tables (already saved by the catalog) -> Feast registry and online store, and
    ``feature_service``: what the model's service holds, for serving and lineage."""
    return Pipeline(
        [
            node(
                sync_feature_store,
                inputs={
                    "store": "feature_store",
                    "params": "params:features",
                    "definitions": "feature_definitions",
                    **{t: t for t in feature_tables},
                },
                outputs="feature_store_state",
                name="sync_feature_store",
            ),
            node(
                describe_feature_service,
                ["feature_store", "params:features", "feature_store_state"],
                "feature_service",
                name="describe_feature_service",
            ),
        ]
    )


def feature_retrieval_pipeline(entity_rows: str, output: str) -> Pipeline:
    """``entity_rows`` -> ``output``: point-in-time features from the use case's service."""
    return Pipeline(
        [
            node(
                retrieve_features,
                ["feature_store", entity_rows, "params:features", "feature_store_state"],
                output,
                name=f"retrieve_features_for_{entity_rows}",
            )
        ]
    )
