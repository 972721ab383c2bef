"""Fixtures of the declared use-case tests: the toy tables of ``toy.py``, fresh discovery."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from modelworks.declared.schema import DeclaredSpec
from modelworks.discovery import forget_use_cases
from tests.modelworks.declared import toy


@pytest.fixture()
def spec() -> DeclaredSpec:
    return toy.unsampled_spec()


@pytest.fixture()
def flights() -> pd.DataFrame:
    return toy.flights()


@pytest.fixture()
def weather() -> pd.DataFrame:
    return toy.weather()


@pytest.fixture()
def planes() -> pd.DataFrame:
    return toy.planes()


@pytest.fixture()
def fresh_discovery() -> Iterator[None]:
    """Discovery re-runs for the test and after it (it caches per process)."""
    forget_use_cases()
    yield
    forget_use_cases()
