"""Feast access: the repo as a Kedro dataset, point-in-time retrieval, materialisation."""

from modelworks.features.aggregations import WindowAggregation, rolling_window_features
from modelworks.features.datasets import FeatureTableDataset
from modelworks.features.store import (
    EVENT_TIMESTAMP,
    FeatureRepo,
    FeatureStoreDataset,
    FeatureStoreParams,
)

__all__ = [
    "EVENT_TIMESTAMP",
    "FeatureRepo",
    "FeatureStoreDataset",
    "FeatureStoreParams",
    "FeatureTableDataset",
    "WindowAggregation",
    "rolling_window_features",
]
