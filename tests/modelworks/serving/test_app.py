"""The HTTP server on a real loopback connection: scores, and the exact 4xx of every bad request.

Each probe of the hardening issue is a case here: malformed JSON, wrong types, missing and
unknown fields, unknown entities, empty lists, oversized bodies and batches, huge integers,
deep nesting, booleans and strings as ids, values the training rules forbid.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import requests

from modelworks.serving.app import create_app
from modelworks.serving.limits import OnlineParams
from modelworks.serving.rules import rules_for
from modelworks.validation.spec import ValidationSpec
from tests.modelworks.serving.conftest import running

SPEC = ValidationSpec.model_validate(
    {
        "tables": {
            "requests": {"columns": {"amount": {"dtype": "float", "min": 1, "max": 1000}}},
            "customers": {
                "columns": {
                    "customer_id": {"dtype": "int", "nullable": False},
                    "amount": {"dtype": "float", "min": 0},
                    "x": {"dtype": "float", "min": -10, "max": 10},
                    "c": {"dtype": "string", "allowed": ["a", "b", "c"]},
                }
            },
        }
    }
)
FIELDS = ["customer_id", "amount", "x", "c"]
SMALL = OnlineParams(max_body_bytes=2048, max_rows=3, max_depth=4)


@pytest.fixture(scope="module")
def url(served) -> Iterator[str]:
    """Default limits, the spec's rules, violations rejected."""
    with running(create_app(served.model, OnlineParams(), rules_for(FIELDS, SPEC))) as base:
        yield base


@pytest.fixture(scope="module")
def small_url(served) -> Iterator[str]:
    """Small limits, to probe each of them with small bodies."""
    with running(create_app(served.model, SMALL, rules_for(FIELDS, SPEC))) as base:
        yield base


@pytest.fixture(scope="module")
def flag_url(served) -> Iterator[str]:
    """Violations scored and flagged."""
    params = OnlineParams(on_rule_violation="flag")
    with running(create_app(served.model, params, rules_for(FIELDS, SPEC))) as base:
        yield base


def post(url: str, body: object | str | bytes) -> requests.Response:
    if isinstance(body, str | bytes):
        return requests.post(f"{url}/predict", data=body, timeout=30)
    return requests.post(f"{url}/predict", json=body, timeout=30)


def field_error(field: str, problem: str, sent: str, rule: str | None = None) -> dict[str, str]:
    error = {"field": field, "problem": problem, "input": sent}
    return error if rule is None else {"field": field, "rule": rule, **error}


def test_one_row_by_entity_key(url: str, served) -> None:
    response = post(url, {"customer_id": 3, "amount": 20})
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == served.model.version
    assert 0 < body["score"] < 1
    assert "flags" not in body


def test_a_whole_float_is_an_integer_as_json_schema_says(url: str) -> None:
    """3.0 is an integer to JSON Schema, which the published schema is written in."""
    response = post(url, {"customer_id": 3.0, "amount": 20})
    assert response.status_code == 200
    assert response.json()["score"] == post(url, {"customer_id": 3, "amount": 20}).json()["score"]


def test_several_rows_answer_in_order(url: str) -> None:
    rows = [{"customer_id": 4, "amount": 30}, {"customer_id": 5, "amount": 30}]
    response = post(url, rows)
    assert response.status_code == 200
    assert response.json()["scores"] == [post(url, row).json()["score"] for row in rows]


