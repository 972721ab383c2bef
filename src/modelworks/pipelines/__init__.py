"""Reusable pipeline factories; a use case composes them and adds its domain nodes.

Every factory returns an un-namespaced pipeline over conventional dataset names
(``raw_<table>``, ``validation_report``, ``training_set``, ...); the use case wraps the sum in
``kedro.pipeline.pipeline(..., namespace=<use_case>)`` so names and parameters become
``<use_case>.<name>`` and ``params:<use_case>.<key>``, which the catalog patterns in
``conf/base/catalog/layers.yml`` map onto the data layers.
"""

from modelworks.pipelines.family import lifecycle_pipelines, monitor_scored
from modelworks.pipelines.features import feature_retrieval_pipeline, feature_store_pipeline
from modelworks.pipelines.monitoring import (
    champion_monitoring_pipeline,
    drift_monitoring_pipeline,
)
from modelworks.pipelines.params import typed_params
from modelworks.pipelines.scoring import batch_scoring_pipeline
from modelworks.pipelines.training import training_pipeline
from modelworks.pipelines.validation import validation_pipeline

__all__ = [
    "batch_scoring_pipeline",
    "champion_monitoring_pipeline",
    "drift_monitoring_pipeline",
    "feature_retrieval_pipeline",
    "feature_store_pipeline",
    "lifecycle_pipelines",
    "monitor_scored",
    "training_pipeline",
    "typed_params",
    "validation_pipeline",
]
