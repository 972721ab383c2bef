"""The one place that writes runs to MLflow: candidate and fold runs, metrics, plots, models.

The project's MLflow hook opens the pipeline's run for each use case (``modelworks.hooks``) and
logs its parameters; nodes that need more structure (one parent run per candidate, one nested
run per fold) come here instead of calling ``mlflow`` themselves.

Every run carries tags a reviewer filters by: ``use_case`` and ``task`` (inherited from the run
it nests under), ``kind`` (``pipeline``/``train``/``score``/... on a pipeline's run,
``candidate``, ``baseline``, ``fold`` or ``monitor`` below it) and ``candidate``. Nothing
logged names this machine: paths inside the project are written relative to its root.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd

from modelworks.root import ProjectError, find_root

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow.entities import Run

    from modelworks.training.adapters import FittedModel

TAG_ROLE = "modelworks.role"
TAG_CANDIDATE = "modelworks.candidate"
TAG_FOLD = "modelworks.fold"
TAG_TASK = "modelworks.task"
TAG_TRIAL = "modelworks.trial"
TAG_TRIAL_STATE = "modelworks.trial_state"
TAG_STUDY = "modelworks.study"
# The filters of the MLflow UI: short names, on every run.
TAG_USE_CASE = "use_case"
TAG_TASK_NAME = "task"
TAG_KIND = "kind"
TAG_CANDIDATE_NAME = "candidate"
# A nested run belongs to the use case and task of the run it nests under.
_INHERITED = (TAG_USE_CASE, TAG_TASK_NAME)
# A role's kind where the two differ: a replayed week monitors a batch and decides a retrain.
_KIND_OF_ROLE = {"replay": "monitor"}
_SOURCE_NAME = "mlflow.source.name"

# Pinned alongside every logged model; inferring requirements costs many seconds.
_BASE_REQUIREMENTS = ("mlflow", "pandas", "numpy", "scikit-learn", "pydantic", "pyarrow")


@contextmanager
def candidate_run(candidate: str, *, tags: Mapping[str, str] | None = None) -> Iterator[str]:
    """A run for one candidate model, nested under the pipeline's run; yields its id.

    ``tags`` may change its role (``modelworks.role``: ``baseline``, ``replay``); its ``kind``
    follows the role, and ``task`` follows ``modelworks.task`` when the caller names one.
    """
    merged = {TAG_ROLE: "candidate", TAG_CANDIDATE: candidate, **(tags or {})}
    kind = _KIND_OF_ROLE.get(merged[TAG_ROLE], merged[TAG_ROLE])
    filters = {TAG_KIND: kind}
    if kind != "monitor":
        filters[TAG_CANDIDATE_NAME] = candidate
    if TAG_TASK in merged:
        filters[TAG_TASK_NAME] = merged[TAG_TASK]
    with _nested_run(candidate, {**merged, **filters}) as run_id:
        yield run_id


@contextmanager
def trial_run(candidate: str, number: int, *, study: str) -> Iterator[str]:
    """A run for one trial of a candidate's hyperparameter search, nested under the
    candidate's run; its folds nest under it. ``modelworks.trial_state`` says how it ended."""
    tags = {
        TAG_ROLE: "trial",
        TAG_CANDIDATE: candidate,
        TAG_TRIAL: str(number),
        TAG_STUDY: study,
        TAG_KIND: "trial",
        TAG_CANDIDATE_NAME: candidate,
    }
    with _nested_run(f"{candidate}-trial-{number}", tags) as run_id:
        yield run_id


def set_tags(tags: Mapping[str, str]) -> None:
    """Tag the active run."""
    mlflow.set_tags(dict(tags))


def active_tag(name: str) -> str | None:
    """A tag of the active run (its use case, say), if there is a run and it has one."""
    run = mlflow.active_run()
    return None if run is None else run.data.tags.get(name)


@contextmanager
def fold_run(candidate: str, fold: int) -> Iterator[str]:
    """A run for one cross-validation fold, nested under the candidate's run."""
    tags = {
        TAG_ROLE: "fold",
        TAG_CANDIDATE: candidate,
        TAG_FOLD: str(fold),
        TAG_KIND: "fold",
        TAG_CANDIDATE_NAME: candidate,
    }
    with _nested_run(f"{candidate}-fold-{fold}", tags) as run_id:
        yield run_id


# The run a node's nested runs go under where none is active in its thread: a node on a Dask
# worker runs outside the driver's MLflow run (``modelworks.dask_runner`` names it here).
_NODE_PARENT: ContextVar[str | None] = ContextVar("modelworks_node_parent", default=None)


@contextmanager
def nesting_under(run_id: str | None) -> Iterator[None]:
    """Nest the runs ``_nested_run`` opens with no active run under ``run_id``."""
    token = _NODE_PARENT.set(run_id)
    try:
        yield
    finally:
        _NODE_PARENT.reset(token)


