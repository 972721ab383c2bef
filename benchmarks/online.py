"""Single-row online path: entity key -> online features -> prediction, p50 and p99.

    .venv/bin/python -m benchmarks.online [--model credit_risk] [--requests 500]

Needs a trained project (``make run``): it serves the model's champion from the project's
registry and Feast online store. Requests are rows of the use case's latest scoring batch,
reduced to what an online caller sends (the signature's required fields: entity keys and
request-time fields). Measured in process (the pyfunc, as a Python caller would use it) and
over HTTP on loopback (``modelworks serve``'s app under uvicorn, one keep-alive client).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import markdown_table, write_results

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
    }


def in_process(model: Any, rows: list[dict[str, Any]]) -> dict[str, float]:
    """The pyfunc on one-row frames, features fetched from the online store on every call."""
    frames = [pd.DataFrame([row]) for row in rows]
    for frame in frames[:WARMUP]:
        model.predict(frame)
    timings = []
    for frame in frames:
        start = time.perf_counter()
        model.predict(frame)
        timings.append(time.perf_counter() - start)
    return percentiles(timings)


def over_http(model_name: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    """``modelworks serve`` in its own process; one keep-alive client posting one row at a time."""
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
        for row in rows[:WARMUP]:
            session.post(f"{url}/predict", json=row, timeout=10).raise_for_status()
        timings = []
        for row in rows:
            start = time.perf_counter()
            session.post(f"{url}/predict", json=row, timeout=10).raise_for_status()
            timings.append(time.perf_counter() - start)
        return percentiles(timings)
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
        ["path", "p50 ms", "p99 ms", "mean ms"],
        [[path, r["p50_ms"], r["p99_ms"], r["mean_ms"]] for path, r in results.items()],
    )
    header = (
        f"Online path of {args.model} v{model.version}: entity key -> Feast online store -> "
        f"prediction, {args.requests} single-row requests after {WARMUP} warm-up.\n\n"
    )
    path = write_results(
        "online",
        {"model": args.model, "version": model.version, "requests": args.requests, **results},
        header + table,
    )
    print(header + table)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
