"""The console log's filter on captured warnings."""

from __future__ import annotations

import logging

from modelworks.logs import LibraryNoticeFilter


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("py.warnings", logging.WARNING, "warnings.py", 1, message, None, None)


def test_library_deprecations_are_dropped_and_project_warnings_kept() -> None:
    keep = LibraryNoticeFilter().filter
    lib = "/venv/lib/python3.11/site-packages/ibis/backends/duckdb/__init__.py:332"
    assert not keep(_record(f"{lib}: DeprecationWarning: fetch_arrow_table() is deprecated"))
    assert not keep(_record(f"{lib}: PydanticDeprecatedSince20: class-based config"))
    assert not keep(_record("<frozen importlib._bootstrap>:283: DeprecationWarning: load_module"))
    assert not keep(_record(f"{lib}: UserWarning: Add type hints to the `predict` method ..."))
    assert keep(_record(f"{lib}: UserWarning: Found unknown categories"))
    assert keep(_record("/repo/pipelines/credit_risk/nodes.py:10: DeprecationWarning: ours"))
    assert keep(_record("Pipeline execution completed"))
