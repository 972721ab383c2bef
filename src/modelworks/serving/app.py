"""Online serving: the champion of a registered model behind a small FastAPI app.

The request body is typed from the model's MLflow signature: required fields (entity keys,
request-time fields) must be present, stored features may be sent to override the online
store, and anything else is rejected. Values are held to the rules the training data passed
(rejected or flagged, as ``scoring.online.on_rule_violation`` says). Every limit
(``OnlineParams``) is enforced before the body is parsed. A bad request gets a 4xx that names
the field, the entity or the limit; an unexpected failure gets a 500 without internals. A
model whose output signature names several columns (a recommender's top-k list) answers with
its rows, as ``predictions``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modelworks.serving.datasets import ServedModel
from modelworks.serving.limits import LimitError, OnlineParams, check_declared_length, too_large
from modelworks.serving.pyfunc import InputTypeError, MissingFieldsError, UnknownEntityError
from modelworks.serving.request import (
    BadBodyError,
    InvalidRowsError,
    body_schema,
    parse_rows,
    request_model,
)
from modelworks.serving.rules import Violation, violations
from modelworks.validation.spec import ColumnRule

logger = logging.getLogger(__name__)

INLINE_BODY_BYTES = 4096
"""Bodies up to this size are scored on the event loop, larger ones in the thread pool."""

_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_FIELD_ERRORS = {
    "type": "object",
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "object", "required": ["field", "problem"]}},
            ]
        },
        "missing": {"type": "array", "items": {"type": "string"}},
        "more": {"type": "integer"},
    },
    "required": ["detail"],
}
_SCORED = {
    "type": "object",
    "properties": {
        "model": {"type": "string"},
        "version": {"type": "string"},
        "score": {"type": "number"},
        "scores": {"type": "array", "items": {"type": "number"}},
        "predictions": {"type": "array", "items": {"type": "object"}},
        "flags": {"type": "array"},
    },
    "required": ["model", "version"],
}


def create_app(
    model: ServedModel,
    params: OnlineParams | None = None,
    rules: Mapping[str, ColumnRule] | None = None,
) -> FastAPI:
    """``POST /predict`` (one row or a list of rows), ``GET /health``, ``GET /model``."""
    params = params or OnlineParams()
    rules = dict(rules or {})
    schema = model.pyfunc.metadata.get_input_schema()
    row_model = request_model(schema, rules, publish_rules=params.on_rule_violation == "reject")
    model.prepare_online()
    app = FastAPI(title=f"modelworks: {model.name}", version=model.version)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/model")
    def describe() -> dict[str, Any]:
        return {
            "name": model.name,
            "version": model.version,
            "run_id": model.run_id,
            "required": [s.name for s in schema.inputs if s.required],
            "optional": [s.name for s in schema.inputs if not s.required],
            "limits": params.model_dump(exclude={"rules_from"}),
            "rules": {
                name: rule.model_dump(include={"dtype", "min", "max", "allowed"}, exclude_none=True)
                for name, rule in rules.items()
            },
        }

    answers_rows = _answers_with_rows(model)

    def score(raw: bytes) -> dict[str, Any]:
        rows, single = parse_rows(raw, row_model, params)
        flags = _checked(rows, rules, single, params.on_rule_violation)
        payload: dict[str, Any] = {"model": model.name, "version": model.version}
        if answers_rows:
            payload["predictions"] = _records(model.predict_rows(pd.DataFrame(rows)))
        elif single:
            payload["score"] = float(model.score_records(rows)[0])
        else:
            payload["scores"] = [float(s) for s in model.score_records(rows)]
        if params.on_rule_violation == "flag":
            payload["flags"] = flags[0] if single else flags
        return payload

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        # The body is read as JSON whatever its declared content type (curl -d sends a form
        # type). A small body (a row or a few) is scored on the event loop: handing it to a
        # thread costs more than scoring it, and a worker scores one request at a time
        # anyway; a larger one goes to the thread pool, so the loop keeps answering.
        raw = await _read_body(request, params.max_body_bytes)
        if len(raw) <= INLINE_BODY_BYTES:
            return JSONResponse(score(raw))
        return JSONResponse(await run_in_threadpool(score, raw))

    _add_error_handlers(app)
    _publish(app, body_schema(row_model, params))
    return app


def _publish(app: FastAPI, body: dict[str, Any]) -> None:
    """Add the request body and every answer of ``POST /predict`` to the OpenAPI document.

    Set on the finished document, not through FastAPI's ``openapi_extra``: that passes through
    a model that turns integer bounds into floats, and 2**63 - 1 into 2**63.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document["paths"]["/predict"]["post"].update(_openapi(body))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed ``limit``: by its declared length
    before a byte is read, or by counting what arrives (a chunked body declares none)."""
    check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _checked(
    rows: list[dict[str, Any]], rules: Mapping[str, ColumnRule], single: bool, policy: str
) -> list[list[dict[str, str]]]:
    """Each row's rule violations; under ``reject`` any violation refuses the request."""
    found: list[list[Violation]] = [
        violations(row, rules, "" if single else f"{position}.")
        for position, row in enumerate(rows)
    ]
    if policy == "reject" and any(found):
        raise InvalidRowsError([v.to_dict() for row in found for v in row])
    return [[v.to_dict() for v in row] for row in found]


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidRowsError)
    def invalid(request: Request, exc: InvalidRowsError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=422)

    @app.exception_handler(UnknownEntityError)
    def unknown(request: Request, exc: UnknownEntityError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "unknown": exc.keys}, status_code=404)

    @app.exception_handler(MissingFieldsError)
    def missing(request: Request, exc: MissingFieldsError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "missing": exc.fields}, status_code=422)

    @app.exception_handler(InputTypeError)
    def wrong_type(request: Request, exc: InputTypeError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "field": exc.column}, status_code=422)

    @app.exception_handler(BadBodyError)
    def bad_body(request: Request, exc: BadBodyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(LimitError)
    def over_limit(request: Request, exc: LimitError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(Exception)
    def failure(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("prediction failed")
        return JSONResponse({"detail": "internal error while predicting"}, status_code=500)


def _openapi(body: dict[str, Any]) -> dict[str, Any]:
    """The request body and every answer of ``POST /predict``, for the published schema."""
    content = {"application/json": {"schema": body}}

    def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    return {
        "requestBody": {"required": True, "content": content},
        "responses": {
            "200": answer("the score of each row", _SCORED),
            "400": answer("not JSON, not rows, or nested too deep", _DETAIL),
            "404": answer("an entity the online store does not know", _DETAIL),
            "413": answer("a body over its size limit", _DETAIL),
            "422": answer(
                "too many rows, or fields missing, mistyped, unexpected or against a rule",
                _FIELD_ERRORS,
            ),
        },
    }


def _answers_with_rows(model: ServedModel) -> bool:
    """Whether the model answers with rows of its own (a top-k list, say), not one score a row:
    its output signature names several columns."""
    schema = model.pyfunc.metadata.get_output_schema()
    return schema is not None and schema.has_input_names() and len(schema.input_names()) > 1


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON objects, numpy scalars as plain numbers."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))
