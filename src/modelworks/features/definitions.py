"""All Feast objects the use cases declare, gathered once for `feast apply` and the pipelines."""

from __future__ import annotations

from typing import Any

from modelworks.use_cases import discover_use_cases


def gather_definitions() -> list[Any]:
    """Every use case's Feast objects, each (kind, name) once.

    Use cases share objects (a second use case reuses the first one's entity and feature
    views); the same name with a different definition is a conflict, reported by name.
    """
    unique: dict[tuple[str, str], Any] = {}
    for use_case in discover_use_cases():
        for obj in use_case.feature_definitions():
            key = (type(obj).__name__, obj.name)
            if key in unique and unique[key] != obj:
                raise ValueError(
                    f"Feast {key[0]} {key[1]!r} is defined differently by use case "
                    f"{use_case.name!r} than by an earlier one"
                )
            unique.setdefault(key, obj)
    return list(unique.values())
