"""``modelworks schedule run`` through the installed console script, stopped by a signal while
its child ``kedro run`` runs: the scheduler ends the child and records how it ended."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import suppress
from pathlib import Path

import pytest

from modelworks.scheduling.runner import UseCaseLock, read_log
from tests.project import VENV_BIN, copy_project, project_env

# croniter's sixth field is seconds: the schedule is due within a second of the start, so the
# test need not wait for a whole minute. A run lasts long past the signal: kedro only imports.
SCHEDULES = """\
credit_risk:
  - name: every_second
    cron: "* * * * * *"
    pipeline: credit_risk_score
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project copy whose only schedule fires every second."""
    root = copy_project(tmp_path / "project")
    (root / "conf" / "base" / "schedules.yml").write_text(SCHEDULES)
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_a_started_run(scheduler: subprocess.Popen[str], root: Path) -> None:
    deadline = time.monotonic() + 120
    while not any(event["event"] == "started" for event in read_log(root)):
        assert scheduler.poll() is None, scheduler.communicate()
        assert time.monotonic() < deadline, "no run started"
        time.sleep(0.1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_schedule_run_ends_its_child_and_records_it(
    project: Path, signum: signal.Signals
) -> None:
    scheduler = subprocess.Popen(
        [str(VENV_BIN / "modelworks"), "schedule", "run", "--poll", "0.2"],
        cwd=project,
        env=project_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: nothing it started outlives the test
    )
    try:
        _wait_for_a_started_run(scheduler, project)
        scheduler.send_signal(signum)  # to the scheduler alone, as `kill <pid>` would
        scheduler.communicate(timeout=60)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait()

    assert scheduler.returncode == 128 + signum
    # every other fire found the use case busy: skipped, and nothing else
    log = [event for event in read_log(project) if event["event"] != "skipped"]
    assert [event["event"] for event in log] == ["started", "interrupted"]
    started, end = log
    assert (end["schedule"], end["pipeline"], end["reason"]) == (
        "credit_risk.every_second",
        "credit_risk_score",
        signal.Signals(signum).name,
    )
    assert end["exit_code"] == -signal.SIGTERM  # the child was terminated, not left running
    assert isinstance(end["pid"], int) and not _alive(end["pid"])
    assert end["started_at"] == started["at"] and end["log_file"] == started["log_file"]
    assert Path(end["log_file"]).is_file()
    lock = UseCaseLock("credit_risk", project)  # the use case is free for the next run
    assert lock.acquire()
    lock.release()
