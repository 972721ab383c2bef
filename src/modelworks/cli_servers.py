"""``modelworks servers up|down|check``: the servers of a profile with ``servers.yml``.

``up`` checks PostgreSQL and Redis, creates the databases that do not exist and starts the
MLflow tracking server the project owns; ``down`` stops what ``up`` started, nothing else.
The environment is ``prod`` unless ``modelworks --env <env>`` names another.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from modelworks.servers import ServersConfig


@click.group()
def servers() -> None:
    """The servers of the production profile (conf/prod/servers.yml)."""


@servers.command()
@click.pass_context
def up(ctx: click.Context) -> None:
    """Create missing databases and start the MLflow tracking server; check the rest."""
    from modelworks import servers as infra

    config = _servers(ctx)
    try:
        infra.up(config, echo=click.echo)
    except infra.ServersError as exc:
        raise click.ClickException(str(exc)) from None


@servers.command()
def down() -> None:
    """Stop what `servers up` started."""
    from modelworks import servers as infra
    from modelworks.root import find_root

    os.chdir(find_root())
    infra.down(echo=click.echo)


@servers.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Exit 1, naming each server that does not answer."""
    from modelworks import servers as infra

    config = _servers(ctx)
    try:
        infra.check(config)
    except infra.ServersError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("PostgreSQL, Redis and the MLflow tracking server answer")


def _servers(ctx: click.Context) -> ServersConfig:
    from modelworks.project import ProjectError, load_project
    from modelworks.servers import load_servers

    env = (ctx.obj or {}).get("env") or "prod"
    try:
        project = load_project(env=env, check_servers=False)
        config = load_servers(project.config)  # loaded and checked once already
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from None
    if config is None:
        raise click.ClickException(f"environment {env!r} has no servers.yml (conf/{env}/)")
    return config
