"""Runs left RUNNING by a killed process are marked KILLED by the next pipeline run.

A process killed outright (``kill -9``, the OOM killer, a lost machine) never ends its MLflow
runs: the pipeline's run, and the candidate and fold runs nested under it, stay RUNNING for
good. Every pipeline run is therefore tagged with the host and process that run it
(``modelworks.host``, ``modelworks.pid`` and, on Linux, the process's start time in
``modelworks.pid_started``, so a reused pid is not taken for the old process), and before each
pipeline run the tracking store is searched for RUNNING runs whose process is gone:

- a run tagged with this host whose pid no longer runs (or runs a later-started process);
- a run with no pid tag (started before this hook existed, or killed in the instant between
  its start and its tagging) that started more than ``max_untagged_age_hours`` ago; runs
  tagged with another host are left to that host's next run;
- every run nested under a stale run (candidate and fold runs carry no pid tag of their own:
  their parent's process is theirs), and a RUNNING run whose parent has already ended.

Each is ended with status KILLED and a ``modelworks.recovery`` tag saying why.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from mlflow import MlflowClient
from mlflow.entities import Run, RunStatus, ViewType

logger = logging.getLogger(__name__)

TAG_HOST = "modelworks.host"
TAG_PID = "modelworks.pid"
TAG_PID_STARTED = "modelworks.pid_started"
TAG_RECOVERY = "modelworks.recovery"
TAG_PARENT = "mlflow.parentRunId"
DEFAULT_MAX_UNTAGGED_AGE_HOURS = 24.0
_RUNNING = RunStatus.to_string(RunStatus.RUNNING)
_KILLED = RunStatus.to_string(RunStatus.KILLED)


def process_start_ticks(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields resume after the last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None  # field 22: starttime


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether ``pid`` still runs on this host (and is the process that started at ``started``)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    if started is not None:
        now = process_start_ticks(pid)
        if now is not None and now != started:
            return False  # the pid was reused by a later process
    return True


def process_tags() -> dict[str, str]:
    """The tags that name this process: host, pid and (Linux) the pid's start time."""
    tags = {TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid())}
    started = process_start_ticks(os.getpid())
    if started is not None:
        tags[TAG_PID_STARTED] = started
    return tags


def _why_stale(run: Run, *, host: str, max_untagged_age_s: float, now_ms: int) -> str | None:
    """Why a RUNNING run with no running parent is stale, or None while it may still run."""
    tags = run.data.tags
    pid = tags.get(TAG_PID)
    if pid is not None:
        if tags.get(TAG_HOST) != host:
            return None
        try:
            alive = process_alive(int(pid), tags.get(TAG_PID_STARTED))
        except ValueError:
            alive = False
        return None if alive else f"process {pid} on {host} no longer runs"
    age_s = (now_ms - (run.info.start_time or now_ms)) / 1000
    if age_s > max_untagged_age_s:
        limit_h = max_untagged_age_s / 3600
        return f"RUNNING for {age_s / 3600:.1f} h with no process tag (limit {limit_h:g} h)"
    return None


def find_stale_runs(
    client: MlflowClient,
    *,
    max_untagged_age_hours: float = DEFAULT_MAX_UNTAGGED_AGE_HOURS,
    exclude: Iterable[str] = (),
) -> dict[str, str]:
    """RUNNING runs of every experiment whose process is gone: run id -> why."""
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    running: dict[str, Run] = {}
    for start in range(0, len(experiments), 100):  # search_runs takes at most 100 experiments
        token = None
        while True:
            page = client.search_runs(
                experiments[start : start + 100],
                f"attributes.status = '{_RUNNING}'",
                run_view_type=ViewType.ALL,
                max_results=1000,
                page_token=token,
            )
            running.update((run.info.run_id, run) for run in page)
            token = page.token
            if not token:
                break
    host = socket.gethostname()
    now_ms = int(time.time() * 1000)
    excluded = set(exclude)
    max_age_s = max_untagged_age_hours * 3600
    verdicts: dict[str, str | None] = {}

    def verdict(run_id: str) -> str | None:
        if run_id in verdicts:
            return verdicts[run_id]
        verdicts[run_id] = None  # a cycle of parent tags (never made by MLflow) ends here
        run = running[run_id]
        parent = run.data.tags.get(TAG_PARENT)
        why: str | None
        if run_id in excluded:
            why = None
        elif parent is None or TAG_PID in run.data.tags:
            # a run tagged with its own process (a pipeline run, nested or not) is judged by it
            why = _why_stale(run, host=host, max_untagged_age_s=max_age_s, now_ms=now_ms)
        elif parent in running:
            why = verdict(parent)
            why = f"parent run {parent} is stale: {why}" if why else None
        else:
            why = _parent_ended(client, parent)
        verdicts[run_id] = why
        return why

    stale = {run_id: why for run_id in running if (why := verdict(run_id)) is not None}
    return dict(sorted(stale.items(), key=lambda item: -_depth(item[0], running)))


def _depth(run_id: str, running: dict[str, Run]) -> int:
    """How many RUNNING ancestors a run has (children are ended before their parents)."""
    seen = {run_id}
    parent = running[run_id].data.tags.get(TAG_PARENT)
    while parent is not None and parent in running and parent not in seen:
        seen.add(parent)
        parent = running[parent].data.tags.get(TAG_PARENT)
    return len(seen) - 1


def _parent_ended(client: MlflowClient, parent: str) -> str | None:
    try:
        status = client.get_run(parent).info.status
    except Exception:
        return f"parent run {parent} is gone"
    return None if status == _RUNNING else f"parent run {parent} ended {status}"


def mark_killed(client: MlflowClient, stale: dict[str, str], *, by: str | None = None) -> None:
    """End each stale run with status KILLED and a tag saying why (children before parents)."""
    for run_id, why in stale.items():
        note = f"marked KILLED at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}: {why}"
        if by:
            note += f" (found by run {by})"
        try:
            client.set_tag(run_id, TAG_RECOVERY, note)
            client.set_terminated(run_id, status=_KILLED)
        except Exception:
            logger.warning("Could not mark stale run %s KILLED", run_id, exc_info=True)
            continue
        logger.warning("MLflow run %s was left RUNNING (%s): marked KILLED", run_id, why)


class StaleRunRecoveryHook:
    """Tags each pipeline run with its process; marks runs of dead processes KILLED.

    Runs ``trylast`` at ``before_pipeline_run``, so kedro-mlflow (whose own
    ``before_pipeline_run`` starts the pipeline's run and sets the tracking URI in
    ``after_context_created``) has started the run this one tags and excludes.
    """

    def __init__(self, max_untagged_age_hours: float = DEFAULT_MAX_UNTAGGED_AGE_HOURS) -> None:
        self.max_untagged_age_hours = max_untagged_age_hours

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        active = mlflow.active_run()
        current: list[str] = []
        if active is not None:
            mlflow.set_tags(process_tags())
            current.append(active.info.run_id)
            parent = active.data.tags.get(TAG_PARENT)
            if parent:
                current.append(parent)  # a run that hosts this one is not stale either
        try:
            client = MlflowClient()
            stale = find_stale_runs(
                client, max_untagged_age_hours=self.max_untagged_age_hours, exclude=current
            )
            mark_killed(client, stale, by=current[0] if current else None)
        except Exception:
            logger.warning("Could not look for stale MLflow runs", exc_info=True)
