"""The request body of ``POST /predict``: typed from the model's signature, parsed with limits.

Types are strict where coercion would change what a caller meant: a boolean or a string is
not an id, a fraction is not an integer (3.0 is), an integer outside int64 is refused rather than
overflowing later, and NaN or infinity is no number to score. Only a datetime may come as an
ISO string, as JSON has no other way to send one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    create_model,
)

from modelworks.serving.limits import LimitError, OnlineParams, check_depth, check_rows, echo, short
from modelworks.serving.rules import json_schema
from modelworks.validation.spec import ColumnRule

MAX_REPORTED = 20
"""Errors listed in one answer; ``more`` counts the rest."""


def _whole(value: Any) -> Any:
    """3.0 is the integer 3, as JSON Schema's ``integer`` says; 3.5, "3" and true are not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _integer(bits: int) -> Any:
    bound = 2 ** (bits - 1)
    # The validator last: placed first, it makes pydantic publish ge/le instead of min/max.
    return Annotated[int, Strict(), Field(ge=-bound, le=bound - 1), BeforeValidator(_whole)]


_TYPES: dict[str, Any] = {
    "long": _integer(64),
    "integer": _integer(32),
    "double": Annotated[float, Strict(), Field(allow_inf_nan=False)],
    "float": Annotated[float, Strict(), Field(allow_inf_nan=False)],
    "string": Annotated[str, Strict()],
    "boolean": Annotated[bool, Strict()],
    "datetime": datetime,
}


class BadBodyError(ValueError):
    """A body that is not JSON, or neither a JSON object nor a non-empty list of objects."""


class InvalidRowsError(ValueError):
    """Rows with fields of the wrong type or breaking a rule: each error names its field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.errors[:MAX_REPORTED]}
        if len(self.errors) > MAX_REPORTED:
            body["more"] = len(self.errors) - MAX_REPORTED
        return body


def request_model(
    schema: Any, rules: Mapping[str, ColumnRule] | None = None, *, publish_rules: bool = False
) -> type[BaseModel]:
    """A Pydantic model of one request row, from the pyfunc's input signature; with
    ``publish_rules`` the rules also appear in its JSON Schema (min, max, enum)."""
    if schema is None or not schema.has_input_names():
        raise ValueError("the model has no named input signature to serve")
    fields: dict[str, Any] = {}
    for spec in schema.inputs:
        kind = _TYPES.get(str(getattr(spec.type, "name", spec.type)), Any)
        rule = (rules or {}).get(spec.name)
        extra = json_schema(rule) if publish_rules and rule is not None else None
        if spec.required:
            fields[spec.name] = (kind, Field(json_schema_extra=extra))
        else:
            if extra and "enum" in extra:  # the keyword sits beside anyOf[type, null]
                extra["enum"] = [*extra["enum"], None]
            fields[spec.name] = (kind | None, Field(default=None, json_schema_extra=extra))
    return create_model("PredictionRow", __config__=ConfigDict(extra="forbid"), **fields)


def body_schema(row_model: type[BaseModel], params: OnlineParams) -> dict[str, Any]:
    """The JSON Schema of a request body: one row, or a list of up to ``max_rows`` rows."""
    row = row_model.model_json_schema()
    rows = {"type": "array", "items": row, "minItems": 1, "maxItems": params.max_rows}
    return {"anyOf": [row, rows]}


def parse_rows(
    raw: bytes, row_model: type[BaseModel], params: OnlineParams
) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a body, validated, as plain dicts without null values; and whether the
    caller sent a single object rather than a list."""
    body = _json(raw, params.max_depth)
    if isinstance(body, dict):
        return [_row(row_model, body, "")], True
    if isinstance(body, list) and body and all(isinstance(item, dict) for item in body):
        check_rows(len(body), params.max_rows)
        return [_row(row_model, item, f"{position}.") for position, item in enumerate(body)], False
    raise BadBodyError("the body must be a JSON object or a non-empty list of JSON objects")


def _json(raw: bytes, max_depth: int) -> Any:
    check_depth(raw, max_depth)
    try:
        return json.loads(raw.decode("utf-8"))  # JSON is UTF-8 (RFC 8259), not sniffed
    except RecursionError:  # a pre-check miss must still not become a 500
        raise LimitError(f"the body nests more than {max_depth} levels deep", status=400) from None
    except ValueError as exc:
        # The decoder's message gives a position, never the body itself.
        raise BadBodyError(f"the body is not valid JSON: {exc}") from None


def _row(row_model: type[BaseModel], item: dict[str, Any], prefix: str) -> dict[str, Any]:
    try:
        return row_model.model_validate(item).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise InvalidRowsError(describe_errors(exc.errors(), prefix)) from None


def describe_errors(errors: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Pydantic's errors reduced to what a caller needs: where, what, and a short repr of the
    value sent (never the value itself: it may be megabytes)."""
    return [
        {
            "field": prefix + ".".join(short(str(part)) for part in error.get("loc", ())),
            "problem": error.get("msg"),
            "input": echo(error.get("input")),
        }
        for error in errors
    ]
