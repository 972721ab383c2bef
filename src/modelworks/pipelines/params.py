"""Typing a use case's ``params:`` inputs by its own parameter model.

Kedro validates each ``params:<key>`` input against the annotation of the node function that
reads it, and hands the node the model it built. The lifecycle's nodes are annotated for the
tabular families (``TrainingParams``, ``RetrainPolicy``, ``ScoringParams``); a family with
parameter models of its own (uplift) types the same nodes by its use case's model instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps
from typing import Any, get_type_hints

from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from pydantic import BaseModel

_PARAMS = "params:"


def typed_params(pipe: Pipeline, params_model: type[BaseModel]) -> Pipeline:
    """``pipe`` with each node's ``params:<key>`` inputs annotated with the type of field
    ``<key>`` of ``params_model`` (a use case's parameter model), so Kedro validates and builds
    them as the use case declares; keys the model has no field for keep their annotation."""
    fields = params_model.model_fields
    return Pipeline([_typed_node(n, fields) for n in pipe.nodes])


def _typed_node(node: Node, fields: dict[str, Any]) -> Node:
    arguments = _arguments(node)
    wanted = {
        argument: fields[key].annotation
        for dataset, argument in arguments.items()
        if dataset.startswith(_PARAMS) and (key := dataset.removeprefix(_PARAMS)) in fields
    }
    if not wanted:
        return node
    try:
        hints = get_type_hints(node.func)
    except Exception:  # a callable Kedro cannot read hints from either; leave it as it is
        return node
    changed = {arg: kind for arg, kind in wanted.items() if hints.get(arg) is not kind}
    if not changed:
        return node
    return node._copy(func=_retyped(node.func, {**hints, **changed}))


def _arguments(node: Node) -> dict[str, str]:
    """Dataset name -> the argument of the node's function it is passed as."""
    inputs: Any = node._inputs
    if isinstance(inputs, dict):
        return {dataset: argument for argument, dataset in inputs.items()}
    names = list(inspect.signature(node.func).parameters)
    listed = [inputs] if isinstance(inputs, str) else list(inputs or [])
    return dict(zip(listed, names, strict=False))


def _retyped(func: Callable[..., Any], annotations: dict[str, Any]) -> Callable[..., Any]:
    @wraps(func)
    def typed(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    typed.__annotations__ = annotations
    return typed
