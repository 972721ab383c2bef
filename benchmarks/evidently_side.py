"""Evidently's DataDriftPreset on the benchmark's parquet files; run by benchmarks/drift.py.

Runs under benchmarks/.venv-evidently (see benchmarks/requirements-evidently.txt), never the
project's environment, so it imports nothing from modelworks: only pandas and Evidently.
Prints nothing; writes one JSON file with the time of ``Report.run``, the peak resident
memory of this process (data included, as for the modelworks side) and each column's
statistic and verdict.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def run(reference: Path, current: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Evidently's verdict per column, the seconds ``Report.run`` took and the peak memory."""
    definition = DataDefinition(
        numerical_columns=spec["numeric"], categorical_columns=spec["categorical"]
    )
    reference_data = Dataset.from_pandas(pd.read_parquet(reference), data_definition=definition)
    current_data = Dataset.from_pandas(pd.read_parquet(current), data_definition=definition)

    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data, reference_data)
    seconds = time.perf_counter() - start

    columns = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        method, threshold, score = config["method"], config["threshold"], metric["value"]
        # Tests report a p-value (drift below the threshold), distances a size (at or above).
        drifted = score <= threshold if "p_value" in method else score >= threshold
        columns[config["column"]] = {
            "method": method,
            "threshold": threshold,
            "score": score,
            "drifted": bool(drifted),
        }
    return {
        "evidently": version("evidently"),
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "columns": columns,
    }


def peak_mb() -> float:
    """Peak resident memory of this process, in MB (VmHWM: ru_maxrss would include the
    parent's size, which survives fork and exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Read the paths, run, write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--current", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True, help="JSON: numeric, categorical")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    result = run(args.reference, args.current, spec)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
