"""Finding declared use cases: a top-level parameter block with a ``declared:`` key is one.

The project's parameters are read with Kedro's config loader, as ``kedro run`` reads them
(base, then the session's environment, ``local`` by default). A block whose declaration is
invalid is still a use case: its pipelines are registered and stop at start-up with the
ParameterError that names the key, while every other use case runs.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from modelworks.params import ParameterError, parse_params
from modelworks.use_cases import USE_CASE_PACKAGE, UseCase

DECLARED_KEY = "declared"


def project_root() -> Path | None:
    """The Kedro project at or above the working directory (where ``kedro run`` runs), else
    the one holding the use-case package ``pipelines/``; None outside any project."""
    import importlib

    from modelworks.root import ProjectError, find_root

    try:
        return find_root()
    except ProjectError:
        pass
    try:
        package = importlib.import_module(USE_CASE_PACKAGE)
    except ImportError:
        return None
    for folder in (Path(p).parent for p in package.__path__):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def load_parameters(root: Path | None, env: str | None) -> dict[str, Any]:
    """Every parameter of the project at ``root``, merged over its environments."""
    from kedro.config import MissingConfigException
    from kedro.framework.project import settings

    if root is None:
        return {}
    conf = root / settings.CONF_SOURCE
    if not conf.is_dir():
        return {}
    args = dict(settings.CONFIG_LOADER_ARGS)
    if not (conf / (env or args.get("default_run_env") or "local")).is_dir():
        env = args.get("base_env") or "base"  # no conf/local in this checkout: base alone
    loader = settings.CONFIG_LOADER_CLASS(conf_source=str(conf), env=env, **args)
    try:
        return dict(loader["parameters"])
    except MissingConfigException:
        return {}


def declared_blocks(env: str | None = None) -> dict[str, dict[str, Any]]:
    """The raw parameter block of every declared use case, by name."""
    params = load_parameters(project_root(), env)
    return {
        name: dict(block)
        for name, block in sorted(params.items())
        if isinstance(block, dict) and DECLARED_KEY in block
    }


def declared_use_case(name: str, block: dict[str, Any]) -> UseCase:
    """The use case the block ``name`` declares (pipelines that fail when it is invalid)."""
    from modelworks.declared.params import params_model_for
    from modelworks.declared.pipeline import create_pipelines, parameter_error_pipelines
    from modelworks.declared.schema import DeclaredSpec

    if not name.isidentifier() or name != name.lower():
        raise ValueError(
            f"Declared use case {name!r}: its name must be a lower_snake_case identifier"
        )
    model = params_model_for(name)
    try:
        # The declaration alone shapes the pipelines and Feast objects; the rest of the block
        # is checked at start-up (the parameter hook, then the pipelines' first node).
        spec = parse_params(DeclaredSpec, block[DECLARED_KEY], where=f"{name}.{DECLARED_KEY}")
    except ParameterError:
        return UseCase(
            name=name,
            params_model=model,
            create_pipelines=partial(parameter_error_pipelines, name),
        )
    return UseCase(
        name=name,
        params_model=model,
        create_pipelines=partial(create_pipelines, name, spec),
        feature_definitions=partial(_definitions, name, spec),
    )


def _definitions(name: str, spec: Any) -> list[Any]:
    from modelworks.declared.definitions import feature_definitions

    return feature_definitions(name, spec)


def declared_use_cases(env: str | None = None) -> list[UseCase]:
    """Every declared use case of the project, by name."""
    return [declared_use_case(name, block) for name, block in declared_blocks(env).items()]


def declared_spec(use_case: str, env: str | None = None) -> Any:
    """The typed ``declared:`` block of ``use_case``; a ParameterError naming the key."""
    from modelworks.declared.schema import DeclaredSpec

    blocks = declared_blocks(env)
    if use_case not in blocks:
        raise ParameterError(f"No declared use case {use_case!r} in the project's parameters")
    return parse_params(DeclaredSpec, blocks[use_case][DECLARED_KEY], where=f"{use_case}.declared")
