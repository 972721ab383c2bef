"""What ``modelworks serve`` hands the app: a use case's online limits, its request rules and
the feature store its environment's catalog names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelworks.serving.datasets import ServedModel
from modelworks.serving.limits import OnlineParams
from modelworks.serving.rules import rules_for
from modelworks.validation.spec import ColumnRule


def online_settings(
    model: ServedModel, use_case_params: Any
) -> tuple[OnlineParams, dict[str, ColumnRule]]:
    """``scoring.online`` of the use case (defaults where absent), and the rule of each input
    field of the model's signature that the use case's validation tables declare."""
    scoring = getattr(use_case_params, "scoring", None)
    online = getattr(scoring, "online", None) or OnlineParams()
    spec = getattr(use_case_params, "validation", None)
    schema = model.pyfunc.metadata.get_input_schema()
    if spec is None or schema is None or not schema.has_input_names():
        return online, {}
    return online, rules_for(schema.input_names(), spec, online.rules_from)


def feature_store_env(catalog: Mapping[str, Any], use_case: str) -> dict[str, str]:
    """``FEAST_FS_YAML_FILE_PATH`` where the environment's catalog configures
    ``<use_case>.feature_store`` from a file other than its repo's ``feature_store.yaml``
    (the production profile's Redis online store): a served model then reads its online
    features there. Empty otherwise: the model's own feature repo configures itself."""
    from kedro.io.catalog_config_resolver import CatalogConfigResolver

    from modelworks.features.store import FS_YAML_ENV
    from modelworks.root import under_root

    # (runtime patterns given, so the resolver does not announce its default)
    resolver = CatalogConfigResolver(
        config=dict(catalog), default_runtime_patterns={"{default}": {"type": "MemoryDataset"}}
    )
    name = f"{use_case}.feature_store"
    if resolver.match_dataset_pattern(name) is None and name not in resolver.config:
        return {}
    config_file = resolver.resolve_pattern(name).get("fs_yaml_file")
    return {FS_YAML_ENV: str(under_root(config_file))} if config_file else {}
