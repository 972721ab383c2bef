"""Online serving: the champion of a registered model behind a small FastAPI app.

The request body is typed from the model's MLflow signature: required fields (entity keys,
request-time fields) must be present, stored features may be sent to override the online
store, and anything else is rejected. A bad request gets a 4xx that names the field or the
entity; an unexpected failure gets a 500 without internals. A model whose output signature
names several columns (a recommender's top-k list) answers with its rows, as ``predictions``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from starlette.concurrency import run_in_threadpool

from modelworks.serving.datasets import ServedModel
from modelworks.serving.pyfunc import MissingFieldsError, UnknownEntityError

logger = logging.getLogger(__name__)

_TYPES: dict[str, Any] = {
    "long": int,
    "integer": int,
    "double": float,
    "float": float,
    "string": str,
    "boolean": bool,
    "datetime": datetime,
}
MAX_BATCH = 1000


def request_model(model: ServedModel) -> type[BaseModel]:
    """A Pydantic model of one request row, from the pyfunc's input signature."""
    schema = model.pyfunc.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        raise ValueError(f"{model.name} v{model.version} has no named input signature to serve")
    fields: dict[str, Any] = {}
    for spec in schema.inputs:
        kind = _TYPES.get(str(getattr(spec.type, "name", spec.type)), Any)
        fields[spec.name] = (kind, ...) if spec.required else (kind | None, None)
    return create_model(
        "PredictionRequest", __config__=ConfigDict(extra="forbid", strict=False), **fields
    )


def create_app(model: ServedModel) -> FastAPI:
    """``POST /predict`` (one row or a list of rows), ``GET /health``, ``GET /model``."""
    row_model = request_model(model)
    app = FastAPI(title=f"modelworks: {model.name}", version=model.version)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/model")
    def describe() -> dict[str, Any]:
        schema = model.pyfunc.metadata.get_input_schema()
        return {
            "name": model.name,
            "version": model.version,
            "run_id": model.run_id,
            "required": [s.name for s in schema.inputs if s.required],
            "optional": [s.name for s in schema.inputs if not s.required],
        }

    answers_rows = _answers_with_rows(model)

    def score(raw: bytes) -> dict[str, Any]:
        rows, single = _rows(_json(raw), row_model)
        frame = pd.DataFrame([row.model_dump(exclude_none=True) for row in rows])
        payload: dict[str, Any] = {"model": model.name, "version": model.version}
        if answers_rows:
            payload["predictions"] = _records(model.predict_rows(frame))
            return payload
        scores = model.predict(frame)
        if single:
            payload["score"] = float(scores[0])
        else:
            payload["scores"] = [float(s) for s in scores]
        return payload

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        # The body is read as JSON whatever its declared content type (curl -d sends a form
        # type); scoring runs in the thread pool, off the event loop.
        return JSONResponse(await run_in_threadpool(score, await request.body()))

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe_errors(exc.errors())}, status_code=422)

    @app.exception_handler(ValidationError)
    def invalid_row(request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe_errors(exc.errors())}, status_code=422)

    @app.exception_handler(UnknownEntityError)
    def unknown(request: Request, exc: UnknownEntityError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "unknown": exc.keys}, status_code=404)

    @app.exception_handler(MissingFieldsError)
    def missing(request: Request, exc: MissingFieldsError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "missing": exc.fields}, status_code=422)

    @app.exception_handler(_BadBodyError)
    def bad_body(request: Request, exc: _BadBodyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(Exception)
    def failure(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("prediction failed")
        return JSONResponse({"detail": "internal error while predicting"}, status_code=500)

    return app


def _answers_with_rows(model: ServedModel) -> bool:
    """Whether the model answers with rows of its own (a top-k list, say), not one score a row:
    its output signature names several columns."""
    schema = model.pyfunc.metadata.get_output_schema()
    return schema is not None and schema.has_input_names() and len(schema.input_names()) > 1


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON objects, numpy scalars as plain numbers."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


class _BadBodyError(ValueError):
    """A body that is neither a JSON object nor a list of objects."""


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise _BadBodyError(f"the body is not valid JSON: {exc}") from None


def _rows(body: Any, row_model: type[BaseModel]) -> tuple[list[BaseModel], bool]:
    """The request rows, validated, and whether the caller sent a single object."""
    if isinstance(body, dict):
        return [row_model.model_validate(body)], True
    if isinstance(body, list) and body and all(isinstance(item, dict) for item in body):
        if len(body) > MAX_BATCH:
            raise _BadBodyError(f"at most {MAX_BATCH} rows per request, got {len(body)}")
        rows = []
        for position, item in enumerate(body):
            try:
                rows.append(row_model.model_validate(item))
            except ValidationError as exc:
                raise RequestValidationError(
                    [{**error, "loc": (position, *error["loc"])} for error in exc.errors()]
                ) from None
        return rows, False
    raise _BadBodyError("the body must be a JSON object or a non-empty list of JSON objects")


def _describe_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors reduced to what a caller needs: where, what, and the value sent."""
    described = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        described.append(
            {
                "field": ".".join(location) or None,
                "problem": error.get("msg"),
                "input": error.get("input") if not isinstance(error.get("input"), dict) else None,
            }
        )
    return described
