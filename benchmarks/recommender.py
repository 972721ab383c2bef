"""Recommender benchmark: the hotel_recommendation pipeline at default size, then its champion.

    .venv/bin/python -m benchmarks.recommender

In a scratch copy of the project (as ``benchmarks.pipeline`` runs one), ``kedro run
--pipelines hotel_recommendation`` generates the default data (20,000 users, 1,500 hotels, 8
weekly periods), fills Feast, trains the two-tower model next to both baselines (on CUDA with
autocast when torch sees a GPU, else on the CPU with one thread), registers the champion and
monitors it. Then, in this process, the champion is loaded as ``modelworks serve`` loads it:

- training throughput: positive (user, hotel) pairs per second over every epoch, each with
  its sampled negatives (the candidate run's ``samples_per_second``), and the epochs run;
- top-10 latency for one user, p50 and p99 over a few hundred calls after a warm-up: through
  the registered pyfunc with the user's features and booked hotels read from the Feast online
  store (warm users), for unseen users (cold start, nothing in the store), and of the network
  alone (``top_k`` given the features, no MLflow or Feast);
- NDCG@10 of the model and both baselines for warm and cold-start users (holdout_metrics.json);
- the pipeline's wall time and slowest nodes.

Results: ``benchmarks/results/recommender_<device>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import markdown_table, write_results
from benchmarks.pipeline import run_metrics, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.project import copy_project  # noqa: E402

MODEL = PIPELINE = "hotel_recommendation"
CALLS, WARM_UP, SEED = 300, 30, 0


def latencies(call: Callable[[Any], object], users: np.ndarray) -> dict[str, float]:
    """p50 and p99 milliseconds of ``call(user)`` over ``users``, after a warm-up."""
    for user in users[:WARM_UP]:
        call(user)
    timings = []
    for user in users[WARM_UP:]:
        start = time.perf_counter()
        call(user)
        timings.append(time.perf_counter() - start)
    ms = 1e3 * np.asarray(timings)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def measure_champion(root: Path) -> dict[str, Any]:
    """Latencies of the registered champion of the run in ``root``, and its training figures."""
    import mlflow
    import torch
    from mlflow import MlflowClient

    from modelworks.serving.datasets import RegisteredModelDataset

    os.chdir(root)  # MLflow's and Feast's paths are relative to the project root
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    champion = RegisteredModelDataset(MODEL).load()
    model = champion.pyfunc.unwrap_python_model()._model
    run = MlflowClient(uri, uri).get_run(champion.run_id)
    rng = np.random.default_rng(SEED)
    warm = rng.choice(model.users.ids.to_numpy(), size=CALLS + WARM_UP)
    unseen = int(model.users.ids.max()) + 1 + np.arange(CALLS + WARM_UP)
    snapshot = model.features.users

    def served(user: Any) -> object:
        return champion.predict_rows(pd.DataFrame({"user_id": [user]}))

    return {
        "device": str(model.device),
        "device_name": torch.cuda.get_device_name() if model.device.type == "cuda" else None,
        "torch": torch.__version__,
        "samples_per_second": run.data.metrics["samples_per_second"],
        "best_epoch": int(run.data.metrics["best_epoch"]),
        "epochs": len(model.history.epochs),
        "train_pairs": model.history.epochs[-1].samples,  # the refit's: every training pair
        "catalogue": len(model.item_ids),
        "top10_served_warm": latencies(served, warm),
        "top10_served_unseen": latencies(served, unseen),
        "top10_network_warm": latencies(
            lambda u: model.top_k(u, 10, user_features=snapshot.loc[[u]]), warm
        ),
    }


def run(device_hint: str) -> dict[str, Any]:
    """The pipeline in a scratch project, then the champion measured in this process."""
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="modelworks-bench-") as scratch:
        root = copy_project(Path(scratch) / "project")
        seconds, peak_mb = run_pipeline(root, PIPELINE)
        nodes, _ = run_metrics(root, PIPELINE)
        quality = json.loads(
            (root / "data/08_reporting" / MODEL / "holdout_metrics.json").read_text()
        )
        try:
            champion = measure_champion(root)
        finally:
            os.chdir(here)
    models = {"hybrid": quality, **quality["baselines"]}
    return {
        **champion,
        "pipeline_seconds": seconds,
        "pipeline_peak_mb": peak_mb,
        "nodes": nodes,
        "ndcg_at_10": {
            name: {g: m[f"holdout_ndcg_at_10_{g}"] for g in ("warm", "cold")}
            for name, m in models.items()
        },
        "n_users": {g: quality[f"holdout_n_users_{g}"] for g in ("warm", "cold")},
        "device_hint": device_hint,
    }


def report(result: dict[str, Any]) -> str:
    """The markdown summary written next to the JSON."""
    device = result["device_name"] or "CPU, 1 torch thread"
    slowest = sorted(result["nodes"].items(), key=lambda item: item[1], reverse=True)[:5]
    served = "top-10 via the registered pyfunc"
    speed = markdown_table(
        ["measure", "value"],
        [
            ["training throughput (pairs/s)", round(result["samples_per_second"])],
            ["epochs (early stopping + refit)", result["epochs"]],
            [f"{served}, warm user: p50 / p99 (ms)", _pair(result, "served_warm")],
            [f"{served}, unseen user: p50 / p99 (ms)", _pair(result, "served_unseen")],
            ["top-10 of the network alone: p50 / p99 (ms)", _pair(result, "network_warm")],
            [
                f"`kedro run --pipelines {PIPELINE}`: wall (s) / peak (MB)",
                f"{result['pipeline_seconds']:.1f} / {result['pipeline_peak_mb']:.0f}",
            ],
        ],
    )
    nodes = markdown_table(["node", "seconds"], [[name, s] for name, s in slowest])
    quality = markdown_table(
        ["model", "NDCG@10 warm", "NDCG@10 cold"],
        [[name, q["warm"], q["cold"]] for name, q in result["ndcg_at_10"].items()],
    )
    n = result["n_users"]
    return (
        f"# hotel_recommendation on {device}\n\n"
        f"{result['train_pairs']:,} training pairs, {result['catalogue']:,} hotels, "
        f"torch {result['torch']}.\n\n{speed}\n\nSlowest nodes:\n\n{nodes}\n\n"
        f"Latest period: {n['warm']:.0f} warm and {n['cold']:.0f} cold-start users with a "
        f"booking.\n\n{quality}\n"
    )


def _pair(result: dict[str, Any], name: str) -> str:
    latency = result[f"top10_{name}"]
    return f"{latency['p50_ms']:.2f} / {latency['p99_ms']:.2f}"


def main(argv: list[str] | None = None) -> None:
    """Run, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = run(device)
    markdown = report(result)
    path = write_results(f"recommender_{device}", result, markdown)
    print(markdown)
    print(f"written: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
