"""Drift benchmark: 50 features (40 numeric, 10 categorical), a reference and a batch of N rows.

    .venv/bin/python -m benchmarks.drift                 # 1,000,000 and 100,000 rows, 3 runs each
    .venv/bin/python -m benchmarks.drift --rows 100000   # one size
    .venv/bin/python -m benchmarks.drift --repeats 1     # one run of each tool per size
    .venv/bin/python -m benchmarks.drift --no-evidently  # modelworks only

A seeded generator writes the reference and the current batch to parquet, with a known mix of
drifted and undrifted features. modelworks builds the reference profile in one fresh process
and compares the batch with it in another (``benchmarks.common.measure``), each timing the
call alone and reporting the peak memory of its process, data included. The same files then go
through Evidently's ``DataDriftPreset`` in its own environment (``benchmarks/.venv-evidently``,
see ``benchmarks/requirements-evidently.txt``), when that exists. Each size runs ``--repeats``
pairs (modelworks, then Evidently) on the same files; the speed-up is the ratio of the median
times, with the range of the pairs' ratios beside it, and the report compares the two tools'
per-feature verdicts. Results:
``benchmarks/results/drift.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import Target, markdown_table, measure, write_results
from modelworks.monitoring import DriftParams, build_reference_profile, compute_drift

HERE = Path(__file__).resolve().parent
EVIDENTLY_PYTHON = HERE / ".venv-evidently" / "bin" / "python"
N_NUMERIC, N_CATEGORICAL, N_BINS = 40, 10, 10
SEED = 20_240_601
# modelworks (profile + drift) against Evidently's DataDriftPreset at this size: at least 60x.
SPEEDUP_ROWS, SPEEDUP_TARGET = 1_000_000, 60.0

# What the current batch changes, per feature; every other feature is drawn as the reference.
DRIFTS: dict[str, str] = {
    "num_00": "mean +0.5 sd",
    "num_01": "lognormal sigma x1.4",
    "num_02": "exponential scale x1.15",
    "num_03": "poisson rate +15%",
    "num_04": "missing 0% -> 25%",
    "num_05": "mean +0.03 sd (immaterial)",
    "num_06": "2% outliers x20",
    "num_10": "sd x1.5",
    "cat_00": "mix 70/30 -> 55/45",
    "cat_01": "new category, 8% of rows",
    "cat_02": "mild mix change",
    "cat_03": "missing 0% -> 15%",
}


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def numeric_column(index: int, n: int, rng: np.random.Generator, drifted: bool) -> np.ndarray:
    """One of five shapes by index: normal, lognormal, exponential, counts, uniform amounts."""
    name = f"num_{index:02d}"
    change = DRIFTS.get(name, "") if drifted else ""
    shape = index % 5
    loc = 10.0 * (index + 1)
    if shape == 0:
        sd = 1.0 + index / 10
        shift = 0.5 if "+0.5 sd" in change else 0.03 if "+0.03 sd" in change else 0.0
        values = rng.normal(loc + shift * sd, sd * (1.5 if "sd x1.5" in change else 1.0), n)
    elif shape == 1:
        values = rng.lognormal(1.0, 0.5 * (1.4 if "sigma" in change else 1.0), n)
    elif shape == 2:
        values = rng.exponential(loc * (1.15 if "scale" in change else 1.0), n)
    elif shape == 3:
        rate = 2.0 + index / 4
        values = rng.poisson(rate * (1.15 if "rate" in change else 1.0), n).astype(float)
    else:
        values = np.round(rng.uniform(0.0, loc, n), 2)
    if "outliers" in change:
        values[rng.random(n) < 0.02] *= 20
    missing = 0.25 if "missing" in change else 0.02 if index % 4 == 1 else 0.0
    values[rng.random(n) < missing] = np.nan
    return values


def categorical_column(index: int, n: int, rng: np.random.Generator, drifted: bool) -> pd.Series:
    """Zipf-like frequencies over 2 to 100 levels, stored as a pandas categorical."""
    name = f"cat_{index:02d}"
    change = DRIFTS.get(name, "") if drifted else ""
    n_levels = (2, 3, 4, 5, 8, 12, 20, 30, 50, 100)[index]
    levels = [f"v{k}" for k in range(n_levels)]
    weights = 1.0 / np.arange(1, n_levels + 1) ** 1.1
    if index == 0:
        weights = np.array([0.55, 0.45]) if change else np.array([0.7, 0.3])
    if "mild" in change:
        weights = weights * np.linspace(0.8, 1.25, n_levels)
    codes = rng.choice(n_levels, n, p=weights / weights.sum())
    if "new category" in change:
        levels.append("v_new")
        codes[rng.random(n) < 0.08] = n_levels
    if "missing" in change:
        codes[rng.random(n) < 0.15] = -1
    return pd.Series(pd.Categorical.from_codes(codes, categories=levels))


def generate(n: int, *, drifted: bool, seed: int) -> pd.DataFrame:
    """The reference (``drifted=False``) or the current batch, column by column."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        columns[f"num_{i:02d}"] = numeric_column(i, n, rng, drifted)
    for i in range(N_CATEGORICAL):
        columns[f"cat_{i:02d}"] = categorical_column(i, n, rng, drifted)
    return pd.DataFrame(columns)


