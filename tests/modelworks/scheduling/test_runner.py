"""The in-process scheduler on a controllable clock: fire times, failures, no overlap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from modelworks.scheduling.runner import Scheduler, UseCaseLock, read_log
from modelworks.scheduling.schedules import Schedule, parse_schedules

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday


@dataclass
class FakeClock:
    """Time moves only when the scheduler sleeps."""

    moment: datetime = START
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=max(seconds, 1.0))


@dataclass
class FakeJob:
    """A run that lasts ``duration`` on the fake clock and then exits with ``code``."""

    clock: FakeClock
    duration: timedelta
    code: int
    started: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock.now()

    pid: int = 0

    def poll(self) -> int | None:
        return self.code if self.clock.now() >= self.started + self.duration else None

    def terminate(self) -> None:
        self.code, self.duration = -15, timedelta(0)

    def kill(self) -> None:
        self.terminate()

    def wait(self, timeout: float | None = None) -> int:
        return self.code


@dataclass
class FakeLauncher:
    """Records every launch; each schedule's runs take a fixed time and may fail."""

    clock: FakeClock
    durations: dict[str, timedelta]
    codes: dict[str, int] = field(default_factory=dict)
    launched: list[tuple[str, datetime]] = field(default_factory=list)

    def __call__(self, schedule: Schedule, log_file: Path) -> FakeJob:
        self.launched.append((schedule.key, self.clock.now()))
        return FakeJob(self.clock, self.durations[schedule.name], self.codes.get(schedule.name, 0))


def schedule(name: str, cron: str, use_case: str = "credit", pipeline: str = "p") -> Schedule:
    return Schedule(use_case=use_case, name=name, cron=cron, pipeline=pipeline)


def test_schedules_fire_at_their_cron_times(tmp_path: Path) -> None:
    clock = FakeClock()
    hourly = schedule("hourly", "0 * * * *", use_case="a")
    daily = schedule("daily", "30 6 * * *", use_case="b")
    launcher = FakeLauncher(clock, {"hourly": timedelta(minutes=5), "daily": timedelta(minutes=5)})
    scheduler = Scheduler([hourly, daily], tmp_path, launch=launcher, clock=clock, poll_seconds=60)

    scheduler.run(until=START + timedelta(hours=24))

    hourly_fires = [at for key, at in launcher.launched if key == "a.hourly"]
    daily_fires = [at for key, at in launcher.launched if key == "b.daily"]
    assert hourly_fires == [START + timedelta(hours=h) for h in range(1, 24)]
    assert daily_fires == [START + timedelta(hours=6, minutes=30)]


def test_a_use_case_never_runs_twice_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    # Every 10 minutes, but each run takes 25: two of every three fires find it busy.
    frequent = schedule("frequent", "*/10 * * * *")
    other = schedule("other", "5 * * * *")  # same use case, another pipeline
    launcher = FakeLauncher(
        clock, {"frequent": timedelta(minutes=25), "other": timedelta(minutes=1)}
    )
    scheduler = Scheduler(
        [frequent, other], tmp_path, launch=launcher, clock=clock, poll_seconds=30
    )

    scheduler.run(until=START + timedelta(hours=2))

    def starts(key: str) -> list[datetime]:
        return [at for k, at in launcher.launched if k == key]

    assert starts("credit.frequent") == [START + timedelta(minutes=m) for m in (10, 40, 70, 100)]
    # :05 finds the use case free once; at 1:05 the 0:40 run ends just in time
    assert starts("credit.other") == [START + timedelta(minutes=m) for m in (5, 65)]
    log = read_log(tmp_path)
    skipped = [e for e in log if e["event"] == "skipped"]
    assert skipped and all("credit is running" in e["reason"] for e in skipped)
    # no two runs of the use case overlap in time
    runs = sorted(
        (datetime.fromisoformat(e["started_at"]), datetime.fromisoformat(e["at"]))
        for e in log
        if e["event"] == "finished"
    )
    assert all(end <= next_start for (_, end), (next_start, _) in pairwise(runs))


def test_a_failed_run_is_logged_and_the_next_one_still_fires(tmp_path: Path) -> None:
    clock = FakeClock()
    flaky = schedule("flaky", "0 * * * *")
    launcher = FakeLauncher(clock, {"flaky": timedelta(minutes=2)}, codes={"flaky": 1})
    scheduler = Scheduler([flaky], tmp_path, launch=launcher, clock=clock, poll_seconds=30)

    scheduler.run(until=START + timedelta(hours=3, minutes=10))

    assert len(launcher.launched) == 3
    failures = [e for e in read_log(tmp_path) if e["event"] == "failed"]
    assert [e["exit_code"] for e in failures] == [1, 1, 1]


