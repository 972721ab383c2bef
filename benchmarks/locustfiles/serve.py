"""Locust users for ``benchmarks.serve_load``: single-row scoring requests, one in ten a bad one.

Kept out of ``benchmarks/*.py`` on purpose: importing locust monkey-patches the process with
gevent, which the test suite (it imports every benchmark module) must not get.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, task

BAD_REQUESTS = [
    ({"customer_id": True, "amount": 20}, 422),
    ({"customer_id": 3}, 422),
    ({"customer_id": 3, "amount": 20, "colour": "red"}, 422),
    ("[" * 10_000 + "]" * 10_000, 400),
    ({"customer_id": 999_999, "amount": 20}, 404),
]


class Caller(FastHttpUser):
    """No think time: each user sends its next request as soon as the last is answered."""

    @task(9)
    def score(self) -> None:
        row = {"customer_id": random.randint(1, 200), "amount": round(random.uniform(10, 100), 2)}
        self.client.post("/predict", json=row, name="score one row")

    @task(1)
    def abuse(self) -> None:
        body, status = random.choice(BAD_REQUESTS)
        kwargs = {"data": body} if isinstance(body, str) else {"json": body}
        with self.client.post(
            "/predict", name="bad request (expects its 4xx)", catch_response=True, **kwargs
        ) as response:
            if response.status_code == status:
                response.success()
            else:
                response.failure(f"expected {status}, got {response.status_code}")
