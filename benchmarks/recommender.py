"""Recommender benchmark: training throughput and top-10 latency of the hybrid model.

    .venv/bin/python -m benchmarks.recommender                  # CPU, half the cores (max 8)
    .venv/bin/python -m benchmarks.recommender --device cuda    # on a GPU machine (AMP autocast)
    .venv/bin/python -m benchmarks.recommender --threads 2      # torch threads
    .venv/bin/python -m benchmarks.recommender --device cuda --batch-size 8192

The hotel generator at its default size (20,000 users, 1,500 hotels, 8 weekly periods) is
split at the latest period as the use case splits it: train on every click and booking before
it, judge on the hotels each user books in it. In one fresh process
(``benchmarks.common.measure``: wall time and peak memory, data generation included) the
benchmark trains the hybrid model with its default parameters and reports:

- training throughput: positive (user, hotel) pairs per second, each with its sampled
  negatives, over the training time of every epoch (validation excluded);
- top-10 latency for one user: ``top_k(user, 10, exclude=their bookings)``, p50 and p99 over
  a few hundred calls after a warm-up, for warm users (features from the model's table) and
  cold-start users (features passed in, as a served model receives them from the online
  store), with ``torch.cuda.synchronize()`` around every timed call on CUDA;
- batch top-10: users per second when ``recommend`` ranks 1,024 users at once;
- NDCG@10 on the latest period for warm and cold-start users, of the model and both baselines.

Results: ``benchmarks/results/recommender_<device>.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import markdown_table, measure, write_results

CALLS, WARM_UP, BATCH_USERS, SEED = 300, 30, 1024, 0
USER_PROFILE = ["traveller_type"]
HOTEL_FEATURES = ["city", "star_rating", "price_band", "has_wifi", "couple_friendly",
                  "budget_friendly", "close_to_nature"]  # fmt: skip


def prepare(data: dict[str, pd.DataFrame], cutoff: pd.Timestamp) -> dict[str, Any]:
    """Training positives, latest-period bookings and features as known at ``cutoff``."""
    from modelworks.recommenders.data import preference_profiles

    events = data["interactions"]
    positives = events[events["event"].isin(["click", "booking"])]
    train = positives[positives["occurred_at"] < cutoff]
    latest = positives[positives["occurred_at"] >= cutoff]
    items = data["hotels"][["hotel_id", *HOTEL_FEATURES]]
    profiles = preference_profiles(train, items, columns=columns())
    users = data["users"][["user_id", *USER_PROFILE]].merge(profiles, on="user_id", how="left")
    return {
        "train": train,
        "test": latest[latest["event"] == "booking"],
        "booked": train[train["event"] == "booking"],
        "users": users,
        "items": items,
        "history_features": [c for c in profiles.columns if c != "user_id"],
    }


def columns() -> Any:
    """Interaction columns of the hotel data."""
    from modelworks.recommenders import InteractionColumns

    return InteractionColumns(user="user_id", item="hotel_id", time="occurred_at")


def latencies(
    call: Callable[[Any], object], users: np.ndarray, sync: Callable[[], None]
) -> dict[str, float]:
    """p50 and p99 milliseconds of ``call(user)`` over ``users``, after a warm-up."""
    for user in users[:WARM_UP]:
        call(user)
    timings = []
    for user in users[WARM_UP:]:
        sync()
        start = time.perf_counter()
        call(user)
        sync()
        timings.append(time.perf_counter() - start)
    ms = 1e3 * np.asarray(timings)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def run(device: str, threads: int, batch_size: int | None) -> dict[str, Any]:
    """Generate, train, time and evaluate in this process; every figure the report shows."""
    import torch

    from modelworks.recommenders import (
        ContentRecommender,
        PopularityRecommender,
        RecommenderParams,
        evaluate_recommender,
        fit_recommender,
    )
    from pipelines.hotel_recommendation.generator import (
        GeneratorParams,
        generate_hotel_data,
        latest_period_start,
    )

    torch.set_num_threads(threads)
    params = RecommenderParams(**({"batch_size": batch_size} if batch_size else {}))
    generator = GeneratorParams()
    start = time.perf_counter()
    data = generate_hotel_data(generator)
    split = prepare(data, latest_period_start(generator))
    prepared_s = time.perf_counter() - start

    start = time.perf_counter()
    model = fit_recommender(
        split["train"],
        users=split["users"],
        items=split["items"],
        params=params,
        columns=columns(),
        history_features=split["history_features"],
        device=device,
    )
    fit_s = time.perf_counter() - start
    history = model.history
    assert history is not None

    def sync() -> None:
        if model.device.type == "cuda":
            torch.cuda.synchronize()

    rng = np.random.default_rng(SEED)
    booked = split["booked"].groupby("user_id")["hotel_id"].agg(list).to_dict()
    warm = rng.choice(model.users.ids.to_numpy(), size=CALLS + WARM_UP)
    cold_ids = split["test"].loc[~split["test"]["user_id"].isin(model.users.ids), "user_id"]
    cold = rng.choice(cold_ids.unique(), size=CALLS + WARM_UP)
    profiles = split["users"].set_index("user_id")[USER_PROFILE]  # what a newcomer has

    warm_latency = latencies(lambda u: model.top_k(u, 10, exclude=booked.get(u, ())), warm, sync)
    cold_latency = latencies(
        lambda u: model.top_k(u, 10, user_features=profiles.loc[[u]]), cold, sync
    )
    batch = warm[:BATCH_USERS]
    model.recommend(batch, 10)  # warm-up
    sync()
    start = time.perf_counter()
    model.recommend(batch, 10, exclude=booked)
    sync()
    batch_s = time.perf_counter() - start

    cols = columns()
    models = {
        "hybrid": model,
        "popularity": PopularityRecommender.fit(split["train"], items=split["items"], columns=cols),
        "content": ContentRecommender.fit(split["train"], items=split["items"], columns=cols),
    }
    quality = {
        name: evaluate_recommender(
            m, split["test"], history=split["train"], exclude=split["booked"], columns=cols
        )
        for name, m in models.items()
    }
    return {
        "device": str(model.device),
        "device_name": torch.cuda.get_device_name() if model.device.type == "cuda" else None,
        "torch": torch.__version__,
        "threads": threads,
        "generator": generator.model_dump(mode="json"),
        "params": params.model_dump(mode="json"),
        "train_pairs": len(split["train"]),
        "catalogue": len(model.item_ids),
        "prepare_seconds": prepared_s,
        "fit_seconds": fit_s,
        "epochs": [{**vars(e), "samples_per_second": e.samples_per_second} for e in history.epochs],
        "best_epoch": history.best_epoch,
        "samples_per_second": history.samples_per_second,
        "top10_warm": warm_latency,
        "top10_cold_with_features": cold_latency,
        "batch_users_per_second": len(batch) / batch_s,
        "ndcg_at_10": {
            name: {group: q[f"ndcg_at_10_{group}"] for group in ("warm", "cold")}
            for name, q in quality.items()
        },
        "n_users": {group: quality["hybrid"][f"n_users_{group}"] for group in ("warm", "cold")},
    }


def report(result: dict[str, Any], seconds: float, peak_mb: float) -> str:
    """The markdown summary written next to the JSON."""
    device = result["device_name"] or f"CPU, {result['threads']} torch threads"
    cold = result["top10_cold_with_features"]
    speed = markdown_table(
        ["measure", "value"],
        [
            ["training throughput (pairs/s)", round(result["samples_per_second"])],
            ["epochs (early stopping + refit)", len(result["epochs"])],
            ["fit wall time (s)", result["fit_seconds"]],
            ["top-10, warm user: p50 / p99 (ms)", _pair(result["top10_warm"])],
            ["top-10, cold user + features: p50 / p99 (ms)", _pair(cold)],
            ["batch top-10 (users/s)", round(result["batch_users_per_second"])],
            ["whole run: wall (s) / peak memory (MB)", f"{seconds:.1f} / {peak_mb:.0f}"],
        ],
    )
    quality = markdown_table(
        ["model", "NDCG@10 warm", "NDCG@10 cold"],
        [[name, q["warm"], q["cold"]] for name, q in result["ndcg_at_10"].items()],
    )
    n = result["n_users"]
    return (
        f"# Hybrid recommender on {device}\n\n"
        f"{result['train_pairs']:,} training pairs, {result['catalogue']:,} hotels, batches "
        f"of {result['params']['batch_size']}, torch {result['torch']}.\n\n{speed}\n\n"
        f"Latest period: {n['warm']:.0f} warm and {n['cold']:.0f} cold-start users with a "
        f"booking.\n\n{quality}\n"
    )


def _pair(latency: dict[str, float]) -> str:
    return f"{latency['p50_ms']:.2f} / {latency['p99_ms']:.2f}"


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run in a fresh process, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # Half the cores: on a shared machine a torch thread that waits for a busy core stalls
    # every step (on 2 busy cores, 2 threads trained 10x slower than 1).
    default_threads = max(1, min(8, (cores or 2) // 2))
    parser.add_argument("--threads", type=int, default=default_threads, help="torch threads")
    parser.add_argument("--batch-size", type=int, help="training batch (default: the model's)")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: torch sees no CUDA device on this machine")
    measured = measure(run, args.device, args.threads, args.batch_size)
    result = measured.result
    markdown = report(result, measured.seconds, measured.peak_mb)
    path = write_results(
        f"recommender_{args.device}",
        {**result, "wall_seconds": measured.seconds, "peak_mb": measured.peak_mb},
        markdown,
    )
    print(markdown)
    print(f"written: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
