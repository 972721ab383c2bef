"""Feast nodes: check and publish a use case's feature tables, register and materialise them,
retrieve them point in time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.features import EVENT_TIMESTAMP, FeatureRepo, FeatureStoreParams
from modelworks.features.definitions import describe_service
from modelworks.features.publication import check_tables, enforce_feature_checks, profile_tables

PUBLISHED = "published_{}"


def check_feature_tables(
    params: FeatureStoreParams, published_profile: dict[str, Any] | None, **tables: pd.DataFrame
) -> dict[str, Any]:
    """Compare a batch of feature tables with the version published last; the report, pass or
    fail (saved before the publication step reads it)."""
    return check_tables(tables, published_profile, params.join_keys, params.publication)


def publish_feature_tables(
    report: dict[str, Any], params: FeatureStoreParams, **tables: pd.DataFrame
) -> dict[str, Any]:
    """The tables, to replace the published ones, and their profile for the next check; raises
    naming every broken rule when the check failed, so the published tables stay as they were."""
    enforce_feature_checks(report)
    profile = profile_tables(tables, params.join_keys, params.publication)
    return {**{PUBLISHED.format(name): frame for name, frame in tables.items()}, "profile": profile}


def sync_feature_store(
    store: FeatureRepo,
    params: FeatureStoreParams,
    definitions: list[Any],
    **tables: pd.DataFrame,
) -> dict[str, Any]:
    """Apply every use case's Feast ``definitions`` (as ``feast apply`` would) and materialise
    ours.

    The published feature tables arrive as inputs so Kedro has saved them, where Feast reads
    them, before this runs; their ``event_timestamp`` range is the interval materialised.
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


def feature_store_pipeline(
    feature_tables: list[str], published_elsewhere: Sequence[str] = ()
) -> Pipeline:
    """Feature tables -> checked -> published where Feast reads them -> Feast registry and
    online store, and ``feature_service``: what the model's service holds, for serving and
    lineage.

    ``feature_tables`` are the use case's own batch (``<t>``); the checks' report is
    ``feature_check_report`` and the tables Feast reads are ``published_<t>``, written only when
    every check passed. ``published_elsewhere`` names tables another use case publishes (its
    ``published_<t>``), which this one's sources read too: they only have to exist.
    """
    published = {t: PUBLISHED.format(t) for t in feature_tables}
    return Pipeline(
        [
            node(
                check_feature_tables,
                inputs={
                    "params": "params:features",
                    "published_profile": "previous_feature_profile",
                    **{t: t for t in feature_tables},
                },
                outputs="feature_check_report",
                name="check_feature_tables",
            ),
            node(
                publish_feature_tables,
                inputs={
                    "report": "feature_check_report",
                    "params": "params:features",
                    **{t: t for t in feature_tables},
                },
                outputs={
                    **{p: p for p in published.values()},
                    "profile": "published_feature_profile",
                },
                name="publish_feature_tables",
            ),
            node(
                sync_feature_store,
                inputs={
                    "store": "feature_store",
                    "params": "params:features",
                    "definitions": "feature_definitions",
                    **published,
                    **{t: t for t in published_elsewhere},
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
