"""Property-based tests of the published OpenAPI schema (schemathesis): whatever a generated
request holds, valid or not, the server answers without a 5xx and as its schema documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from modelworks.serving.app import create_app
from modelworks.serving.limits import OnlineParams
from modelworks.serving.rules import rules_for
from tests.modelworks.serving.conftest import running
from tests.modelworks.serving.test_app import FIELDS, SPEC


@pytest.fixture(scope="module")
def api(served) -> Iterator[schemathesis.schemas.BaseSchema]:
    params = OnlineParams(max_rows=20)
    with running(create_app(served.model, params, rules_for(FIELDS, SPEC))) as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")


# Driven by hand rather than by ``schema.parametrize()``: schemathesis' lazy fixture schema
# reads a private pytest attribute that pytest 9 no longer has.
@pytest.mark.parametrize(
    ("path", "method", "mode"),
    [
        ("/predict", "POST", GenerationMode.POSITIVE),
        ("/predict", "POST", GenerationMode.NEGATIVE),
        ("/model", "GET", GenerationMode.POSITIVE),
    ],
)
def test_no_request_gets_a_5xx_or_an_undocumented_answer(
    api, path: str, method: str, mode: GenerationMode
) -> None:
    """Valid requests are scored or name an unknown entity; invalid ones get a documented 4xx."""
    operation = api[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        case.call_and_validate()

    check()
