"""Streaming drift benchmark: a 10M-row batch against a 10M-row reference, in bounded memory.

    .venv/bin/python -m benchmarks.drift_stream                      # 10M vs 10M, check at 1M
    .venv/bin/python -m benchmarks.drift_stream --rows 1000000 --check-rows 100000

The drift benchmark's generator (``benchmarks.drift``: 40 numeric and 10 categorical features,
the same injected drifts) writes the reference and the batch to parquet one chunk at a time, so
generation stays bounded too. In fresh processes (``benchmarks.common.measure``):
``stream_reference_profile`` builds the profile from the reference file, one column at a time;
``stream_drift`` compares the batch file with that profile, column by column in chunks. Each
reports its wall and CPU time, reading included, and the peak resident memory of its process.
A last process compares, at ``--check-rows`` rows, the streaming path's verdicts and statistics
with the in-memory path's (``build_reference_profile`` + ``compute_drift``). Results:
``benchmarks/results/drift_stream.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import Target, markdown_table, measure, peak_resident_mb, write_results
from benchmarks.drift import DRIFTS, N_BINS, SEED, generate, spec
from modelworks.monitoring import DriftParams, build_reference_profile, compute_drift
from modelworks.monitoring.streaming import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_SUBDIVISIONS,
    stream_drift,
    stream_reference_profile,
)

WALL_TARGET_S = 30.0
MEMORY_TARGET_MB = 2048.0
# Rows generated and written at a time: the generator's frame of 50 columns stays ~400 MB.
WRITE_CHUNK_ROWS = 1_000_000


# --------------------------------------------------------------------------------------------
# Data, written chunk by chunk
# --------------------------------------------------------------------------------------------


def write_parquet(path: Path, rows: int, *, drifted: bool) -> None:
    """``rows`` rows of the drift benchmark's reference or batch, one row group per chunk."""
    writer: pq.ParquetWriter | None = None
    try:
        for k, start in enumerate(range(0, rows, WRITE_CHUNK_ROWS)):
            n = min(WRITE_CHUNK_ROWS, rows - start)
            seed = SEED + 2 * k + int(drifted)
            table = pa.Table.from_pandas(
                generate(n, drifted=drifted, seed=seed), preserve_index=False
            )
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=WRITE_CHUNK_ROWS)
    finally:
        if writer is not None:
            writer.close()


def write_data(folder: Path, rows: int) -> None:
    """Reference and drifted batch of ``rows`` rows each."""
    write_parquet(folder / "reference.parquet", rows, drifted=False)
    write_parquet(folder / "current.parquet", rows, drifted=True)


# --------------------------------------------------------------------------------------------
# Measured calls (each in a fresh process)
# --------------------------------------------------------------------------------------------


def profile_job(reference: Path, profile_path: Path) -> dict[str, float]:
    """Build the reference profile from the file, streaming; write it as JSON; its clock."""
    features = spec()
    clock = Clock()
    profile = stream_reference_profile(
        reference, numeric=features["numeric"], categorical=features["categorical"], n_bins=N_BINS
    )
    seconds = clock.read()
    profile_path.write_text(json.dumps(profile))
    return seconds


def drift_job(profile_path: Path, current: Path, chunk_rows: int) -> dict[str, Any]:
    """Drift of the batch file against the stored profile, streaming; its clock and summary."""
    clock = Clock()
    summary = stream_drift(profile_path, current, DriftParams(), chunk_rows=chunk_rows)
    return clock.read() | {"summary": summary}


class Clock:
    """Wall and CPU seconds of this process (all its threads) since it was made, and the
    machine's load average then: on a shared machine, CPU seconds tell work from waiting."""

    def __init__(self) -> None:
        self.wall, self.cpu, self.load = (
            time.perf_counter(),
            time.process_time(),
            os.getloadavg()[0],
        )

    def read(self) -> dict[str, float]:
        """Seconds so far (wall and CPU) and the 1-minute load average at the start."""
        return {
            "seconds": time.perf_counter() - self.wall,
            "cpu_seconds": time.process_time() - self.cpu,
            "load_average": self.load,
        }


