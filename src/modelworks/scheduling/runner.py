"""``modelworks schedule run``: the project's schedules, run in process on one machine.

Each due schedule starts its pipeline as a separate ``kedro run`` process, so a failing run
is logged and the scheduler carries on. A use case never runs twice at once: the scheduler
holds an exclusive file lock per use case while its run lasts (the crontab export takes the
same lock), and a schedule that comes due while its use case is busy is recorded as skipped.
Every start, end and skip is appended to ``logs/schedule.jsonl``.

Interrupted (SIGINT, SIGTERM), the scheduler terminates the runs it started, records each as
``interrupted`` with its pipeline, process id and return code, and exits non-zero
(``run_until_signalled``).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from modelworks.scheduling.schedules import Schedule

LOCK_DIR = Path("data") / ".locks"
LOG_DIR = Path("logs")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
TERMINATE_GRACE_SECONDS = 30.0


class Clock(Protocol):
    """Where the scheduler reads the time and waits: the wall clock, or a test's."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Job(Protocol):
    """A started run: ``poll()`` is None while it runs, then its exit code; a process."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class StopSignalError(Exception):
    """The scheduler was asked to stop by a signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


Launcher = Callable[[Schedule, Path], Job]


def launch_kedro(schedule: Schedule, log_file: Path) -> subprocess.Popen[bytes]:
    """``kedro run --pipelines <pipeline>`` in its own process, output to ``log_file``."""
    command = [sys.executable, "-m", "kedro", "run", "--pipelines", schedule.pipeline]
    if schedule.env:
        command += ["--env", schedule.env]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ}
        )


class UseCaseLock:
    """An exclusive, non-blocking lock on a use case, shared with the crontab export."""

    def __init__(self, use_case: str, root: Path) -> None:
        self.path = root / LOCK_DIR / f"{use_case}.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


@dataclass
class _Running:
    schedule: Schedule
    job: Job
    lock: UseCaseLock
    started_at: datetime
    log_file: Path


@dataclass
class Scheduler:
    """Fires each schedule at its cron times; one run per use case at a time."""

    schedules: list[Schedule]
    root: Path
    launch: Launcher = launch_kedro
    clock: Clock = field(default_factory=WallClock)
    poll_seconds: float = 5.0
    _next: dict[str, datetime] = field(default_factory=dict)
    _running: dict[str, _Running] = field(default_factory=dict)

    def __post_init__(self) -> None:
        now = self.clock.now()
        self._next = {s.key: s.next_after(now) for s in self.schedules}

    def tick(self) -> None:
        """Reap finished runs, then start every schedule that is due."""
        now = self.clock.now()
        self._reap(now)
        for schedule in self.schedules:
            if self._next[schedule.key] > now:
                continue
            self._next[schedule.key] = schedule.next_after(now)
            self._start(schedule, now)

    def run(self, *, until: datetime | None = None) -> None:
        """Tick, then sleep until the next fire time (or poll), forever or until ``until``."""
        while until is None or self.clock.now() < until:
            self.tick()
            wake = min(self._next.values())
            wait = (wake - self.clock.now()).total_seconds()
            if self._running:
                wait = min(wait, self.poll_seconds)
            self.clock.sleep(max(wait, 0.0))
        self._reap(self.clock.now())

    def interrupt(self, reason: str, *, grace_seconds: float = TERMINATE_GRACE_SECONDS) -> None:
        """Terminate every run in progress (killed after ``grace_seconds``), release its lock
        and record it as ``interrupted`` with its process id and return code."""
        for use_case, run in list(self._running.items()):
            code = run.job.poll()
            if code is None:
                run.job.terminate()
                try:
                    code = run.job.wait(timeout=grace_seconds)
                except subprocess.TimeoutExpired:
                    run.job.kill()
                    code = run.job.wait()
            run.lock.release()
            del self._running[use_case]
            self._log(
                "interrupted",
                run.schedule,
                self.clock.now(),
                reason=reason,
                pid=run.job.pid,
                exit_code=code,
                started_at=run.started_at.isoformat(),
                log_file=str(run.log_file),
            )

    @property
    def running(self) -> list[str]:
        """Use cases with a run in progress."""
        return sorted(self._running)

    def _start(self, schedule: Schedule, now: datetime) -> None:
        busy = self._running.get(schedule.use_case)
        lock = UseCaseLock(schedule.use_case, self.root)
        if busy is not None or not lock.acquire():
            holder = busy.schedule.key if busy else "another process"
            self._log("skipped", schedule, now, reason=f"{schedule.use_case} is running ({holder})")
            return
        log_file = (
            self.root / LOG_DIR / schedule.use_case / f"{now:%Y%m%dT%H%M%S}_{schedule.name}.log"
        )
        try:
            job = self.launch(schedule, log_file)
        except OSError as exc:
            lock.release()
            self._log("failed", schedule, now, reason=f"could not start: {exc}")
            return
        self._running[schedule.use_case] = _Running(schedule, job, lock, now, log_file)
        self._log("started", schedule, now, log_file=str(log_file))

    def _reap(self, now: datetime) -> None:
        for use_case, run in list(self._running.items()):
            code = run.job.poll()
            if code is None:
                continue
            run.lock.release()
            del self._running[use_case]
            self._log(
                "finished" if code == 0 else "failed",
                run.schedule,
                now,
                exit_code=code,
                started_at=run.started_at.isoformat(),
                log_file=str(run.log_file),
            )

    def _log(self, event: str, schedule: Schedule, now: datetime, **details: Any) -> None:
        record = {
            "at": now.isoformat(),
            "event": event,
            "schedule": schedule.key,
            "pipeline": schedule.pipeline,
            **details,
        }
        path = self.root / LOG_DIR / "schedule.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def run_until_signalled(
    scheduler: Scheduler, *, grace_seconds: float = TERMINATE_GRACE_SECONDS
) -> int:
    """Run ``scheduler`` until SIGINT or SIGTERM; then interrupt its runs and return the exit
    status a process stopped by that signal reports (128 + its number)."""
    try:
        with _signals_raise():
            scheduler.run()
    except StopSignalError as stop:
        signum = stop.signum
    except KeyboardInterrupt:  # a SIGINT that arrived before the handlers were in place
        signum = signal.SIGINT
    else:
        return 0
    # a second signal while the runs are being stopped must not cut the record short
    with _signals_ignored():
        scheduler.interrupt(signal.Signals(signum).name, grace_seconds=grace_seconds)
    return 128 + signum


@contextmanager
def _signals_raise() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise StopSignalError(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def read_log(root: Path) -> list[dict[str, Any]]:
    """Every event the scheduler recorded, oldest first."""
    path = root / LOG_DIR / "schedule.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
