"""credit_risk's training as a plain script: what the pipeline does, without the framework.

    .venv/bin/python -m benchmarks.handwritten.credit_risk_train --root <project copy>

The yardstick of ``benchmarks.pipeline_overhead``: the same raw tables (written by
``kedro run --pipelines credit_risk_ingest``), the same feature code and Feast repository with
one ``get_historical_features``, the same out-of-time holdout, stratified folds, early-stopping
carve-out, candidates and rounds, and MLflow logging of every fold's and candidate's metrics and
of both models (explicit pip requirements), the better one registered. No Kedro, no validation
gate, no lineage, no drift, no plots: the framework's additions are what the comparison prices.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

SERVICE = "credit_risk_service"


def load_params(root: Path) -> dict[str, Any]:
    """credit_risk's training block, as the project's YAML states it."""
    text = (root / "conf" / "base" / "parameters" / "credit_risk.yml").read_text()
    return yaml.safe_load(text)["credit_risk"]["training"]


def training_set(root: Path) -> pd.DataFrame:
    """Feature tables from the raw ones, published to Feast, joined point in time."""
    from feast import FeatureStore

    from pipelines.credit_risk import features as definitions
    from pipelines.credit_risk import nodes

    raw = root / "data" / "01_raw" / "credit_risk"
    borrowers = pd.read_parquet(raw / "borrowers.parquet")
    loans = pd.read_parquet(raw / "loans.parquet")
    repayments = pd.read_parquet(raw / "repayments.parquet")
    published = root / "data" / "04_feature" / "credit_risk"
    published.mkdir(parents=True, exist_ok=True)
    nodes.build_borrower_profile(borrowers).to_parquet(published / "borrower_profile.parquet")
    nodes.build_repayment_history(repayments, loans).to_parquet(
        published / "borrower_repayment_history.parquet"
    )
    entity_rows = nodes.build_loan_entity_rows(loans)
    repo = root / "feature_repo"
    os.chdir(repo)  # Feast resolves the sources' relative paths against the repository
    store = FeatureStore(repo_path=str(repo))
    store.apply(definitions.definitions())
    request = entity_rows.rename(columns={"applied_at": "event_timestamp"})
    request["event_timestamp"] = pd.to_datetime(request["event_timestamp"], utc=True)
    frame = store.get_historical_features(
        entity_df=request, features=store.get_feature_service(SERVICE)
    ).to_df()
    return frame.rename(columns={"event_timestamp": "applied_at"})


def out_of_time(frame: pd.DataFrame, holdout_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    cutoff = frame["applied_at"].max() - pd.Timedelta(days=holdout_days)
    return frame[frame["applied_at"] <= cutoff], frame[frame["applied_at"] > cutoff]


def matrix(frame: pd.DataFrame, features: dict[str, list[str]]) -> pd.DataFrame:
    x = frame[features["categorical"] + features["numeric"]].copy()
    for column in features["categorical"]:
        x[column] = x[column].astype("string").fillna("<missing>").astype("category")
    return x


def fit(adapter: str, spec: dict[str, Any], x, y, x_stop, y_stop, rounds: int | None, seed: int):
    """One booster: early-stopped on (x_stop, y_stop), or exactly ``rounds`` rounds."""
    categorical = [c for c in x.columns if str(x[c].dtype) == "category"]
    if adapter == "catboost":
        from catboost import CatBoostClassifier

        model = CatBoostClassifier(
            **spec["params"],
            iterations=rounds or spec["max_rounds"],
            random_seed=seed,
            verbose=False,
            allow_writing_files=False,
            cat_features=categorical,
        )
        as_str = {c: x[c].astype(str) for c in categorical}
        x = x.assign(**as_str)
        if rounds is None:
            x_stop = x_stop.assign(**{c: x_stop[c].astype(str) for c in categorical})
            model.fit(
                x, y, eval_set=(x_stop, y_stop), early_stopping_rounds=spec["early_stopping_rounds"]
            )
            return model, model.get_best_iteration() + 1
        model.fit(x, y)
        return model, rounds
    from lightgbm import LGBMClassifier, early_stopping

    model = LGBMClassifier(
        **spec["params"], n_estimators=rounds or spec["max_rounds"], random_state=seed, verbose=-1
    )
    if rounds is None:
        model.fit(
            x, y, eval_set=[(x_stop, y_stop)],
            callbacks=[early_stopping(spec["early_stopping_rounds"], verbose=False)],
        )  # fmt: skip
        return model, model.best_iteration_
    model.fit(x, y)
    return model, rounds


def predict(model: Any, x: pd.DataFrame) -> np.ndarray:
    if type(model).__name__ == "CatBoostClassifier":
        x = x.assign(**{c: x[c].astype(str) for c in x.columns if str(x[c].dtype) == "category"})
    return model.predict_proba(x)[:, 1]


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    return {
        "roc_auc": roc_auc_score(y, p),
        "log_loss": log_loss(y, p),
        "brier": brier_score_loss(y, p),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    root = parser.parse_args().root.resolve()
    start = time.perf_counter()
    import mlflow
    from sklearn.model_selection import StratifiedKFold, train_test_split

    params = load_params(root)
    frame = training_set(root)
    train, holdout = out_of_time(frame, params["holdout_days"])
    x, y = matrix(train, params["features"]), train[params["label"]].to_numpy()
    x_holdout, y_holdout = matrix(holdout, params["features"]), holdout[params["label"]].to_numpy()
    folds = StratifiedKFold(params["n_splits"], shuffle=True, random_state=params["seed"])

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    mlflow.set_experiment("credit_risk_handwritten")
    results = {}
    with mlflow.start_run(run_name="credit_risk_train"):
        for name, spec in params["candidates"].items():
            with mlflow.start_run(run_name=name, nested=True):
                mlflow.log_params({f"model.{k}": v for k, v in spec["params"].items()})
                scores, rounds = [], []
                for fold, (fit_rows, valid_rows) in enumerate(folds.split(x, y)):
                    kept, stop = train_test_split(
                        fit_rows, test_size=0.2, stratify=y[fit_rows], random_state=params["seed"]
                    )
                    with mlflow.start_run(run_name=f"{name}_fold_{fold}", nested=True):
                        model, best = fit(
                            spec["adapter"], spec, x.iloc[kept], y[kept], x.iloc[stop], y[stop],
                            None, params["seed"],
                        )  # fmt: skip
                        fold_metrics = metrics(y[valid_rows], predict(model, x.iloc[valid_rows]))
                        mlflow.log_metrics({**fold_metrics, "best_iteration": best})
                    scores.append(fold_metrics)
                    rounds.append(best)
                cv = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
                mlflow.log_metrics({f"cv_{k}": v for k, v in cv.items()})
                n_rounds = max(1, round(float(np.mean(rounds))))
                model, _ = fit(spec["adapter"], spec, x, y, None, None, n_rounds, params["seed"])
                mlflow.log_metrics(
                    {
                        f"holdout_{k}": v
                        for k, v in metrics(y_holdout, predict(model, x_holdout)).items()
                    }
                )
                flavour = mlflow.catboost if spec["adapter"] == "catboost" else mlflow.lightgbm
                signature = mlflow.models.infer_signature(
                    x_holdout.head(5), predict(model, x_holdout.head(5))
                )
                info = flavour.log_model(
                    model, name="model", signature=signature,
                    pip_requirements=[f"{spec['adapter']}", "pandas", "scikit-learn"],
                )  # fmt: skip
                results[name] = (cv[params["selection_metric"]], info.model_uri)
        best_name = max(results, key=lambda n: results[n][0])
        mlflow.register_model(results[best_name][1], "credit_risk_handwritten")
    print(f"{best_name} registered; {time.perf_counter() - start:.1f} s after imports began")


if __name__ == "__main__":
    main()