@contextmanager
def _nested_run(name: str, tags: Mapping[str, str]) -> Iterator[str]:
    """A run nested under the active one, in its experiment, with its use case and task.

    The tags go in with the run's creation, so a run is never seen without them and a run
    nested under this one inherits them from the start; the experiment is the parent's, not
    whichever experiment this process set last (a ``kedro run`` of several use cases has one
    experiment each). With no active run, the parent is the one ``nesting_under`` names (the
    driver's run of a node on a Dask worker), if any.
    """
    parent: Run | None = mlflow.active_run()
    parent_id = None
    if parent is None and (parent_id := _NODE_PARENT.get()) is not None:
        parent = mlflow.get_run(parent_id)
    inherited = (
        {key: parent.data.tags[key] for key in _INHERITED if key in parent.data.tags}
        if parent is not None
        else {}
    )
    with mlflow.start_run(
        run_name=name,
        nested=True,
        parent_run_id=parent_id,
        experiment_id=parent.info.experiment_id if parent is not None else None,
        tags={**inherited, **source_tags(), **tags},
    ) as run:
        yield run.info.run_id


def source_tags() -> dict[str, str]:
    """MLflow's ``mlflow.source.name`` as the command's name (``kedro``), not the path of the
    script that runs it, which names this machine's folders."""
    command = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "<console>"
    return {_SOURCE_NAME: command}


def portable(value: Any) -> Any:
    """``value`` with nothing that names this machine: an absolute path inside the project
    becomes relative to its root (a path elsewhere, a temporary folder, is left as it is)."""
    if not isinstance(value, str) or not Path(value).is_absolute():
        return value
    try:
        root = find_root()
    except ProjectError:
        return value
    path = Path(value)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else value


def log_metrics(metrics: Mapping[str, float], *, prefix: str = "") -> None:
    """Log finite metrics to the active run, names prefixed (``cv_``, ``holdout_``)."""
    mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in metrics.items() if np.isfinite(v)})


def log_params(params: Mapping[str, Any], *, prefix: str = "") -> None:
    """Log parameters (flattened one level) to the active run."""
    mlflow.log_params({f"{prefix}{k}": v for k, v in params.items()})


def log_dict(document: Mapping[str, Any], artifact_file: str) -> None:
    """Save a JSON document as an artifact of the active run."""
    mlflow.log_dict(dict(document), artifact_file)


def log_dict_to(run_id: str, document: Mapping[str, Any], artifact_file: str) -> None:
    """Save a JSON document as an artifact of a given (possibly finished) run."""
    mlflow.MlflowClient().log_dict(run_id, dict(document), artifact_file)


def active_run_id() -> str | None:
    """The id of the run this process is logging to (the pipeline's), if any."""
    run = mlflow.active_run()
    return run.info.run_id if run is not None else None


def log_figure(figure: Figure, artifact_file: str) -> None:
    """Save a matplotlib figure as an artifact of the active run and release its memory (the
    figures are drawn on their own canvas, outside pyplot's registry: clearing them is enough)."""
    mlflow.log_figure(figure, artifact_file)
    figure.clear()


def pip_requirements(*libraries: str) -> list[str]:
    """Exact versions of the libraries a logged model needs, read from this environment."""
    names = dict.fromkeys([*_BASE_REQUIREMENTS, *libraries])
    # A local version label (torch's "+cpu") names a build no package index serves under that
    # pin; the release it was built from is what an installer can resolve.
    return [f"{name}=={importlib.metadata.version(name).split('+')[0]}" for name in names]


def log_probability_model(
    fitted: FittedModel,
    example: pd.DataFrame,
    *,
    serving: Mapping[str, Any] | None = None,
    artifact_name: str = "model",
) -> str:
    """Log ``fitted`` as a pyfunc with signature and input example; returns its model URI.

    ``serving`` (``feature_service``, ``join_keys``, ``online_features``, ``feature_repo``)
    lets the model fetch its own features from the online store: the signature then requires
    the join keys and the request-time fields, and accepts the stored features optionally.
    ``classes`` in it names a multiclass model's probability columns.
    The model's own library is pinned by the adapter's name (adapters are named after the
    distribution they wrap: ``catboost``, ``lightgbm``, ``torch``).
    """
    features = fitted.features.select(example)
    inputs = served_inputs(example, features, serving)
    online = set(serving.get("online_features", ())) if serving else set()
    outputs = fitted.predict(features)
    classes = serving.get("classes") if serving else None
    if classes:
        # A multiclass model answers with one probability column per class label.
        outputs = pd.DataFrame(outputs, columns=list(classes))
    return log_pyfunc(
        model_code=code_file("modelworks.serving.model_code"),
        save=fitted.save,
        signature=signature_of(inputs, outputs, optional=online),
        input_example=inputs.head(5),
        model_config=serving,
        libraries=(fitted.adapter,),
        artifact_name=artifact_name,
    )