def test_another_process_holding_the_lock_blocks_the_run(tmp_path: Path) -> None:
    clock = FakeClock()
    hourly = schedule("hourly", "0 * * * *")
    launcher = FakeLauncher(clock, {"hourly": timedelta(minutes=1)})
    held = UseCaseLock("credit", tmp_path)
    assert held.acquire()  # e.g. the same pipeline started from cron
    scheduler = Scheduler([hourly], tmp_path, launch=launcher, clock=clock, poll_seconds=30)
    scheduler.run(until=START + timedelta(hours=1, minutes=30))
    assert launcher.launched == []
    held.release()
    scheduler.run(until=START + timedelta(hours=2, minutes=30))
    assert [at for _, at in launcher.launched] == [START + timedelta(hours=2)]


def test_schedule_configuration_is_checked_against_the_project() -> None:
    config = {"credit": [{"name": "weekly", "cron": "0 3 * * 1", "pipeline": "credit_retrain"}]}
    (parsed,) = parse_schedules(config, use_cases=["credit"], pipelines=["credit_retrain"])
    assert parsed.next_after(START) == datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a cron expression"):
        parse_schedules(
            {"credit": [{"name": "w", "cron": "61 * * * *", "pipeline": "credit_retrain"}]},
            use_cases=["credit"],
            pipelines=["credit_retrain"],
        )
    with pytest.raises(ValueError, match="pipeline 'nope', which is not registered"):
        parse_schedules(
            {"credit": [{"name": "w", "cron": "0 3 * * 1", "pipeline": "nope"}]},
            use_cases=["credit"],
            pipelines=["credit_retrain"],
        )
    with pytest.raises(ValueError, match="names use case 'debit'"):
        parse_schedules({"debit": []}, use_cases=["credit"], pipelines=[])
    with pytest.raises(ValueError, match="croon"):
        parse_schedules(
            {"credit": [{"name": "w", "croon": "0 3 * * 1", "pipeline": "credit_retrain"}]},
            use_cases=["credit"],
            pipelines=["credit_retrain"],
        )


def test_time_zones_move_the_fire_time() -> None:
    berlin = Schedule(
        use_case="c", name="n", cron="0 3 * * *", pipeline="p", timezone="Europe/Berlin"
    )
    assert berlin.next_after(START) == datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


# A scheduler in its own process whose run is a stand-in child (sleep) started right away.
_SCHEDULER = """
import subprocess, sys
from datetime import datetime, timedelta, UTC
from pathlib import Path
from modelworks.scheduling.runner import Scheduler, run_until_signalled
from modelworks.scheduling.schedules import Schedule

class Soon:
    def now(self):
        return datetime.now(UTC)
    def sleep(self, seconds):
        import time
        time.sleep(min(seconds, 0.2))

def launch(schedule, log_file):
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])

item = Schedule(use_case="credit", name="minutely", cron="* * * * *", pipeline="credit_train")
scheduler = Scheduler([item], Path(sys.argv[1]), launch=launch, clock=Soon(), poll_seconds=0.2)
scheduler._next[item.key] = Soon().now()  # due now rather than at the next minute
sys.exit(run_until_signalled(scheduler, grace_seconds=10))
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_terminates_the_running_child_and_records_it(
    tmp_path: Path, signum: signal.Signals
) -> None:
    scheduler = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_SCHEDULER), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not any(e["event"] == "started" for e in read_log(tmp_path)):
        assert scheduler.poll() is None, scheduler.communicate()[0].decode()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)

    scheduler.send_signal(signum)
    output, _ = scheduler.communicate(timeout=60)

    assert scheduler.returncode == 128 + signum, output.decode()
    log = read_log(tmp_path)
    assert [e["event"] for e in log] == ["started", "interrupted"]
    end = log[-1]
    assert end["pipeline"] == "credit_train"
    assert end["schedule"] == "credit.minutely"
    assert end["reason"] == signal.Signals(signum).name
    assert end["exit_code"] == -signal.SIGTERM  # the child was terminated
    assert isinstance(end["pid"], int) and not _pid_alive(end["pid"])
    # the use case's lock is free again
    lock = UseCaseLock("credit", tmp_path)
    assert lock.acquire()
    lock.release()
