"""Feast objects of several use cases merged into one repo, and a feature service described."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelworks.features.store import FeatureRepo


def merge_definitions(per_use_case: Iterable[tuple[str, Iterable[Any]]]) -> list[Any]:
    """The Feast objects of every ``(use case, objects)``, each (kind, name) once.

    Use cases share objects (a second use case reuses the first one's entity and feature
    views); the same name with a different definition is a conflict, reported by name.
    """
    unique: dict[tuple[str, str], Any] = {}
    for use_case, objects in per_use_case:
        for obj in objects:
            key = (type(obj).__name__, obj.name)
            if key in unique and unique[key] != obj:
                raise ValueError(
                    f"Feast {key[0]} {key[1]!r} is defined differently by use case "
                    f"{use_case!r} than by an earlier one"
                )
            unique.setdefault(key, obj)
    return list(unique.values())


def describe_service(repo: FeatureRepo, service_name: str) -> dict[str, Any]:
    """The service's feature views, each with its selected features and definition hash.

    The hash covers each view's spec (entities, schema, TTL, source), not Feast's bookkeeping
    timestamps, so it changes exactly when a definition does. ``repo_path`` says where the
    feature store lives, for a model that reads its features online.
    """
    store = repo.store
    service = store.get_feature_service(service_name)
    views: dict[str, Any] = {}
    for projection in service.feature_view_projections:
        spec = store.get_feature_view(projection.name).to_proto().spec
        views[projection.name] = {
            "features": [feature.name for feature in projection.features],
            "definition_sha256": hashlib.sha256(
                spec.SerializeToString(deterministic=True)
            ).hexdigest(),
        }
    combined = "".join(
        f"{name}:{view['definition_sha256']}" for name, view in sorted(views.items())
    )
    return {
        "service": service_name,
        "definitions_sha256": hashlib.sha256(combined.encode()).hexdigest(),
        "feature_views": views,
        "features": [name for view in views.values() for name in view["features"]],
        "repo_path": str(store.repo_path),
    }
