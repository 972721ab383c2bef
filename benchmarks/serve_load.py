"""The online server under load: wrk on loopback, 32 connections, bounded in time and count.

    .venv/bin/python -m benchmarks.serve_load [--connections 32] [--seconds 20] [--workers 2]

Needs no trained project: it registers the test suite's small served model (LightGBM over a
customer id, a request field and two features read from a real Feast SQLite online store) in a
temporary MLflow registry and serves it as ``modelworks serve`` does (``run_server``: uvicorn
with httptools and uvloop, ``workers`` processes), in its own process. The load tool is wrk
(``apt-get install wrk``), written in C, so that it leaves the server most of the two cores
that locust, in Python, took one of. After 100 warm-up requests:

* scoring: ``connections`` connections without think time send single-row requests (a random
  known customer, a random amount) for ``seconds`` or ``max_requests``, whichever ends first;
  every answer must be a 200 with a score;
* bad requests: each kind of bad request (a boolean id, a missing or unknown field, JSON
  nested 10,000 deep, an unknown entity) for ``bad_seconds`` on the same connections; every
  answer must be byte for byte the 4xx it got when sent alone, its status the expected one.

Reports throughput, p50/p99 latency (wrk's), errors and the resident memory of the server's
processes together (psutil, sampled every 0.2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Target, markdown_table, write_results

HERE = Path(__file__).resolve().parent
MODEL = "served"
WARMUP = 100
SCORING = "score one row"
BAD_REQUESTS: list[tuple[str, str, int]] = [
    ("boolean id", json.dumps({"customer_id": True, "amount": 20}), 422),
    ("missing field", json.dumps({"customer_id": 3}), 422),
    ("unknown field", json.dumps({"customer_id": 3, "amount": 20, "colour": "red"}), 422),
    ("nested 10,000 deep", "[" * 10_000 + "]" * 10_000, 400),
    ("unknown entity", json.dumps({"customer_id": 999_999, "amount": 20}), 404),
]

# One Lua state per wrk thread: each counts the answers it got and those that were not the
# expected one, and stops its thread after its share of the request budget.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  status_wanted = tonumber(args[1])
  body_wanted = args[2] ~= "" and args[2] or nil
  budget = tonumber(args[3])
  fixed = os.getenv("WRK_BODY")
  answered, unexpected = 0, 0
  math.randomseed(1000 + id)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local body = fixed or string.format('{"customer_id": %d, "amount": %.2f}',
    math.random(1, 200), 10 + 90 * math.random())
  return wrk.format(nil, "/predict", nil, body)
end
function response(status, headers, body)
  answered = answered + 1
  local ok = status == status_wanted
  if ok and body_wanted then ok = body == body_wanted end
  if ok and not body_wanted then ok = string.find(body, '"score":', 1, true) ~= nil end
  if not ok then unexpected = unexpected + 1 end
  if answered >= budget then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local unexpected_total = 0
  for _, thread in ipairs(threads) do
    unexpected_total = unexpected_total + thread:get("unexpected")
  end
  local e = summary.errors
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"unexpected": %d, "socket_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    unexpected_total, e.connect + e.read + e.write, e.timeout))
end
"""


def register_model(root: Path) -> str:
    """The small model, registered as ``served``@champion in a registry under ``root``."""
    import mlflow

    from tests.modelworks.serving.conftest import register_served_model

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    register_served_model(root, MODEL)
    return uri


def serve(port: int, workers: int) -> None:
    """The server process: the champion under ``run_server``, as ``modelworks serve`` runs it."""
    from modelworks.serving.launch import ServeSettings, run_server

    run_server(ServeSettings(model=MODEL), host="127.0.0.1", port=port, workers=workers)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(uri: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
    command = [
        sys.executable,
        "-m",
        "benchmarks.serve_load",
        "--serve",
        str(port),
        "--workers",
        str(workers),
    ]
    server = subprocess.Popen(command, env=env, cwd=HERE.parent, stderr=subprocess.PIPE)
    import requests

    deadline = time.monotonic() + 180
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
    """The resident memory of the server and its worker processes together, every 0.2 s
    while the load runs: peak and last."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for process in [self._process, *self._process.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.samples.append(total / 2**20)
            self._stop.wait(0.2)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tree_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of the server process and its workers so far."""
    import psutil

    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])


def warm_up(url: str, count: int = WARMUP) -> None:
    """First requests open each worker's online store and load its model's library: not
    load. A new connection each, so that every worker process gets some."""
    import requests

    for customer in range(count):
        row = {"customer_id": customer % 200 + 1, "amount": 20}
        requests.post(f"{url}/predict", json=row, timeout=30).raise_for_status()