def spec() -> dict[str, Any]:
    """Feature lists, shared with the Evidently side."""
    return {
        "numeric": [f"num_{i:02d}" for i in range(N_NUMERIC)],
        "categorical": [f"cat_{i:02d}" for i in range(N_CATEGORICAL)],
    }


# --------------------------------------------------------------------------------------------
# Measured calls (each in a fresh process: module-level, picklable results)
# --------------------------------------------------------------------------------------------


def write_data(folder: Path, rows: int) -> None:
    """The reference, the drifted batch and the feature lists, as files for both tools."""
    generate(rows, drifted=False, seed=SEED).to_parquet(folder / "reference.parquet")
    generate(rows, drifted=True, seed=SEED + 1).to_parquet(folder / "current.parquet")
    (folder / "spec.json").write_text(json.dumps(spec()))


def profile_job(reference: Path, profile_path: Path) -> tuple[float, float]:
    """Read the reference, build the profile (timed), write it as JSON; seconds, peak MB."""
    frame = pd.read_parquet(reference)
    features = spec()
    start = time.perf_counter()
    profile = build_reference_profile(
        frame, numeric=features["numeric"], categorical=features["categorical"], n_bins=N_BINS
    )
    seconds = time.perf_counter() - start
    profile_path.write_text(json.dumps(profile))
    return seconds, peak_mb()


def drift_job(profile_path: Path, current: Path) -> tuple[float, float, dict[str, Any]]:
    """Read the profile and the batch, compute drift (timed); seconds, peak MB, summary."""
    profile = json.loads(profile_path.read_text())
    frame = pd.read_parquet(current)
    start = time.perf_counter()
    summary = compute_drift(profile, frame, DriftParams())
    return time.perf_counter() - start, peak_mb(), summary


