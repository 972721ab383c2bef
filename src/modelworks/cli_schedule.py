"""``modelworks schedule run|export``: the project's schedules (conf/*/schedules.yml), run in
this process or exported as crontab lines or an Airflow DAG.

The group joins ``modelworks.cli``'s, which imports this module; its commands take the shared
helpers from there when they run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from modelworks.project import Project


@click.group()
def schedule() -> None:
    """Run the project's schedules (conf/*/schedules.yml) or export them."""


@schedule.command("run")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between checks on runs.")
@click.pass_context
def schedule_run(ctx: click.Context, poll: float) -> None:
    """Run every schedule in this process until interrupted; one run per use case at a time."""
    from modelworks.cli import _project

    project = _project(ctx)
    from modelworks.scheduling.runner import Scheduler, run_until_signalled

    schedules = _schedules(project)
    scheduler = Scheduler(schedules, project.root, poll_seconds=poll)
    for item in schedules:
        click.echo(f"{item.key}: {item.pipeline} on '{item.cron}' ({item.timezone})")
    click.echo("log: logs/schedule.jsonl; Ctrl-C stops (runs in progress are terminated)")
    code = run_until_signalled(scheduler)
    click.echo(f"stopped (exit {code}); interrupted runs are in logs/schedule.jsonl", err=True)
    sys.exit(code)


@schedule.command("export")
@click.option("--to", "target", type=click.Choice(["crontab", "airflow"]), required=True)
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Write to a file.")
@click.pass_context
def schedule_export(ctx: click.Context, target: str, output: Path | None) -> None:
    """Print (or write) crontab lines or an Airflow DAG file that run the same pipelines."""
    from modelworks.cli import _project

    project = _project(ctx)
    from modelworks.scheduling.export import airflow_dag, crontab

    render = crontab if target == "crontab" else airflow_dag
    text = render(_schedules(project), root=project.root, python=Path(sys.executable))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}")


def _schedules(project: Project) -> list[Any]:
    from modelworks.cli import ModelworksError

    try:
        schedules = project.schedules()
    except ValueError as exc:
        raise ModelworksError(str(exc)) from None
    if not schedules:
        raise ModelworksError("no schedules: declare them in conf/base/schedules.yml")
    return schedules