def answer_alone(url: str, body: str, status: int) -> str:
    """The body of the answer to ``body`` sent alone, which must have ``status``."""
    import requests

    response = requests.post(
        f"{url}/predict", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    if response.status_code != status:
        raise RuntimeError(f"{body[:80]!r} got {response.status_code}, not {status}")
    return response.text


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: int,
    max_requests: int,
    status: int,
    answer: str = "",
    body: str | None = None,
) -> dict[str, Any]:
    """wrk for ``seconds`` or ``max_requests`` answers, whichever comes first: its counts,
    latency percentiles and the answers that were not ``status`` (with ``answer`` as body,
    or a score where ``answer`` is empty)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    threads = 2
    command = [
        wrk,
        "--threads",
        str(threads),
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(script),
        url,
        "--",
        str(status),
        answer,
        str(max(1, max_requests // threads)),
    ]
    env = {k: v for k, v in os.environ.items() if k != "WRK_BODY"}
    if body is not None:
        env["WRK_BODY"] = body
    done = subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=seconds + 60, env=env
    )
    line = next(row for row in done.stdout.splitlines() if row.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    seconds_taken = raw["duration_us"] / 1e6
    return {
        "count": raw["requests"],
        "errors": raw["unexpected"] + raw["socket_errors"] + raw["timeouts"],
        "per_second": raw["requests"] / seconds_taken if seconds_taken > 0 else None,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--bad-seconds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.workers)
        return
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        uri = register_model(Path(tmp))
        script = Path(tmp) / "load.lua"
        script.write_text(WRK_SCRIPT)
        port = _free_port()
        server = _start_server(uri, port, args.workers)
        url = f"http://127.0.0.1:{port}"
        try:
            warm_up(url)
            answers = [answer_alone(url, body, status) for _, body, status in BAD_REQUESTS]
            # (row, seconds, expected status, expected answer, fixed body): scoring first, then
            # each bad request, which must get the answer it got alone.
            loads: list[tuple[str, int, int, str, str | None]] = [
                (SCORING, args.seconds, 200, "", None),
                *(
                    (f"bad: {name} ({status} expected)", args.bad_seconds, status, answer, body)
                    for (name, body, status), answer in zip(BAD_REQUESTS, answers, strict=True)
                ),
            ]
            with MemorySampler(server.pid) as memory:
                cpu_before = tree_cpu_seconds(server.pid)
                for label, seconds, status, answer, body in loads:
                    result = run_wrk(
                        url,
                        script,
                        connections=args.connections,
                        seconds=seconds,
                        max_requests=args.max_requests,
                        status=status,
                        answer=answer,
                        body=body,
                    )
                    rows.append({"requests": label, **result})
                    if label == SCORING:  # the server's CPU time per request, and the load left
                        scoring = result
                        cpu_seconds = tree_cpu_seconds(server.pid) - cpu_before
                        cpu_ms = cpu_seconds * 1000 / scoring["count"]
                        load = os.getloadavg()[0]
        finally:
            server.terminate()
            server.wait(timeout=30)
    rss = {"peak_mb": max(memory.samples), "end_mb": memory.samples[-1]}
    errors = sum(int(r["errors"]) for r in rows)
    targets = [
        Target(
            f"serve under {args.connections} clients: throughput",
            scoring["per_second"],
            1500,
            "req/s",
            bound="at_least",
        ),
        Target(f"serve under {args.connections} clients: p99", scoring["p99_ms"], 40, "ms"),
        Target(
            f"serve under {args.connections} clients: errors",
            errors,
            0,
            "count",
            note="scoring and bad requests together",
        ),
    ]
    table = markdown_table(
        ["requests", "count", "errors", "req/s", "p50 ms", "p99 ms"],
        [list(r.values()) for r in rows],
    )
    header = (
        f"wrk, {args.connections} connections without think time, on loopback against "
        f"{args.workers} uvicorn worker(s) (httptools, uvloop): scoring for {args.seconds} s "
        f"(at most {args.max_requests:,} requests), then each bad request for "
        f"{args.bad_seconds} s; server RSS (all its processes) peak {rss['peak_mb']:.0f} MB, "
        f"{rss['end_mb']:.0f} MB at the end. Server CPU time per scoring request "
        f"{cpu_ms:.2f} ms; 1-minute load average after scoring {load:.1f} on "
        f"{os.cpu_count()} CPUs.\n\n"
    )
    path = write_results(
        "serve_load",
        {
            "connections": args.connections,
            "seconds": args.seconds,
            "max_requests": args.max_requests,
            "workers": args.workers,
            "results": rows,
            "server_rss": rss,
            "server_cpu_ms_per_scoring_request": cpu_ms,
            "load_average_1m": load,
        },
        header + table,
        targets=targets,
    )
    print(header + table)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
