"""The benchmarks run on demand, not in the suite; the suite keeps them importable, so that a
rename in one module cannot leave another broken until someone runs ``make bench``."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

# evidently_side runs in Evidently's own environment (benchmarks/.venv-evidently), never here.
ELSEWHERE = {"__init__", "evidently_side"}
BENCHMARKS = sorted(
    path.stem
    for path in (Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py")
    if path.stem not in ELSEWHERE
)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_module_imports_with_an_entry_point(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    if name != "common":
        assert callable(module.main)
