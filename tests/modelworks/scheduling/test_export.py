"""The exported crontab and Airflow DAG run the scheduled pipelines, and Airflow imports it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from modelworks.scheduling.export import airflow_dag, crontab
from modelworks.scheduling.schedules import Schedule

ROOT = Path(__file__).resolve().parents[3]
AIRFLOW_PYTHON = Path(
    os.environ.get("MODELWORKS_AIRFLOW_PYTHON", ROOT / ".venv-airflow/bin/python")
)
SCHEDULES = [
    Schedule(use_case="credit", name="weekly", cron="0 3 * * 1", pipeline="credit_retrain"),
    Schedule(
        use_case="hotel",
        name="nightly",
        cron="30 2 * * *",
        pipeline="hotel_retrain",
        timezone="Europe/Berlin",
        env="prod",
    ),
]
PROJECT = Path("/srv/my project")
PYTHON = PROJECT / ".venv/bin/python"

_INSPECT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.sdk import DAG
dags = {v.dag_id: v for v in vars(module).values() if isinstance(v, DAG)}
print(json.dumps({
    dag_id: {
        "schedule": str(dag.schedule),
        "timezone": str(dag.timezone),
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "tasks": [[t.task_id, t.bash_command, t.pool] for t in dag.tasks],
    }
    for dag_id, dag in dags.items()
}))
"""


def test_crontab_lines_run_each_pipeline_under_its_use_case_lock() -> None:
    lines = crontab(SCHEDULES, root=PROJECT, python=PYTHON).splitlines()
    utc, berlin = lines.index("CRON_TZ=UTC"), lines.index("CRON_TZ=Europe/Berlin")
    weekly, nightly = lines[utc + 1], lines[berlin + 1]
    assert weekly.startswith("0 3 * * 1 ")
    assert "flock -n '/srv/my project/data/.locks/credit.lock'" in weekly
    assert "-m kedro run --pipelines credit_retrain" in weekly
    assert weekly.endswith(">> '/srv/my project/logs/credit/weekly.log' 2>&1")
    assert nightly.startswith("30 2 * * * ") and "--env prod" in nightly


def test_crontab_lines_run_in_a_real_shell(tmp_path: Path) -> None:
    """The command part of a line, run by sh, starts kedro with the pipeline in the project."""
    fake_python = tmp_path / "python"
    fake_python.write_text(f'#!/bin/sh\necho "$PWD $@" > {tmp_path}/ran\n')
    fake_python.chmod(0o755)
    (line,) = [
        entry
        for entry in crontab(SCHEDULES[:1], root=tmp_path, python=fake_python).splitlines()
        if entry.startswith("0 3")
    ]
    subprocess.run(["sh", "-c", line.removeprefix("0 3 * * 1 ")], check=True)
    assert (tmp_path / "ran").read_text().split() == [
        str(tmp_path),
        "-m",
        "kedro",
        "run",
        "--pipelines",
        "credit_retrain",
    ]
    assert (tmp_path / "data" / ".locks" / "credit.lock").exists()


def test_airflow_imports_the_dag_file_and_it_names_the_pipelines(tmp_path: Path) -> None:
    dag_file = tmp_path / "modelworks_dags.py"
    dag_file.write_text(airflow_dag(SCHEDULES, root=PROJECT, python=PYTHON))
    assert AIRFLOW_PYTHON.is_file(), (
        f"{AIRFLOW_PYTHON} missing: `make test` builds .venv-airflow from "
        "tests/requirements/airflow.txt"
    )
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", _INSPECT, str(dag_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow")},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    dags = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(dags) == {"modelworks__credit__weekly", "modelworks__hotel__nightly"}
    weekly = dags["modelworks__credit__weekly"]
    assert weekly["schedule"] == "0 3 * * 1"
    assert weekly["max_active_runs"] == 1 and weekly["catchup"] is False
    ((task_id, command, pool),) = weekly["tasks"]
    assert task_id == "credit_retrain" and pool == "modelworks_credit"
    assert command == (
        "cd '/srv/my project' && '/srv/my project/.venv/bin/python' -m kedro run "
        "--pipelines credit_retrain"
    )
    nightly = dags["modelworks__hotel__nightly"]
    assert "Europe/Berlin" in nightly["timezone"]
    assert nightly["tasks"][0][1].endswith("--pipelines hotel_retrain --env prod")