NOT_ROWS = "the body must be a JSON object or a non-empty list of JSON objects"
INT64_MAX = "Input should be less than or equal to 9223372036854775807"


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        pytest.param(
            "this is not json",
            400,
            {"detail": "the body is not valid JSON: Expecting value: line 1 column 1 (char 0)"},
            id="malformed-json",
        ),
        pytest.param(
            b"\xff\xfe{}",
            400,
            {
                "detail": "the body is not valid JSON: 'utf-8' codec can't decode byte 0xff "
                "in position 0: invalid start byte"
            },
            id="not-utf8",
        ),
        pytest.param("[]", 400, {"detail": NOT_ROWS}, id="empty-list"),
        pytest.param("42", 400, {"detail": NOT_ROWS}, id="a-number"),
        pytest.param('[{"customer_id": 3, "amount": 20}, 7]', 400, {"detail": NOT_ROWS}, id="mix"),
        pytest.param(
            {"customer_id": 999999, "amount": 20},
            404,
            {
                "detail": "no features in the online store for {'customer_id': 999999}",
                "unknown": [{"customer_id": 999999}],
            },
            id="unknown-entity",
        ),
        pytest.param(
            {"customer_id": 3, "amount": "a lot"},
            422,
            {"detail": [field_error("amount", "Input should be a valid number", "'a lot'")]},
            id="wrong-type",
        ),
        pytest.param(
            {"customer_id": 3},
            422,
            {"detail": [field_error("amount", "Field required", "{'customer_id': 3}")]},
            id="missing-field",
        ),
        pytest.param(
            {"customer_id": 3, "amount": 20, "colour": "red"},
            422,
            {"detail": [field_error("colour", "Extra inputs are not permitted", "'red'")]},
            id="unknown-field",
        ),
        pytest.param(
            [{"customer_id": 3, "amount": 20}, {"customer_id": "x", "amount": 1}],
            422,
            {"detail": [field_error("1.customer_id", "Input should be a valid integer", "'x'")]},
            id="batch-row-named",
        ),
        pytest.param(
            {"customer_id": True, "amount": 20},
            422,
            {"detail": [field_error("customer_id", "Input should be a valid integer", "True")]},
            id="boolean-id",
        ),
        pytest.param(
            {"customer_id": "1500", "amount": 20},
            422,
            {"detail": [field_error("customer_id", "Input should be a valid integer", "'1500'")]},
            id="string-id",
        ),
        pytest.param(
            {"customer_id": 3.5, "amount": 20},
            422,
            {"detail": [field_error("customer_id", "Input should be a valid integer", "3.5")]},
            id="float-id",
        ),
        pytest.param(
            {"customer_id": 2**70, "amount": 20},
            422,
            {"detail": [field_error("customer_id", INT64_MAX, str(2**70))]},
            id="huge-integer",
        ),
        pytest.param(
            {"customer_id": 3, "amount": True},
            422,
            {"detail": [field_error("amount", "Input should be a valid number", "True")]},
            id="boolean-number",
        ),
        pytest.param(
            '{"customer_id": 3, "amount": NaN}',
            422,
            {"detail": [field_error("amount", "Input should be a finite number", "nan")]},
            id="nan",
        ),
        pytest.param(
            '{"customer_id": 3, "amount": 1e999}',
            422,
            {"detail": [field_error("amount", "Input should be a finite number", "inf")]},
            id="infinite",
        ),
        pytest.param(
            '{"customer_id": 3, "amount": -Infinity}',
            422,
            {"detail": [field_error("amount", "Input should be a finite number", "-inf")]},
            id="minus-infinity",
        ),
        pytest.param(
            {"customer_id": 3, "amount": -5},
            422,
            {"detail": [field_error("amount", "must be >= 1", "-5.0", rule="min")]},
            id="negative",
        ),
        pytest.param(
            {"customer_id": 3, "amount": 5000.5},
            422,
            {"detail": [field_error("amount", "must be <= 1000", "5000.5", rule="max")]},
            id="out-of-range",
        ),
        pytest.param(
            {"customer_id": 3, "amount": 20, "c": "z"},
            422,
            {"detail": [field_error("c", "must be one of [a, b, c]", "'z'", rule="allowed")]},
            id="unknown-category",
        ),
        pytest.param(
            [{"customer_id": 3, "amount": 20, "x": 11}, {"customer_id": 4, "amount": 0.5}],
            422,
            {
                "detail": [
                    field_error("0.x", "must be <= 10", "11.0", rule="max"),
                    field_error("1.amount", "must be >= 1", "0.5", rule="min"),
                ]
            },
            id="rules-in-a-batch",
        ),
    ],
)
def test_bad_requests_get_the_exact_4xx(url: str, body, status: int, answer) -> None:
    response = post(url, body)
    assert (response.status_code, response.json()) == (status, answer)


def test_a_huge_value_is_not_echoed(url: str) -> None:
    sent = "9" * 100_000
    response = post(url, {"customer_id": 3, "amount": sent, sent: 1})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            field_error("amount", "Input should be a valid number", f"'{'9' * 76}..."),
            field_error(f"{'9' * 77}...", "Extra inputs are not permitted", "1"),
        ]
    }
    assert len(response.content) < 500


def test_an_integer_past_python_s_digit_limit_is_not_json_we_read(url: str) -> None:
    response = post(url, '{"customer_id": ' + "9" * 5000 + ', "amount": 20}')
    assert response.status_code == 400
    assert response.json() == {
        "detail": "the body is not valid JSON: Exceeds the limit (4300 digits) for integer "
        "string conversion: value has 5000 digits; use sys.set_int_max_str_digits() "
        "to increase the limit"
    }


def test_json_nested_100k_deep_is_refused_before_parsing(url: str) -> None:
    response = post(url, "[" * 100_000 + "]" * 100_000)
    limit = "more than 8 (limit scoring.online.max_depth)"
    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"the body nests 100000 levels deep, {limit}"},
    )


