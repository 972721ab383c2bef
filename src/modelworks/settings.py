"""Kedro project settings."""

import os
import warnings

# Notices raised inside pinned third-party libraries say nothing a user can act on. The filters
# come before the imports below, which import kedro-mlflow and MLflow.
for _module in ("kedro_mlflow", "mlflow", "great_expectations", "ibis", "kedro.validation"):
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=_module)
warnings.filterwarnings("ignore", message=".*load_module.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*[Pp]ydantic.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*class-based `config` is deprecated.*")
warnings.filterwarnings("ignore", message=".*type hints to the `predict` method.*")
warnings.filterwarnings("ignore", message=".*noload.*")
# MLflow draws a progress bar for every artifact it reads back; in a pipeline log it is noise.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from kedro.config import OmegaConfigLoader  # noqa: E402

from modelworks.hooks import ParameterValidationHook, TypedParamsMlflowHook  # noqa: E402

# kedro-mlflow's own hook is replaced by its typed-parameter subclass, registered here;
# telemetry never runs (`.telemetry` also says so for the CLI).
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow", "kedro-telemetry")
HOOKS = (ParameterValidationHook(), TypedParamsMlflowHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/local (or another environment) overrides single keys, not whole use-case blocks.
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}
