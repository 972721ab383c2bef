"""Typed parameters: Pydantic models that reject unknown keys.

Nodes annotate their ``params:`` inputs with these models; Kedro validates and instantiates
them before any node runs. ``parse_params`` checks a whole use-case block the same way.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Base for every parameter model: a misspelt YAML key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterError(ValueError):
    """Parameters in conf/ do not match their declared model."""


M = TypeVar("M", bound=StrictModel)


def parse_params(model: type[M], value: Any, *, where: str) -> M:
    """Validate ``value`` against ``model``; the error names every offending key under ``where``."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{where}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ParameterError(f"Invalid parameters: {problems}") from None


def to_plain(value: Any) -> Any:
    """``value`` with every parameter model turned into plain JSON-ready data, recursively."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value
