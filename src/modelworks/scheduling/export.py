"""``modelworks schedule export``: the same schedules for cron or for Airflow.

Both run exactly what ``modelworks schedule run`` runs: ``kedro run --pipelines <pipeline>``
in the project, one run per use case at a time. Cron gets it through ``flock`` on the lock
file the in-process scheduler uses; Airflow through ``max_active_runs=1`` and a pool slot per
use case.

Airflow gets one task per scheduled pipeline rather than kedro-airflow's task per node: a
retrain pipeline decides at run time whether to train, and its nodes hand each other data in
memory, which node-level tasks in separate workers cannot do.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from modelworks.scheduling.runner import LOCK_DIR, LOG_DIR
from modelworks.scheduling.schedules import Schedule


def kedro_command(schedule: Schedule, *, root: Path, python: Path) -> str:
    """The shell command one schedule runs, from any working directory."""
    parts = [str(python), "-m", "kedro", "run", "--pipelines", schedule.pipeline]
    if schedule.env:
        parts += ["--env", schedule.env]
    return f"cd {shlex.quote(str(root))} && " + " ".join(shlex.quote(p) for p in parts)


def crontab(schedules: list[Schedule], *, root: Path, python: Path) -> str:
    """crontab lines: each schedule's command under the use case's lock, output to a log."""
    lines = [
        "# modelworks schedules (modelworks schedule export --to crontab)",
        f"# project: {root}",
    ]
    by_zone: dict[str, list[Schedule]] = {}
    for schedule in schedules:
        by_zone.setdefault(schedule.timezone, []).append(schedule)
    for zone, members in by_zone.items():
        lines.append(f"CRON_TZ={zone}")
        for schedule in members:
            lock = root / LOCK_DIR / f"{schedule.use_case}.lock"
            log = root / LOG_DIR / schedule.use_case / f"{schedule.name}.log"
            command = kedro_command(schedule, root=root, python=python)
            folders = " ".join(shlex.quote(str(p)) for p in (log.parent, lock.parent))
            lines.append(
                f"{schedule.cron} mkdir -p {folders}"
                f" && flock -n {shlex.quote(str(lock))} sh -c {shlex.quote(command)}"
                f" >> {shlex.quote(str(log))} 2>&1"
            )
    return "\n".join(lines) + "\n"


_DAG = '''"""modelworks schedules as Airflow DAGs (modelworks schedule export --to airflow).

Project: {root}
Each DAG runs one scheduled Kedro pipeline in the project's environment; a use case never
runs twice at once (max_active_runs=1 and one pool slot per use case: create the pools with
`airflow pools set modelworks_<use_case> 1 "modelworks"`).
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

SCHEDULES = {schedules!r}

for spec in SCHEDULES:
    with DAG(
        dag_id=spec["dag_id"],
        schedule=spec["cron"],
        start_date=pendulum.datetime(2024, 1, 1, tz=spec["timezone"]),
        catchup=False,
        max_active_runs=1,
        tags=["modelworks", spec["use_case"]],
        doc_md=f"Runs `kedro run --pipelines {{spec['pipeline']}}` on `{{spec['cron']}}`.",
    ) as dag:
        BashOperator(
            task_id=spec["pipeline"],
            bash_command=spec["command"],
            pool=f"modelworks_{{spec['use_case']}}",
        )
    globals()[spec["dag_id"]] = dag
'''


def airflow_dag(schedules: list[Schedule], *, root: Path, python: Path) -> str:
    """A DAG file defining one DAG per schedule, named ``modelworks__<use_case>__<name>``."""
    specs = [
        {
            "dag_id": f"modelworks__{s.use_case}__{s.name}",
            "use_case": s.use_case,
            "pipeline": s.pipeline,
            "cron": s.cron,
            "timezone": s.timezone,
            "command": kedro_command(s, root=root, python=python),
        }
        for s in schedules
    ]
    return _DAG.format(root=root, schedules=specs)
