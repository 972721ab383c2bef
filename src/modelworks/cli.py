"""``modelworks``: the registry and serving commands, run from inside the project.

    modelworks history MODEL
    modelworks promote MODEL VERSION [--force --reason "..."]
    modelworks rollback MODEL --reason "..."
    modelworks lineage MODEL@champion          (or MODEL@<alias>, MODEL@<version>)
    modelworks reproduce MODEL@champion
    modelworks serve MODEL [--port 8000]
    modelworks new NAME --task TASK            (a use case declared in YAML alone)

The same commands run as ``kedro <command>`` inside the project.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from modelworks.cli_schedule import schedule
from modelworks.cli_serve import serve
from modelworks.cli_servers import servers
from modelworks.project import Project, ProjectError, load_project

# A command prints its answer, not Kedro's start-up log (set before Kedro configures logging).
os.environ.setdefault("KEDRO_LOGGING_CONFIG", str(Path(__file__).with_name("cli_logging.yml")))
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")


class ModelworksError(click.ClickException):
    """A failure the user can act on: printed as one message, exit status 1."""


def _project(ctx: click.Context) -> Project:
    try:
        return load_project(env=(ctx.obj or {}).get("env"))
    except ProjectError as exc:
        raise ModelworksError(str(exc)) from None


def _reference(text: str) -> tuple[str, str]:
    """``name@alias``, ``name@3`` or ``name`` (the champion)."""
    name, _, ref = text.partition("@")
    return name, ref or "champion"


@click.group()
@click.option("--env", default=None, help="Kedro configuration environment (default: local).")
@click.pass_context
def main(ctx: click.Context, env: str | None) -> None:
    """modelworks: promotion gates, audit trail, lineage, reproduction and serving."""
    # Warnings go through logging, where the project's filter drops libraries' notices.
    logging.captureWarnings(True)
    ctx.ensure_object(dict)
    ctx.obj["env"] = env


@main.command()
@click.argument("model")
@click.argument("version")
@click.option("--force", is_flag=True, help="Move the alias even if checks fail.")
@click.option("--reason", default=None, help="Why (required with --force; recorded).")
@click.pass_context
def promote(ctx: click.Context, model: str, version: str, force: bool, reason: str | None) -> None:
    """Run the gate on MODEL VERSION and make it champion if every check passes."""
    if force and not reason:
        raise click.UsageError("--force needs --reason: a forced promotion records why")
    project = _project(ctx)
    from modelworks.registry.promotion import RegistryError
    from modelworks.registry.promotion import promote as run_gate

    _, params = _use_case(project, model)
    _require_registered(model)
    try:
        decision = run_gate(
            model, version, params.registry.gate, force_reason=reason if force else None
        )
    except RegistryError as exc:
        raise ModelworksError(str(exc)) from None
    _print_checks(decision.checks)
    click.echo(f"{model} v{version}: {decision.action} ({decision.reason})")
    if not decision.promoted:
        sys.exit(2)


@main.command()
@click.argument("model")
@click.option("--reason", required=True, help="Why the current champion is withdrawn (recorded).")
@click.pass_context
def rollback(ctx: click.Context, model: str, reason: str) -> None:
    """Give the alias champion back to the version the current champion replaced."""
    _project(ctx)
    _require_registered(model)
    from modelworks.registry.promotion import RegistryError
    from modelworks.registry.promotion import rollback as roll_back

    try:
        decision = roll_back(model, reason=reason)
    except RegistryError as exc:
        raise ModelworksError(str(exc)) from None
    click.echo(f"{model}: champion v{decision.champion_before} -> v{decision.champion_after}")


@main.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line.")
@click.pass_context
def history(ctx: click.Context, model: str, as_json: bool) -> None:
    """The audit trail of MODEL: every promotion, rejection and rollback."""
    _project(ctx)
    _require_registered(model)
    from modelworks.registry.promotion import history as read_history

    events = read_history(model)
    if as_json:
        for event in events:
            click.echo(json.dumps(event, sort_keys=True))
        return
    if not events:
        click.echo(f"{model}: no promotions, rejections or rollbacks recorded yet")
        return
    for event in events:
        before, after = (_version(event[k]) for k in ("champion_before", "champion_after"))
        change = f"champion {before} -> {after}" if before != after else f"champion stays {after}"
        click.echo(
            f"{event['at']}  v{event['version']:<4} {event['action']:<11} {change:<26} "
            f"by {event['actor']}  {event['reason']}"
        )


@main.command()
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="The whole lineage document.")
@click.pass_context
def lineage(ctx: click.Context, reference: str, as_json: bool) -> None:
    """What produced REFERENCE (model@alias or model@version): code, data, features, params."""
    _project(ctx)
    model, ref = _reference(reference)
    version, document = _lineage(model, ref)
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    from modelworks.registry.lineage import lineage_text

    click.echo(lineage_text(model, version, document))


@main.command()
@click.argument("reference")
@click.option("--tolerance", default=None, type=float, help="Largest metric difference accepted.")
@click.option(
    "--keep", type=click.Path(path_type=Path), default=None, help="Keep the scratch project here."
)
@click.pass_context
def reproduce(
    ctx: click.Context, reference: str, tolerance: float | None, keep: Path | None
) -> None:
    """Rebuild the training set of REFERENCE from its lineage, retrain, compare metrics."""
    project = _project(ctx)
    from modelworks.registry.reproduce import (
        DEFAULT_TOLERANCE,
        ReproductionError,
    )
    from modelworks.registry.reproduce import reproduce as run_reproduction

    model, ref = _reference(reference)
    version, document = _lineage(model, ref)
    limit = DEFAULT_TOLERANCE if tolerance is None else tolerance
    click.echo(f"reproducing {model} v{version} from commit {str(document['git']['commit'])[:12]}")
    try:
        result = run_reproduction(
            project.root, model, version, document, tolerance=limit, keep=keep
        )
    except ReproductionError as exc:
        raise ModelworksError(str(exc)) from None
    for note in result.notes:
        click.echo(f"note: {note}")
    for name, values in result.metrics.items():
        click.echo(
            f"  {name:<10} recorded {values['recorded']:.6f}  reproduced {values['reproduced']:.6f}"
            f"  difference {values['difference']:+.2e}"
        )
    _tag_reproduction(model, version, result.to_dict())
    verdict = "matches" if result.matches else "does NOT match"
    click.echo(f"{model} v{version} {verdict} its recorded holdout metrics (tolerance {limit:g})")
    if not result.matches:
        sys.exit(2)


@main.command("new")
@click.argument("name")
@click.option(
    "--task",
    required=True,
    type=click.Choice(["binary_classification", "multiclass_classification", "regression"]),
    help="The task family of the new use case.",
)
def new(name: str, task: str) -> None:
    """Write conf/base/parameters/NAME.yml: a use case declared in YAML alone, to fill in."""
    from modelworks.declared.scaffold import ScaffoldError, write_scaffold
    from modelworks.project import find_root

    try:
        path = write_scaffold(find_root(), name, task)
    except (ProjectError, ScaffoldError) as exc:
        raise ModelworksError(str(exc)) from None
    click.echo(f"wrote {path}")
    click.echo(f"next: replace its example tables with yours, then kedro run --pipelines {name}")


main.add_command(serve)
main.add_command(servers)
main.add_command(schedule)


@main.command("dvc-stages")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 naming the stale stages if any.")
def dvc_stages(check: bool) -> None:
    """Write dvc.yaml: an ingest and a train stage for every use case, from its pipelines."""
    from modelworks.dvc_stages import DVC_FILE, DvcStagesError, check_dvc_yaml, write_dvc_yaml
    from modelworks.project import find_root

    try:
        root = find_root()
        if not check:
            write_dvc_yaml(root)
            click.echo(f"wrote {root / DVC_FILE}")
            return
        stale = check_dvc_yaml(root)
    except (ProjectError, DvcStagesError) as exc:
        raise ModelworksError(str(exc)) from None
    if stale:
        click.echo(
            f"{DVC_FILE} is stale: {', '.join(stale)}; run `modelworks dvc-stages` "
            "(make dvc-stages) and commit it",
            err=True,
        )
        sys.exit(1)
    click.echo(f"{DVC_FILE} is up to date")


def _version(version: str | None) -> str:
    return f"v{version}" if version else "none"


def _require_registered(model: str) -> None:
    """Refuse a model the Model Registry does not know, naming the ones it does."""
    from mlflow import MlflowClient

    client = MlflowClient()
    names: list[str] = []
    token: str | None = None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        names += [found.name for found in page]
        token = page.token
        if not token:
            break
    if model not in names:
        known = ", ".join(sorted(names)) or "none yet (train a use case first)"
        raise ModelworksError(f"no registered model named {model!r}; registered models: {known}")


def _use_case(project: Project, model: str) -> tuple[Any, Any]:
    try:
        return project.use_case_of(model)
    except ProjectError as exc:
        raise ModelworksError(str(exc)) from None


def _lineage(model: str, ref: str) -> tuple[str, dict[str, Any]]:
    from mlflow import MlflowClient

    from modelworks.registry.evidence import run_json
    from modelworks.registry.lineage import LINEAGE_FILE
    from modelworks.registry.promotion import RegistryError, resolve_version

    try:
        version = resolve_version(model, ref)
        run_id = str(MlflowClient().get_model_version(model, version).run_id)
        return version, run_json(MlflowClient(), run_id, LINEAGE_FILE)
    except RegistryError as exc:
        raise ModelworksError(str(exc)) from None


def _tag_reproduction(model: str, version: str, result: dict[str, Any]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    client.set_model_version_tag(
        model, version, "reproduce.result", "matches" if result["matches"] else "differs"
    )
    worst = max((abs(m["difference"]) for m in result["metrics"].values()), default=0.0)
    client.set_model_version_tag(model, version, "reproduce.max_difference", f"{worst:.3g}")


def _print_checks(checks: list[dict[str, Any]]) -> None:
    for check in checks:
        value = check["value"]
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        mark = "pass" if check["passed"] else "FAIL"
        click.echo(
            f"  {mark}  {check['check']:<28} {shown:<12} ({check['threshold']}) {check['detail']}"
        )


# Kedro loads a project's commands from ``<package>.cli:cli``: the same commands, under `kedro`.
cli = main