def test_brackets_inside_strings_do_not_count_as_nesting(small_url: str) -> None:
    response = post(small_url, {"customer_id": 3, "amount": 20, "c": "[[[[[[{{{{"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["rule"] == "allowed"


def test_a_value_nested_past_the_limit_is_refused(small_url: str) -> None:
    response = post(small_url, {"customer_id": 3, "amount": [[[[1]]]]})
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "the body nests 5 levels deep, more than 4 (limit scoring.online.max_depth)"},
    )


TOO_LARGE = {"detail": "the body is larger than 2048 bytes (limit scoring.online.max_body_bytes)"}


def test_a_body_over_the_limit_gets_413(small_url: str) -> None:
    response = post(small_url, {"customer_id": 3, "amount": 20, "c": "a" * 3000})
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_a_chunked_body_over_the_limit_gets_413_by_counting(small_url: str) -> None:
    chunks = iter([b'{"customer_id": 3, "c": "', b"a" * 1500, b"a" * 1500, b'"}'])
    response = requests.post(f"{small_url}/predict", data=chunks, timeout=30)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_a_declared_200_mb_body_is_refused_before_it_is_sent(url: str) -> None:
    """Headers alone: the server answers without waiting for (or echoing) the body."""
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as client:
        client.sendall(
            b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200000000\r\n\r\n" + b"[" * 1000
        )
        reply = _read_reply(client)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body) == {
        "detail": "the body is larger than 1048576 bytes (limit scoring.online.max_body_bytes)"
    }


def _read_reply(client: socket.socket) -> bytes:
    reply = b""
    while chunk := client.recv(65536):
        reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        length = [
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        ]
        if length and len(body) >= int(length[0].split(b":")[1]):
            break
    return reply


def test_a_batch_over_the_row_limit_gets_422(small_url: str) -> None:
    response = post(small_url, [{"customer_id": 3, "amount": 20}] * 4)
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "at most 3 rows per request (limit scoring.online.max_rows), got 4"},
    )


def test_the_default_row_limit_is_1000(url: str) -> None:
    response = post(url, [{"customer_id": 3, "amount": 20}] * 1001)
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "at most 1000 rows per request (limit scoring.online.max_rows), got 1001"},
    )


def test_flagged_values_are_scored_with_each_rows_flags(flag_url: str) -> None:
    rows = [
        {"customer_id": 3, "amount": 20},
        {"customer_id": 4, "amount": -5, "c": "z"},
    ]
    response = post(flag_url, rows)
    assert response.status_code == 200
    body = response.json()
    assert len(body["scores"]) == 2
    assert body["flags"] == [
        [],
        [
            field_error("1.amount", "must be >= 1", "-5.0", rule="min"),
            field_error("1.c", "must be one of [a, b, c]", "'z'", rule="allowed"),
        ],
    ]
    single = post(flag_url, {"customer_id": 3, "amount": 5000}).json()
    assert single["flags"] == [field_error("amount", "must be <= 1000", "5000.0", rule="max")]


def test_flagging_still_refuses_what_cannot_be_scored(flag_url: str) -> None:
    response = post(flag_url, '{"customer_id": 3, "amount": NaN}')
    assert (response.status_code, response.json()) == (
        422,
        {"detail": [field_error("amount", "Input should be a finite number", "nan")]},
    )


def test_many_errors_are_listed_up_to_twenty(url: str) -> None:
    response = post(url, [{"customer_id": 3, "amount": -1}] * 25)
    body = response.json()
    assert response.status_code == 422
    assert len(body["detail"]) == 20 and body["more"] == 5


def test_the_model_endpoint_describes_the_contract_and_limits(url: str, served) -> None:
    described = requests.get(f"{url}/model", timeout=30).json()
    assert described["version"] == served.model.version
    assert described["required"] == ["customer_id", "amount"]
    assert set(described["optional"]) == {"x", "c"}
    assert described["limits"] == {
        "max_body_bytes": 1048576,
        "max_rows": 1000,
        "max_depth": 8,
        "on_rule_violation": "reject",
    }
    assert described["rules"] == {
        "customer_id": {"dtype": "int"},
        "amount": {"dtype": "float", "min": 1.0, "max": 1000.0},
        "x": {"dtype": "float", "min": -10.0, "max": 10.0},
        "c": {"dtype": "string", "allowed": ["a", "b", "c"]},
    }


def test_the_published_schema_describes_the_request_body(url: str) -> None:
    schema = requests.get(f"{url}/openapi.json", timeout=30).json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    row, rows = body["schema"]["anyOf"]
    assert row["required"] == ["customer_id", "amount"]
    assert row["additionalProperties"] is False
    assert row["properties"]["customer_id"]["maximum"] == 2**63 - 1
    assert row["properties"]["amount"]["minimum"] == 1
    assert (rows["minItems"], rows["maxItems"]) == (1, 1000)
