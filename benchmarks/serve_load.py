"""The online server under load: locust (headless) against the app on loopback, bounded in time.

    .venv/bin/python -m benchmarks.serve_load [--users 32] [--seconds 20]

Needs no trained project: it registers the test suite's small served model (LightGBM over a
customer id, a request field and two features read from a real Feast SQLite online store) in a
temporary MLflow registry, serves it with the app and limits ``modelworks serve`` uses, in its
own process under uvicorn, and runs locust against it with ``users`` users and no think time,
after 50 warm-up requests. One request in ten is a bad one (a boolean id, a missing or unknown
field, JSON nested 10,000 deep, an unknown entity) that must get its exact 4xx; anything else
counts as an error.
Reports throughput, p50/p99 latency, errors and the server's resident memory (psutil).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import markdown_table, write_results

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfiles" / "serve.py"
MODEL = "served"


def register_model(root: Path) -> str:
    """The small model, registered as ``served``@champion in a registry under ``root``."""
    import mlflow

    from tests.modelworks.serving.conftest import register_served_model

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    register_served_model(root, MODEL)
    return uri


def serve(port: int) -> None:
    """The server process: the champion behind ``create_app`` under uvicorn, as the CLI runs it."""
    import uvicorn

    from modelworks.serving.app import create_app
    from modelworks.serving.datasets import RegisteredModelDataset

    app = create_app(RegisteredModelDataset(MODEL).load())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(uri: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
    command = [sys.executable, "-m", "benchmarks.serve_load", "--serve", str(port)]
    server = subprocess.Popen(command, env=env, cwd=HERE.parent, stderr=subprocess.PIPE)
    import requests

    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return server
        except requests.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(
                    f"the server did not start: {server.communicate()[1]!r}"
                ) from None
            time.sleep(0.2)


class MemorySampler:
    """The server's resident memory every 0.2 s while the load runs: peak and last."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._process.memory_info().rss / 2**20)
            self._stop.wait(0.2)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_locust(url: str, users: int, seconds: int, output: Path) -> list[dict[str, Any]]:
    """Locust headless for ``seconds``; its final statistics, one entry per request name."""
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--host",
        url,
        "--json-file",
        str(output),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, timeout=seconds + 120)
    # locust adds ".json" to the name it is given
    entries: list[dict[str, Any]] = json.loads(Path(f"{output}.json").read_text())
    return entries


def summarise(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per request kind and in all: requests, errors, throughput, p50 and p99 (from locust's
    response-time histogram, as its own report computes them)."""
    every = {
        "name": "all",
        "num_requests": sum(e["num_requests"] for e in entries),
        "num_failures": sum(e["num_failures"] for e in entries),
        "start_time": min(e["start_time"] for e in entries),
        "last_request_timestamp": max(e["last_request_timestamp"] for e in entries),
        "response_times": _merged([e["response_times"] for e in entries]),
    }
    return [_summary(entry) for entry in [*sorted(entries, key=lambda e: e["name"]), every]]


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    seconds = entry["last_request_timestamp"] - entry["start_time"]
    times = entry["response_times"]
    return {
        "requests": entry["name"],
        "count": entry["num_requests"],
        "errors": entry["num_failures"],
        "per_second": entry["num_requests"] / seconds if seconds > 0 else None,
        "p50_ms": _percentile(times, 0.50),
        "p99_ms": _percentile(times, 0.99),
    }


def _merged(histograms: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def _percentile(histogram: dict[str, int], share: float) -> float | None:
    """The smallest response time (ms) with at least ``share`` of requests at or below it."""
    total = sum(histogram.values())
    if not total:
        return None
    seen = 0
    for bucket in sorted(histogram, key=float):
        seen += histogram[bucket]
        if seen >= share * total:
            return float(bucket)
    return None


def warm_up(url: str, requests_: int = 50) -> None:
    """First requests open the online store and load the model's native library: not load."""
    import requests

    with requests.Session() as session:
        for customer in range(1, requests_ + 1):
            row = {"customer_id": customer, "amount": 20}
            session.post(f"{url}/predict", json=row, timeout=30).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        uri = register_model(Path(tmp))
        port = _free_port()
        server = _start_server(uri, port)
        url = f"http://127.0.0.1:{port}"
        try:
            warm_up(url)
            with MemorySampler(server.pid) as memory:
                stats = run_locust(url, args.users, args.seconds, Path(tmp) / "locust")
        finally:
            server.terminate()
            server.wait(timeout=30)
    results = summarise(stats)
    rss = {"peak_mb": max(memory.samples), "end_mb": memory.samples[-1]}
    table = markdown_table(
        ["requests", "count", "errors", "req/s", "p50 ms", "p99 ms"],
        [list(r.values()) for r in results],
    )
    header = (
        f"locust, {args.users} users without think time, {args.seconds} s, on loopback "
        f"against one uvicorn worker; server RSS peak {rss['peak_mb']:.0f} MB, "
        f"{rss['end_mb']:.0f} MB at the end.\n\n"
    )
    path = write_results(
        "serve_load",
        {"users": args.users, "seconds": args.seconds, "results": results, "server_rss": rss},
        header + table,
    )
    print(header + table)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