def peak_mb() -> float:
    """Peak resident memory of this process since it started, in MB.

    ``ru_maxrss`` survives fork and exec, so a child started by a large parent reports the
    parent's size; the kernel's VmHWM belongs to this process's own address space.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_evidently(folder: Path) -> dict[str, Any] | None:
    """Evidently on the same files, in its own environment; None when that is not installed."""
    if not EVIDENTLY_PYTHON.exists():
        print(
            f"Evidently skipped: no {EVIDENTLY_PYTHON.relative_to(HERE.parent)}. Install it with\n"
            "  python3.11 -m venv benchmarks/.venv-evidently && benchmarks/.venv-evidently/bin/"
            "pip install -r benchmarks/requirements-evidently.txt",
            file=sys.stderr,
        )
        return None
    out = folder / "evidently.json"
    command = [
        str(EVIDENTLY_PYTHON),
        str(HERE / "evidently_side.py"),
        *("--reference", str(folder / "reference.parquet")),
        *("--current", str(folder / "current.parquet")),
        *("--spec", str(folder / "spec.json")),
        *("--out", str(out)),
    ]
    subprocess.run(command, check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# --------------------------------------------------------------------------------------------
# One size
# --------------------------------------------------------------------------------------------


def modelworks_run(folder: Path) -> dict[str, Any]:
    """Build the profile and compute drift, each in a fresh process; times, peaks, summary."""
    profile_seconds, profile_peak = measure(
        profile_job, folder / "reference.parquet", folder / "profile.json"
    ).result
    drift_seconds, drift_peak, summary = measure(
        drift_job, folder / "profile.json", folder / "current.parquet"
    ).result
    return {
        "profile_seconds": profile_seconds,
        "profile_peak_mb": profile_peak,
        "drift_seconds": drift_seconds,
        "drift_peak_mb": drift_peak,
        "total_seconds": profile_seconds + drift_seconds,
        "profile_kb": (folder / "profile.json").stat().st_size / 1024,
        "summary": summary,
    }


def bench(rows: int, *, evidently: bool, repeats: int) -> dict[str, Any]:
    """Generate, measure ``repeats`` pairs of runs at ``rows`` rows, compare their verdicts."""
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        folder = Path(tmp)
        # Generated in a process of its own too, so this one stays small: every process it
        # starts (the measured ones, Evidently) begins as a copy of it.
        measure(write_data, folder, rows)
        for _ in range(repeats):
            ours.append(modelworks_run(folder))
            other = run_evidently(folder) if evidently else None
            if other is not None:
                theirs.append(other)

    summary = ours[-1].pop("summary")
    for run in ours[:-1]:
        run.pop("summary")
    median = {key: float(np.median([r[key] for r in ours])) for key in ours[0]}
    result: dict[str, Any] = {
        "rows": rows,
        "repeats": repeats,
        "modelworks": median | {"runs": ours},
        "summary": summary,
    }
    if theirs:
        seconds = [t["seconds"] for t in theirs]
        result["evidently"] = {
            "evidently": theirs[-1]["evidently"],
            "seconds": float(np.median(seconds)),
            "peak_mb": float(np.median([t["peak_mb"] for t in theirs])),
            "runs": [{"seconds": t["seconds"], "peak_mb": t["peak_mb"]} for t in theirs],
        }
        result["speedup"] = result["evidently"]["seconds"] / median["total_seconds"]
        result["pair_speedups"] = [
            t["seconds"] / o["total_seconds"] for o, t in zip(ours, theirs, strict=True)
        ]
        result["verdicts"] = compare(summary, theirs[-1]["columns"])
    return result


def targets(results: list[dict[str, Any]], *, evidently: bool) -> list[Target]:
    """The speed-up target at ``SPEEDUP_ROWS`` rows, when that size ran."""
    found = []
    for r in results:
        if r["rows"] != SPEEDUP_ROWS:
            continue
        name = (
            f"drift {r['rows'] / 1e6:g}M x {N_NUMERIC + N_CATEGORICAL}: speed-up over Evidently "
            f"DataDriftPreset (ratio of medians of {r['repeats']} runs, profile + drift)"
        )
        pairs = r.get("pair_speedups")
        note = (
            f"per-pair ratios {min(pairs):.1f}x to {max(pairs):.1f}x"
            if pairs
            else "Evidently not run" + ("" if evidently else " (--no-evidently)")
        )
        found.append(Target(name, r.get("speedup"), SPEEDUP_TARGET, "x", "at_least", note))
    return found


def compare(summary: dict[str, Any], evidently: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per feature: what was injected, each tool's verdict and why."""
    rows = []
    for row in sorted(summary["features"], key=lambda r: r["feature"]):
        name = row["feature"]
        theirs = evidently[name]
        rows.append(
            {
                "feature": name,
                "injected": DRIFTS.get(name, "none"),
                "modelworks": row["verdict"],
                "modelworks_reasons": row["reasons"],
                "evidently_drifted": theirs["drifted"],
                "evidently_method": theirs["method"],
                "evidently_score": theirs["score"],
                "evidently_threshold": theirs["threshold"],
                # Evidently has one level, drifted or not; ours has two.
                "agree_critical": (row["verdict"] == "critical") == theirs["drifted"],
                "agree_flagged": (row["verdict"] != "ok") == theirs["drifted"],
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def markdown(results: list[dict[str, Any]]) -> str:
    """Timing table, then the verdict comparison of the largest size."""
    header = [
        "rows",
        "runs",
        "profile s",
        "profile peak MB",
        "drift s",
        "drift peak MB",
        "modelworks total s",
        "Evidently s",
        "Evidently peak MB",
        "speed-up (ratio of medians)",
        "per-pair speed-ups",
    ]
    table = []
    for r in results:
        ours, theirs = r["modelworks"], r.get("evidently")
        pairs = r.get("pair_speedups", [])
        table.append(
            [
                f"{r['rows']:,}",
                r["repeats"],
                ours["profile_seconds"],
                round(ours["profile_peak_mb"]),
                ours["drift_seconds"],
                round(ours["drift_peak_mb"]),
                ours["total_seconds"],
                theirs["seconds"] if theirs else "skipped",
                round(theirs["peak_mb"]) if theirs else "skipped",
                f"{r['speedup']:.0f}x" if theirs else "-",
                ", ".join(f"{p:.0f}x" for p in pairs) or "-",
            ]
        )
    lines = [
        f"# Drift: {N_NUMERIC} numeric + {N_CATEGORICAL} categorical features, "
        "reference and batch of the same size",
        "",
        "Command: `.venv/bin/python -m benchmarks.drift`. modelworks total = building the "
        "reference profile + computing drift; each measured in a fresh process (peak memory "
        "includes the data). Evidently: `DataDriftPreset`, `Report.run` only. Times and peaks "
        "are medians over the runs; the speed-up is the ratio of the median times.",
        "",
        markdown_table(header, table),
    ]
    compared = [r for r in results if "verdicts" in r]
    if compared:
        largest = max(compared, key=lambda r: r["rows"])
        lines += ["", *verdict_markdown(largest)]
    return "\n".join(lines)


def verdict_markdown(result: dict[str, Any]) -> list[str]:
    """Agreement counts and every feature where the two tools differ or drift was injected."""
    verdicts = result["verdicts"]
    critical = sum(v["agree_critical"] for v in verdicts)
    flagged = sum(v["agree_flagged"] for v in verdicts)
    rows = [
        [
            v["feature"],
            v["injected"],
            v["modelworks"],
            "; ".join(v["modelworks_reasons"]) or "-",
            "drift" if v["evidently_drifted"] else "no drift",
            f"{v['evidently_method']} {v['evidently_score']:.3g} (threshold "
            f"{v['evidently_threshold']:g})",
        ]
        for v in verdicts
        if v["injected"] != "none" or not (v["agree_critical"] and v["agree_flagged"])
    ]
    return [
        f"## Verdicts at {result['rows']:,} rows",
        "",
        f"Evidently's drifted / not drifted agrees with modelworks' critical / not critical on "
        f"{critical} of {len(verdicts)} features, and with flagged (warn or critical) / ok on "
        f"{flagged}. Features with injected drift or any disagreement:",
        "",
        markdown_table(
            ["feature", "injected", "modelworks", "why", "Evidently", "Evidently statistic"],
            rows,
        ),
    ]


def main() -> None:
    """Parse arguments, run every size, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each tool per size")
    parser.add_argument("--no-evidently", action="store_true", help="modelworks only")
    args = parser.parse_args()

    evidently = not args.no_evidently
    results = [bench(rows, evidently=evidently, repeats=args.repeats) for rows in args.rows]
    text = markdown(results)
    found = targets(results, evidently=evidently)
    path = write_results("drift", {"results": results}, text, targets=found)
    print(text)
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
