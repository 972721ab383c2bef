"""The one place that writes runs to MLflow: candidate and fold runs, metrics, plots, models.

kedro-mlflow opens the pipeline's run and logs its parameters; nodes that need more structure
(one parent run per candidate, one nested run per fold) come here instead of calling
``mlflow`` themselves.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from modelworks.training.adapters import FittedModel

TAG_ROLE = "modelworks.role"
TAG_CANDIDATE = "modelworks.candidate"
TAG_FOLD = "modelworks.fold"

# Pinned alongside every logged model; inferring requirements costs many seconds.
_BASE_REQUIREMENTS = ("mlflow", "pandas", "numpy", "scikit-learn", "pydantic", "pyarrow")


@contextmanager
def candidate_run(candidate: str, *, tags: Mapping[str, str] | None = None) -> Iterator[str]:
    """A run for one candidate model, nested under the pipeline's run; yields its id."""
    with mlflow.start_run(run_name=candidate, nested=True) as run:
        mlflow.set_tags({TAG_ROLE: "candidate", TAG_CANDIDATE: candidate, **(tags or {})})
        yield run.info.run_id


@contextmanager
def fold_run(candidate: str, fold: int) -> Iterator[str]:
    """A run for one cross-validation fold, nested under the candidate's run."""
    with mlflow.start_run(run_name=f"{candidate}-fold-{fold}", nested=True) as run:
        mlflow.set_tags({TAG_ROLE: "fold", TAG_CANDIDATE: candidate, TAG_FOLD: str(fold)})
        yield run.info.run_id


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
    """Save a matplotlib figure as an artifact of the active run and release its memory."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(figure, artifact_file)
    plt.close(figure)


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
    # A join key the model also reads as a feature (an airport) is one input column, not two.
    keys = [k for k in (serving.get("join_keys", ()) if serving else ()) if k not in features]
    inputs = pd.concat([example[keys], features], axis=1) if keys else features
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

    with tempfile.TemporaryDirectory() as tmp:
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


def signature_of(inputs: pd.DataFrame, outputs: Any, *, optional: set[str]) -> Any:
    """MLflow's inferred signature with the ``optional`` columns marked not required."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec, Schema

    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values: the integer inputs are
        # join keys, which are never missing; features are logged as double.
        warnings.simplefilter("ignore", UserWarning)
        inferred = infer_signature(inputs, outputs)
    columns: list[Any] = [
        ColSpec(type=spec.type, name=spec.name, required=spec.name not in optional)
        for spec in inferred.inputs.inputs
    ]
    return ModelSignature(inputs=Schema(columns), outputs=inferred.outputs)
