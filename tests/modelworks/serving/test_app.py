"""The HTTP server on a real loopback connection: scores, and a 4xx naming every bad request."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn

from modelworks.serving.app import create_app


@pytest.fixture(scope="module")
def url(served) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(served.model), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def post(url: str, body: object | str) -> requests.Response:
    if isinstance(body, str):
        return requests.post(f"{url}/predict", data=body, timeout=30)
    return requests.post(f"{url}/predict", json=body, timeout=30)


def test_one_row_by_entity_key(url: str, served) -> None:
    response = post(url, {"customer_id": 3, "amount": 20})
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == served.model.version
    assert 0 < body["score"] < 1


def test_several_rows_answer_in_order(url: str) -> None:
    rows = [{"customer_id": 4, "amount": 30}, {"customer_id": 5, "amount": 30}]
    response = post(url, rows)
    assert response.status_code == 200
    assert response.json()["scores"] == [post(url, row).json()["score"] for row in rows]


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ({"customer_id": 999999, "amount": 20}, 404, "999999"),
        ({"customer_id": 3, "amount": "a lot"}, 422, "amount"),
        ({"customer_id": 3}, 422, "amount"),
        ({"amount": 20}, 422, "customer_id"),
        ({"customer_id": 3, "amount": 20, "colour": "red"}, 422, "colour"),
        (
            [{"customer_id": 3, "amount": 20}, {"customer_id": "x", "amount": 1}],
            422,
            "1.customer_id",
        ),
        ("this is not json", 400, "not valid JSON"),
        ("[]", 400, "non-empty list"),
        ("42", 400, "JSON object"),
    ],
)
def test_bad_requests_get_a_4xx_that_names_the_problem(
    url: str, body, status: int, names: str
) -> None:
    response = post(url, body)
    assert response.status_code == status
    assert names in response.text
    assert "Traceback" not in response.text


def test_the_model_endpoint_describes_the_contract(url: str, served) -> None:
    described = requests.get(f"{url}/model", timeout=30).json()
    assert described["version"] == served.model.version
    assert described["required"] == ["customer_id", "amount"]
    assert set(described["optional"]) == {"x", "c"}
