"""Single-row online path: entity key -> online features -> prediction, p50 and p99.

    .venv/bin/python -m benchmarks.online [--model credit_risk] [--requests 500]

Needs a trained project (``make run``): it serves the model's champion from the project's
registry and Feast online store. Requests are rows of the use case's latest scoring batch,
reduced to what an online caller sends (the signature's required fields: entity keys and
request-time fields). Measured in process (the pyfunc, as a Python caller would use it) and
over HTTP on loopback (``modelworks serve``'s app under uvicorn, one keep-alive client), each
with its throughput (requests over the time they took, one after another) and, over HTTP, the
server's resident memory after the requests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import Target, markdown_table, write_results

WARMUP = 50


def request_rows(root: Path, model: Any, count: int) -> list[dict[str, Any]]:
    """``count`` single-row requests: the signature's required fields of scoring rows."""
    schema = model.pyfunc.metadata.get_input_schema()
    required = [spec.name for spec in schema.inputs if spec.required]
    frame = pd.read_parquet(
        root / "data" / "05_model_input" / model.name / "scoring_features.parquet"
    )
    rows = frame[required].sample(n=count, replace=len(frame) < count, random_state=0)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "per_second": float(len(ms) / (ms.sum() / 1000)),
    }


def in_process(model: Any, rows: list[dict[str, Any]]) -> dict[str, float]:
    """The pyfunc on one-row frames, features fetched from the online store on every call;
    beside the wall time, the CPU time of each call (``thread_time``: what the call itself
    cost, whatever else the shared machine was running)."""
    frames = [pd.DataFrame([row]) for row in rows]
    for frame in frames[:WARMUP]:
        model.predict(frame)
    timings, cpu = [], []
    for frame in frames:
        start, start_cpu = time.perf_counter(), time.thread_time()
        model.predict(frame)
        timings.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    cpu_ms = np.asarray(cpu) * 1000
    return {
        **percentiles(timings),
        "cpu_p50_ms": float(np.percentile(cpu_ms, 50)),
        "cpu_p99_ms": float(np.percentile(cpu_ms, 99)),
    }


def post_row(client: http.client.HTTPConnection, row: dict[str, Any]) -> float:
    """POST one row to ``/predict``; its score (an error unless the answer is 200)."""
    client.request(
        "POST", "/predict", json.dumps(row).encode(), {"Content-Type": "application/json"}
    )
    response = client.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{row} got {response.status}: {body[:200]!r}")
    return float(json.loads(body)["score"])


def over_http(model_name: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    """``modelworks serve`` in its own process; one keep-alive client posting one row at a
    time."""
    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("modelworks")),
            "serve",
            model_name,
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        deadline = time.monotonic() + 120
        while True:
            try:
                session.get(f"{url}/health", timeout=1)
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the server did not start: {server.stderr.read()!r}"
                    ) from None
                time.sleep(0.2)
        # The stdlib's HTTP client on one kept-alive connection: the time measured is the
        # server's and the loopback's, not a client library's request preparation.
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for row in rows[:WARMUP]:
            post_row(client, row)
        timings = []
        for row in rows:
            start = time.perf_counter()
            post_row(client, row)
            timings.append(time.perf_counter() - start)
        client.close()
        import psutil

        rss_mb = psutil.Process(server.pid).memory_info().rss / 2**20
        return {**percentiles(timings), "server_rss_mb": rss_mb}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="credit_risk")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    from modelworks.project import load_project
    from modelworks.serving.datasets import RegisteredModelDataset

    project = load_project()
    model = RegisteredModelDataset(args.model).load()
    rows = request_rows(project.root, model, args.requests)
    results = {
        "in_process": in_process(model, rows),
        "http_loopback": over_http(args.model, rows),
    }
    table = markdown_table(
        ["path", "p50 ms", "p99 ms", "mean ms", "req/s"],
        [
            [path, r["p50_ms"], r["p99_ms"], r["mean_ms"], r["per_second"]]
            for path, r in results.items()
        ],
    )
    load = os.getloadavg()[0]
    cpu = results["in_process"]
    header = (
        f"Online path of {args.model} v{model.version}: entity key -> Feast online store -> "
        f"prediction, {args.requests} single-row requests after {WARMUP} warm-up; server RSS "
        f"{results['http_loopback']['server_rss_mb']:.0f} MB after them. In process, CPU "
        f"time per call p50 {cpu['cpu_p50_ms']:.2f} / p99 {cpu['cpu_p99_ms']:.2f} ms; "
        f"1-minute load average at the end {load:.1f} on {os.cpu_count()} CPUs.\n\n"
    )
    targets = [
        Target("online in-process p99", results["in_process"]["p99_ms"], 2.6, "ms"),
        Target("online HTTP p99", results["http_loopback"]["p99_ms"], 5, "ms"),
    ]
    path = write_results(
        "online",
        {
            "model": args.model,
            "version": model.version,
            "requests": args.requests,
            "load_average_1m": load,
            **results,
        },
        header + table,
        targets=targets,
    )
    print(header + table)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
