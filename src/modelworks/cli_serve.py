"""``modelworks serve MODEL``: a registered model's version over HTTP, in one process or in
several worker processes sharing the port (``modelworks.serving.launch``).

The command joins ``modelworks.cli``'s group, which imports this module; it takes the group's
shared helpers from there when it runs.
"""

from __future__ import annotations

import os

import click


@click.command()
@click.argument("model")
@click.option("--alias", default="champion", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Server processes sharing the port, each with its own copy of the model.",
)
@click.pass_context
def serve(ctx: click.Context, model: str, alias: str, host: str, port: int, workers: int) -> None:
    """Serve MODEL@ALIAS over HTTP: POST /predict with entity keys and request fields.

    Limits and the request rules come from the use case's ``scoring.online`` and
    ``validation`` parameters."""
    from modelworks.cli import ModelworksError, _project, _require_registered, _use_case

    project = _project(ctx)
    use_case, params = _use_case(project, model)
    _require_registered(model)
    from kedro.io import DatasetError

    from modelworks.registry.promotion import RegistryError, resolve_version
    from modelworks.serving.datasets import RegisteredModelDataset
    from modelworks.serving.launch import (
        ServeSettings,
        feature_store_env,
        online_settings,
        run_server,
    )

    # online features from the Feast configuration of this environment (a set variable wins)
    for variable, value in feature_store_env(project.config["catalog"], use_case.name).items():
        os.environ.setdefault(variable, value)

    if alias.isdigit():
        raise ModelworksError(f"--alias takes an alias such as champion, not a version: {alias}")
    try:
        resolve_version(model, alias)
        served = RegisteredModelDataset(model, alias=alias).load()
        online, rules = online_settings(served, params)
    except (RegistryError, DatasetError, ValueError) as exc:
        raise ModelworksError(str(exc)) from None
    click.echo(
        f"serving {model} v{served.version} (@{alias}) on http://{host}:{port}/predict"
        + (f" with {workers} worker processes" if workers > 1 else "")
    )
    settings = ServeSettings(model=model, alias=alias, online=online, rules=rules)
    run_server(settings, host=host, port=port, workers=workers, served=served)
