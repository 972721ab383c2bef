"""Fresh ``make test``: clone, install everything, lint, type-check and the whole test suite.

    .venv/bin/python -m benchmarks.test_suite                  # the repository's HEAD
    .venv/bin/python -m benchmarks.test_suite --limit 1800     # wall-clock limit, seconds

The repository's HEAD (committed work only) is cloned into a temporary folder and ``make test``
runs there from nothing: a new ``.venv`` and ``.venv-airflow``, ruff, mypy and pytest. The
target: the whole of it within 10 minutes on this machine. The payload holds the wall time,
pytest's summary line with its counts, and the exit status; a ``make test`` that fails or runs
past the limit is not a measurement of the target. Results: ``benchmarks/results/test_suite``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import Target, markdown_table, write_results

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 600.0
# pytest's last line: "==== 960 passed, 3 skipped, 2 warnings in 402.17s (0:06:42) ====" (no
# bars under -q)
_SUMMARY = re.compile(
    r"^=*\s*(?P<summary>\d+ (?:passed|failed|errors?|skipped)\b.*? in [\d.]+s\b.*?)\s*=*$",
    re.MULTILINE,
)
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


@dataclass(frozen=True)
class Outcome:
    """How one ``make test`` went: its exit status (None: killed at the limit), wall time and
    output."""

    returncode: int | None
    seconds: float
    output: str


def summary_line(output: str) -> str | None:
    """pytest's final summary (``960 passed, 3 skipped in 402.17s``), if it printed one."""
    found = _SUMMARY.findall(output)
    return found[-1] if found else None


def counts(summary: str | None) -> dict[str, int]:
    """``{"passed": 960, "skipped": 3, ...}`` from a summary line (``error`` as ``errors``)."""
    if summary is None:
        return {}
    parsed: dict[str, int] = {}
    for number, kind in _COUNT.findall(summary):
        key = "errors" if kind.startswith("error") else kind
        parsed[key] = parsed.get(key, 0) + int(number)
    return parsed


def clone(repo: Path, destination: Path) -> Path:
    """The committed HEAD of ``repo``, cloned into ``destination/repo``."""
    target = destination / "repo"
    subprocess.run(["git", "clone", "-q", str(repo), str(target)], check=True)
    return target


def make_test(root: Path, limit_s: float) -> Outcome:
    """``make test`` in ``root``, killed (with everything it started) past ``limit_s``."""
    start = time.perf_counter()
    process = subprocess.Popen(
        ["make", "test"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=limit_s)
        returncode: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        output, _ = process.communicate()
        returncode = None
    return Outcome(returncode, time.perf_counter() - start, output)


def stop_services(root: Path) -> None:
    """What ``make test`` started for the production-profile tests, if it was cut short."""
    subprocess.run(["scripts/test-services.sh", "down"], cwd=root, check=False)


def report(outcome: Outcome, limit_s: float) -> tuple[dict[str, Any], str, Target]:
    """The payload, the markdown table and the target of one ``make test``."""
    summary = summary_line(outcome.output)
    found = counts(summary)
    if outcome.returncode == 0:
        target = Target("fresh make test incl. install", outcome.seconds, TARGET_SECONDS, "s")
    else:
        why = (
            f"killed at the {limit_s:.0f} s limit"
            if outcome.returncode is None
            else f"make test exited {outcome.returncode}"
        )
        target = Target("fresh make test incl. install", None, TARGET_SECONDS, "s", note=why)
    payload = {
        "seconds": round(outcome.seconds, 1),
        "exit_status": outcome.returncode,
        "pytest_summary": summary,
        "passed": found.get("passed", 0),
        "failed": found.get("failed", 0) + found.get("errors", 0),
        "counts": found,
        "limit_s": limit_s,
        "output_tail": outcome.output[-4000:],
    }
    markdown = markdown_table(
        ["what", "seconds", "exit status", "pytest"],
        [["fresh make test", round(outcome.seconds, 1), outcome.returncode, summary or "-"]],
    )
    return payload, markdown, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="repository to clone (HEAD)")
    parser.add_argument(
        "--limit", type=float, default=3 * TARGET_SECONDS, help="wall-clock limit, seconds"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelworks-make-test-") as tmp:
        root = clone(args.repo, Path(tmp))
        try:
            outcome = make_test(root, args.limit)
        finally:
            stop_services(root)
    payload, markdown, target = report(outcome, args.limit)
    path = write_results("test_suite", payload, markdown, targets=[target])
    print(markdown)
    print(f"{target.name}: {target.measured} s (target <= {TARGET_SECONDS:.0f} s) -> {path}")


if __name__ == "__main__":
    main()
