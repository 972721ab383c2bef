"""What every benchmark shares: isolated measurement of time and peak memory, and results files.

Each measured call runs in a fresh spawned process, so its peak resident memory is its own and
not the high-water mark of whatever ran before it in the benchmark. Timings from one run are
compared with each other (ratios), never with figures taken on another day: the machine is
shared and noisy.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import platform
import resource
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Target:
    """One performance target and what this run measured against it.

    ``holds`` is computed here from the measurement, never written by hand: ``at_most`` targets
    hold when ``measured <= target``, ``at_least`` ones when ``measured >= target``. A target
    whose measurement could not be taken (``measured=None``: the run did not finish, or its
    peer was not installed) does not hold; ``note`` says why.
    """

    name: str
    measured: float | None
    target: float
    unit: str
    bound: Literal["at_most", "at_least"] = "at_most"
    note: str = ""

    @property
    def holds(self) -> bool:
        if self.measured is None:
            return False
        if self.bound == "at_most":
            return self.measured <= self.target
        return self.measured >= self.target

    def as_dict(self) -> dict[str, Any]:
        """The results file's form: name, measured, target, unit, holds (+ bound, note)."""
        out = {
            "name": self.name,
            "measured": None if self.measured is None else float(self.measured),
            "target": float(self.target),
            "unit": self.unit,
            "holds": self.holds,
            "bound": self.bound,
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Measurement:
    """Wall time of the call and the peak resident memory of the process that made it."""

    seconds: float
    peak_mb: float
    result: Any = None


def _child(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], pipe: Any
) -> None:
    try:
        start = time.perf_counter()
        result = func(*args, **kwargs)
        seconds = time.perf_counter() - start
        pipe.send(("ok", seconds, peak_resident_mb(), result))
    except BaseException as exc:  # reported to the parent, which raises it
        pipe.send(("error", 0.0, 0.0, f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


def peak_resident_mb() -> float:
    """This process's own peak resident memory (VmHWM).

    Not ``ru_maxrss``: Linux carries it across fork and exec, so a child would report at least
    its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Measurement:
    """Run ``func(*args, **kwargs)`` in a fresh process; its time, peak memory and result.

    ``func`` must be importable by name (a module-level function) and its result picklable.
    The peak includes the interpreter and the imports ``func`` makes, as a user would see it.
    """
    context = mp.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(func, args, kwargs, send))
    process.start()
    send.close()
    status, seconds, peak_mb, result = receive.recv()
    process.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(func, '__name__', func)} failed in its process: {result}")
    return Measurement(seconds=seconds, peak_mb=peak_mb, result=result)


def machine() -> dict[str, Any]:
    """Where the figures were taken."""
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def command_line() -> str:
    """The command that is running, as a reader would type it (``.venv/bin/python -m ...``)."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if argv and Path(argv[0]).name.startswith("python"):
        argv[0] = ".venv/bin/python"
    return shlex.join(argv)


def write_results(
    name: str,
    payload: dict[str, Any],
    markdown: str,
    *,
    targets: Sequence[Target] = (),
) -> Path:
    """``benchmarks/results/<name>.json`` and ``<name>.md`` (a table), written atomically.

    The JSON holds the payload, the machine, the command that produced it and ``targets``: each
    target with its measured value and whether it holds. ``python -m benchmarks.report``
    builds the README's performance table from these files.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "command": command_line(),
        "machine": machine(),
        "targets": [t.as_dict() for t in targets],
        **payload,
    }
    _write_atomically(path, json.dumps(document, indent=2, default=_plain) + "\n")
    _write_atomically(RESULTS / f"{name}.md", markdown.rstrip() + "\n")
    return path


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub table; floats with three significant decimals."""

    def cell(value: Any) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, Measurement):
        return asdict(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)
