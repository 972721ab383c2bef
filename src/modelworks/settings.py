"""Kedro project settings."""

import logging
import os

from modelworks.logs import LibraryNoticeFilter

# Kedro logs warnings through "py.warnings"; libraries' deprecation notices stay out of the log.
# Added before the imports below, which raise some of them.
logging.getLogger("py.warnings").addFilter(LibraryNoticeFilter())
# MLflow draws a progress bar for every artifact it reads back and logs each input-example check;
# in a pipeline log both are noise.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

from modelworks.config import ProjectConfigLoader  # noqa: E402
from modelworks.hooks import (  # noqa: E402
    NodeTimingHook,
    ParameterValidationHook,
    TypedParamsMlflowHook,
)
from modelworks.root import project_root  # noqa: E402
from modelworks.secrets import secret  # noqa: E402

# kedro-mlflow's own hook is replaced by its typed-parameter subclass, registered here (Kedro
# matches the distribution's name, which kedro-mlflow spells with an underscore); telemetry
# never runs (`.telemetry` also says so for the CLI).
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-telemetry")
from modelworks.run_recovery import StaleRunRecoveryHook  # noqa: E402
from modelworks.servers import ServersHook  # noqa: E402
from modelworks.writable import WritableOutputsHook  # noqa: E402

HOOKS = (
    ParameterValidationHook(),
    WritableOutputsHook(),
    TypedParamsMlflowHook(),
    NodeTimingHook(),
    StaleRunRecoveryHook(),
    # last registered, first called: the servers answer before kedro-mlflow talks to them
    ServersHook(),
)

# OmegaConfigLoader that resolves each key once while its files and the environment stay the same.
CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/local (or another environment) overrides single keys, not whole use-case blocks.
    # conf/prod/mlflow.yml changes a few keys of conf/base/mlflow.yml the same way.
    "merge_strategy": {"parameters": "soft", "catalog": "soft", "mlflow": "soft"},
    # conf/<env>/servers.yml: the servers an environment runs on (modelworks.servers).
    "config_patterns": {"servers": ["servers*", "servers*/**"]},
    # ${project_root:}: the absolute project root, so MLflow's database and Feast's repo are
    # the project's wherever `kedro run` starts (Kedro itself only absolutifies the catalog's
    # filepath/filename/path keys).
    # ${secret:NAME}: a value from the environment or conf/local/credentials.yml, never git.
    "custom_resolvers": {"project_root": project_root, "secret": secret},
}
