"""The online server's limits, and the cheap checks that enforce them before any parsing.

A request is refused as early as it can be: a body over ``max_body_bytes`` before it is read
whole, JSON nested deeper than ``max_depth`` before the parser recurses into it (Python's
``json`` raises ``RecursionError`` near a thousand levels, and a 1 MB body can nest 500,000).
"""

from __future__ import annotations

import re
import reprlib
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from modelworks.params import StrictModel

KEY = "scoring.online"
"""Where the limits live in a use case's parameters, as error messages name them."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


class OnlineParams(StrictModel):
    """What the HTTP server accepts (``scoring.online`` of a use case; every key optional)."""

    max_body_bytes: int = Field(default=1_048_576, gt=0)
    """A larger body is refused with 413, before it is read whole."""
    max_rows: int = Field(default=1000, gt=0)
    """Rows in one request; more are refused with 422 (the published schema's maxItems)."""
    max_depth: int = Field(default=8, ge=2)
    """Nesting of the JSON body (a list of rows of values is 2); deeper is refused with 400."""
    on_rule_violation: Literal["reject", "flag"] = "reject"
    """A value the training data's rules forbid: ``reject`` (422) or ``flag`` (scored, and
    the row's flags name the field and the rule)."""
    rules_from: list[str] | None = None
    """Validation tables whose column rules apply to request fields, in order (first table
    that declares a column wins); default: every table, in the order the spec lists them."""

    @model_validator(mode="after")
    def _check_rules_from(self) -> OnlineParams:
        if self.rules_from is not None and len(set(self.rules_from)) != len(self.rules_from):
            raise ValueError(f"rules_from lists a table twice: {self.rules_from}")
        return self


class LimitError(ValueError):
    """A request over one of the limits: the message names the limit and its key."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def too_large(limit: int) -> LimitError:
    return LimitError(
        f"the body is larger than {limit} bytes (limit {KEY}.max_body_bytes)", status=413
    )


def check_declared_length(header: str | None, limit: int) -> None:
    """Refuse a body whose declared Content-Length is over ``limit``, before reading it."""
    if header is None:
        return
    try:
        declared = int(header)
    except ValueError:
        raise LimitError("the Content-Length header is not a number", status=400) from None
    if declared > limit:
        raise too_large(limit)


def check_depth(raw: bytes, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit``, counting brackets outside strings."""
    if sum(raw.count(bracket) for bracket in (b"[", b"{")) <= limit:
        return  # cannot nest deeper than its brackets: the common single-row request
    depth = nesting_depth(raw)
    if depth > limit:
        raise LimitError(
            f"the body nests {depth} levels deep, more than {limit} (limit {KEY}.max_depth)",
            status=400,
        )


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of brackets outside JSON strings, in one vectorised pass."""
    stripped = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    step = np.isin(stripped, list(_OPEN)).astype(np.int32) - np.isin(stripped, list(_CLOSE))
    return int(np.cumsum(step).max(initial=0))


def check_rows(count: int, limit: int) -> None:
    if count > limit:
        raise LimitError(
            f"at most {limit} rows per request (limit {KEY}.max_rows), got {count}", status=422
        )


ECHO_CHARS = 80


def _bounded_repr() -> reprlib.Repr:
    bounded = reprlib.Repr()  # keyword arguments only from Python 3.12
    bounded.maxlevel, bounded.maxdict, bounded.maxlist = 2, 4, 4
    bounded.maxstring = bounded.maxlong = bounded.maxother = ECHO_CHARS
    return bounded


_REPR = _bounded_repr()


def echo(value: object) -> str:
    """A short repr of a value a caller sent, never the whole of it: at most 80 characters."""
    if isinstance(value, str):
        text = repr(value[:ECHO_CHARS])
    elif isinstance(value, int):
        text = str(value)
    else:
        text = _REPR.repr(value)
    return text if len(text) <= ECHO_CHARS else f"{text[: ECHO_CHARS - 3]}..."


def short(name: str) -> str:
    """A field name as an error may quote it: a caller's key can be a megabyte long."""
    return name if len(name) <= ECHO_CHARS else f"{name[: ECHO_CHARS - 3]}..."