def check_job(folder: Path, chunk_rows: int) -> dict[str, Any]:
    """Both paths on the same files: the in-memory one on frames, the streaming one on files."""
    features = spec()
    params = DriftParams()
    expected = compute_drift(
        build_reference_profile(
            pd.read_parquet(folder / "reference.parquet"),
            numeric=features["numeric"],
            categorical=features["categorical"],
            n_bins=N_BINS,
        ),
        pd.read_parquet(folder / "current.parquet"),
        params,
    )
    profile = stream_reference_profile(
        folder / "reference.parquet",
        numeric=features["numeric"],
        categorical=features["categorical"],
        n_bins=N_BINS,
    )
    actual = stream_drift(profile, folder / "current.parquet", params, chunk_rows=chunk_rows)
    return compare_paths(expected, actual) | {"peak_mb": peak_resident_mb()}


def compare_paths(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """Features whose verdicts differ; the largest differences of KS and Wasserstein/std and
    the largest error bounds the streaming path reported."""
    theirs = {row["feature"]: row for row in actual["features"]}
    differing, ks_gap, w_gap, ks_bound, w_bound = [], 0.0, 0.0, 0.0, 0.0
    for row in expected["features"]:
        other = theirs[row["feature"]]
        if row["verdict"] != other["verdict"]:
            differing.append([row["feature"], row["verdict"], other["verdict"]])
        if row["kind"] != "numeric" or row["ks_statistic"] is None:
            continue
        bounds = actual["approximation"][row["feature"]]
        scale = row["wasserstein"] / row["wasserstein_normalised"]
        ks_gap = max(ks_gap, abs(row["ks_statistic"] - other["ks_statistic"]))
        w_gap = max(w_gap, abs(row["wasserstein"] - other["wasserstein"]) / scale)
        ks_bound = max(ks_bound, bounds["ks_error"])
        w_bound = max(w_bound, bounds["wasserstein_error"] / scale)
    return {
        "n_features": len(expected["features"]),
        "differing_verdicts": differing,
        "max_ks_difference": ks_gap,
        "max_wasserstein_std_difference": w_gap,
        "max_ks_error_bound": ks_bound,
        "max_wasserstein_std_error_bound": w_bound,
        "critical_in_memory": sorted(
            r["feature"] for r in expected["features"] if r["verdict"] == "critical"
        ),
    }


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


def bench_stream(rows: int, chunk_rows: int) -> dict[str, Any]:
    """Generate ``rows`` x 50 twice, then profile and drift by streaming, each measured."""
    with tempfile.TemporaryDirectory(prefix="drift-stream-") as tmp:
        folder = Path(tmp)
        generation = measure(write_data, folder, rows)
        profile = measure(profile_job, folder / "reference.parquet", folder / "profile.json")
        drift = measure(drift_job, folder / "profile.json", folder / "current.parquet", chunk_rows)
        file_mb = (folder / "current.parquet").stat().st_size / 2**20
    profile_clock, drift_clock = profile.result, dict(drift.result)
    summary = drift_clock.pop("summary")
    profile_seconds, drift_seconds = profile_clock["seconds"], drift_clock["seconds"]
    return {
        "rows": rows,
        "chunk_rows": chunk_rows,
        "subdivisions": DEFAULT_SUBDIVISIONS,
        "generation_seconds": generation.seconds,
        "generation_peak_mb": generation.peak_mb,
        "batch_file_mb": file_mb,
        "profile_seconds": profile_seconds,
        "profile_cpu_seconds": profile_clock["cpu_seconds"],
        "profile_load_average": profile_clock["load_average"],
        "profile_peak_mb": profile.peak_mb,
        "drift_seconds": drift_seconds,
        "drift_cpu_seconds": drift_clock["cpu_seconds"],
        "drift_load_average": drift_clock["load_average"],
        "drift_peak_mb": drift.peak_mb,
        "total_seconds": profile_seconds + drift_seconds,
        "critical": sorted(r["feature"] for r in summary["features"] if r["verdict"] == "critical"),
        "warn": sorted(r["feature"] for r in summary["features"] if r["verdict"] == "warn"),
        "summary": summary,
    }


def bench_check(rows: int, chunk_rows: int) -> dict[str, Any]:
    """Generate ``rows`` x 50 twice and compare the streaming and in-memory verdicts."""
    with tempfile.TemporaryDirectory(prefix="drift-check-") as tmp:
        folder = Path(tmp)
        measure(write_data, folder, rows)
        # A chunk smaller than the file, so the check sums the counts of several chunks.
        check = measure(check_job, folder, min(chunk_rows, max(rows // 4, 1)))
    return {"rows": rows, "seconds": check.seconds, **check.result}


def targets(stream: dict[str, Any], check: dict[str, Any]) -> list[Target]:
    """The streaming targets, named by what each measures."""
    size = f"{stream['rows'] / 1e6:g}M x 50"
    return [
        Target(
            f"drift {size} vs a prebuilt {size} reference profile: drift compute wall",
            stream["drift_seconds"],
            WALL_TARGET_S,
            "s",
        ),
        Target(
            f"drift {size} vs {size} reference: profile build + drift compute wall",
            stream["total_seconds"],
            WALL_TARGET_S,
            "s",
        ),
        Target(
            f"drift {size}: drift compute peak memory",
            stream["drift_peak_mb"],
            MEMORY_TARGET_MB,
            "MB",
        ),
        Target(
            f"drift {size}: reference profile build peak memory",
            stream["profile_peak_mb"],
            MEMORY_TARGET_MB,
            "MB",
        ),
        Target(
            f"streaming verdicts equal to in-memory at {check['rows'] / 1e6:g}M x 50: "
            "features that differ",
            len(check["differing_verdicts"]),
            0,
            "features",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def markdown(stream: dict[str, Any], check: dict[str, Any], found: list[Target]) -> str:
    """Targets, the timing table, the equality check and the injected drifts found."""
    injected = sorted(DRIFTS)
    lines = [
        f"# Streaming drift: {stream['rows']:,} x 50 against a {stream['rows']:,}-row reference",
        "",
        "Command: `.venv/bin/python -m benchmarks.drift_stream`. Each step in a fresh process; "
        "times include reading parquet; peak = that process's resident high-water mark. "
        f"Columns read in chunks of {stream['chunk_rows']:,} rows, two at a time; KS / "
        f"Wasserstein on {stream['subdivisions']} grid steps per sketch-knot interval.",
        "",
        markdown_table(
            ["target", "measured", "target", "holds"],
            [[t.name, t.measured, f"{t.bound} {t.target:g} {t.unit}", t.holds] for t in found],
        ),
        "",
        markdown_table(
            ["step", "wall s", "CPU s (all threads)", "load average at start", "peak MB"],
            [
                [
                    "reference profile (column by column)",
                    stream["profile_seconds"],
                    stream["profile_cpu_seconds"],
                    stream["profile_load_average"],
                    round(stream["profile_peak_mb"]),
                ],
                [
                    "drift (column chunks)",
                    stream["drift_seconds"],
                    stream["drift_cpu_seconds"],
                    stream["drift_load_average"],
                    round(stream["drift_peak_mb"]),
                ],
                ["total", stream["total_seconds"], "-", "-", "-"],
                [
                    "(generating both files, not counted)",
                    stream["generation_seconds"],
                    "-",
                    "-",
                    round(stream["generation_peak_mb"]),
                ],
            ],
        ),
        "",
        f"Critical: {', '.join(stream['critical']) or 'none'}; warn: "
        f"{', '.join(stream['warn']) or 'none'}. Injected: {', '.join(injected)}.",
        "",
        f"## Streaming against in-memory at {check['rows']:,} rows",
        "",
        f"Verdicts differ on {len(check['differing_verdicts'])} of {check['n_features']} "
        f"features {check['differing_verdicts'] or ''}. Largest |KS difference| "
        f"{check['max_ks_difference']:.2g} (bound reported: {check['max_ks_error_bound']:.2g}); "
        f"largest |Wasserstein difference| / reference std "
        f"{check['max_wasserstein_std_difference']:.2g} (bound reported: "
        f"{check['max_wasserstein_std_error_bound']:.2g}). PSI, Jensen-Shannon, chi-squared, "
        "missing and unseen rates are sums of counts, hence equal.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run the streaming measurement and the check, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--check-rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
    args = parser.parse_args()

    stream = bench_stream(args.rows, args.chunk_rows)
    check = bench_check(args.check_rows, args.chunk_rows)
    found = targets(stream, check)
    text = markdown(stream, check, found)
    path = write_results("drift_stream", {"stream": stream, "check": check}, text, targets=found)
    print(text)
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