def served_inputs(
    example: pd.DataFrame, features: pd.DataFrame, serving: Mapping[str, Any] | None
) -> pd.DataFrame:
    """The columns a caller sends (the join keys, then the model's features) as ``example``
    holds them, for the signature and input example.

    The dtypes are the training data's, not the float64 the model reads (``select``): a served
    model must accept its own holdout as stored, and MLflow refuses int64 for a double column.
    A join key the model also reads as a feature (an airport) is one input column, not two.
    """
    keys = [k for k in (serving.get("join_keys", ()) if serving else ()) if k not in features]
    return example[[*keys, *features.columns]]


def code_file(module: str) -> Path:
    """The source file of a models-from-code ``module``, found without importing it: importing
    it would run its ``set_model`` and tie the module that logs a model to the one that serves
    it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no model code module {module!r}")
    return Path(spec.origin)


def log_pyfunc(
    *,
    model_code: Path,
    save: Callable[[Path], None],
    signature: Any,
    input_example: Any,
    model_config: Mapping[str, Any] | None,
    libraries: tuple[str, ...],
    artifact_name: str = "model",
) -> str:
    """Log a models-from-code pyfunc in the active run; returns its model URI.

    ``model_code`` is the file that calls ``mlflow.models.set_model`` (it travels as code, not
    as a pickle); ``save(directory)`` writes the fitted model there in its native format,
    logged as the artifact ``serving.pyfunc.MODEL_ARTIFACT``; the modelworks package travels
    with it, and ``libraries`` are pinned next to the base requirements.
    """
    import modelworks
    from modelworks.serving.pyfunc import MODEL_ARTIFACT

    if model_config:
        _log_config_params(model_config)
    with tempfile.TemporaryDirectory() as tmp, _quiet_config_params():
        save(Path(tmp))
        info = mlflow.pyfunc.log_model(
            name=artifact_name,
            python_model=str(model_code),
            artifacts={MODEL_ARTIFACT: tmp},
            model_config=dict(model_config) if model_config else None,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements(*libraries),
            code_paths=[str(Path(modelworks.__file__).parent)],
        )
    return str(info.model_uri)


def _log_config_params(config: Mapping[str, Any], prefix: str = "") -> None:
    """Log a model's config as the run's params first, each path inside the project relative
    to its root: MLflow logs the config as params itself, and the served model needs the
    absolute Feast repo path in its config, which the run's params must not name."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            _log_config_params(value, prefix=f"{prefix}{key}/")
        else:
            flat[f"{prefix}{key}"] = portable(value)
    if flat:
        mlflow.log_params(flat)


class _RefusedConfigParams(logging.Filter):
    """Hides MLflow's warning that the config's params were already logged (params cannot
    change once logged, and ``_log_config_params`` logged them, portable, beforehand)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to log model config as params")


@contextmanager
def _quiet_config_params() -> Iterator[None]:
    logger = logging.getLogger("mlflow.models.model")
    refused = _RefusedConfigParams()
    logger.addFilter(refused)
    try:
        yield
    finally:
        logger.removeFilter(refused)


def signature_of(inputs: pd.DataFrame, outputs: Any, *, optional: set[str]) -> Any:
    """MLflow's inferred signature, numbers typed by kind rather than width (integers long,
    floats double), with the ``optional`` columns marked not required.

    The types follow the training data, so the model accepts its own rows as stored; the width
    is an accident of the reader (int32 here, int64 there) and MLflow refuses any value wider
    than declared. ``serving.pyfunc.conform_to_schema`` turns what a caller sends into these.
    """
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec, Schema

    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values: an integer column
        # with gaps is declared double below, and conform_to_schema names a gap in one without.
        warnings.simplefilter("ignore", UserWarning)
        inferred = infer_signature(inputs, outputs)
    columns: list[Any] = [
        ColSpec(
            type=_served_type(spec.type, inputs[spec.name]),
            name=spec.name,
            required=spec.name not in optional,
        )
        for spec in inferred.inputs.inputs
    ]
    return ModelSignature(inputs=Schema(columns), outputs=inferred.outputs)


def _served_type(inferred: Any, column: pd.Series) -> Any:
    """The signature type of ``column``: long for integers, double for floats and for a
    nullable integer column with gaps (MLflow's long holds no missing value; the model reads
    it as float anyway), MLflow's inference for anything else."""
    from mlflow.types import DataType

    if inferred in (DataType.integer, DataType.long):
        return DataType.double if column.isna().any() else DataType.long
    if inferred == DataType.float:
        return DataType.double
    return inferred
