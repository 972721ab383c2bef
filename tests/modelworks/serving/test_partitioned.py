"""Partitioned scoring on Dask: the in-memory scores, in order, and all-or-nothing output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
import pytest

from modelworks.monitoring import DriftParams, build_reference_profile
from modelworks.monitoring.drift import prediction_drift
from modelworks.registry.tracking import log_probability_model
from modelworks.serving.batch import ScoringParams, score_batch
from modelworks.serving.datasets import ServedModel
from modelworks.serving.partitioned import score_parquet
from modelworks.training import CandidateParams, FeatureSpec, get_adapter

distributed = pytest.importorskip("distributed")
# The failing stand-in below must reach the worker processes, which cannot import tests.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

FEATURES = FeatureSpec(numeric=["amount", "x"], categorical=["c"])
PARAMS = ScoringParams(id_columns=["id"], histogram_bins=10)


def make_rows(n: int, seed: int, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(start, start + n),
            "x": rng.normal(size=n),
            "amount": rng.uniform(10, 100, n),
            "c": rng.choice(["a", "b", "c"], n),
        }
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedModel]:
    """A small LightGBM model logged as the project logs models, with a scored profile."""
    root = tmp_path_factory.mktemp("model")
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    try:
        train = make_rows(600, seed=0)
        logit = 1.5 * train["x"] + (train["c"] == "a") + 0.02 * (train["amount"] - 50)
        y = (np.random.default_rng(1).uniform(size=len(train)) < 1 / (1 + np.exp(-logit))).astype(
            int
        )
        fitted = get_adapter("lightgbm").fit(
            train,
            y,
            features=FEATURES,
            candidate=CandidateParams(adapter="lightgbm", params={"min_child_samples": 5}),
            seed=0,
            n_rounds=20,
        )
        experiment = mlflow.create_experiment("p", artifact_location=(root / "art").as_uri())
        with mlflow.start_run(experiment_id=experiment) as run:
            uri = log_probability_model(fitted, train)
        served = ServedModel(
            name="m", version="1", run_id=run.info.run_id, pyfunc=mlflow.pyfunc.load_model(uri)
        )
        holdout = make_rows(1_000, seed=2)
        profile = build_reference_profile(
            holdout, numeric=["x", "amount"], categorical=["c"], scores=served.predict(holdout)
        )
        yield replace(served, reference_profile=profile)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


def write_partitions(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir()
    for i, index in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[index].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


class FailingPyfunc:
    """The real pyfunc, except that it fails on the rows of one partition."""

    def __init__(self, inner: Any, poison: float) -> None:
        self.inner, self.poison = inner, poison
        self.metadata = inner.metadata

    def predict(self, rows: pd.DataFrame) -> Any:
        # The model sees its features only (the id is dropped by the signature).
        if (rows["amount"] == self.poison).any():
            raise RuntimeError("this partition fails")
        return self.inner.predict(rows)


def test_partitioned_scores_equal_in_memory_scores(
    client: Any, model: ServedModel, tmp_path: Path
) -> None:
    rows = make_rows(3_000, seed=3).sample(frac=1.0, random_state=0)  # ids out of order
    # The model sees only its features; the id column rides along as score_batch keeps it.
    source = write_partitions(rows, tmp_path / "rows", parts=3)
    result = score_parquet(
        model, source, tmp_path / "out", PARAMS, client=client, drift=DriftParams()
    )
    expected, summary = score_batch(model, rows, PARAMS)

    assert result.rows == 3_000 and result.partitions == 3
    assert sorted(p.name for p in result.output.iterdir()) == [
        f"part-{i:05d}.parquet" for i in range(3)
    ]
    scored = pd.read_parquet(result.output)
    assert scored["id"].tolist() == rows["id"].tolist()  # row order preserved
    np.testing.assert_allclose(scored["score"], expected["score"], rtol=1e-12)
    assert scored["model_version"].eq("1").all() and scored["scored_at"].nunique() == 1

    got = result.summary
    assert got["rows"] == summary["rows"]
    assert got["mean"] == pytest.approx(summary["mean"], rel=1e-12)
    assert got["quantiles"] == pytest.approx(summary["quantiles"], rel=1e-12)
    assert got["histogram"]["counts"] == summary["histogram"]["counts"]
    np.testing.assert_allclose(got["histogram"]["edges"], summary["histogram"]["edges"])

    assert model.reference_profile is not None
    drift = prediction_drift(model.reference_profile, expected["score"], DriftParams())
    assert result.prediction_drift is not None
    assert result.prediction_drift["verdict"] == drift["verdict"]
    for key in ("psi", "ks_statistic", "ks_p_value", "wasserstein", "mean_current"):
        assert result.prediction_drift[key] == pytest.approx(drift[key], rel=1e-9)
    assert not list(tmp_path.glob(".out.*"))


def test_a_failing_partition_leaves_no_output(
    client: Any, model: ServedModel, tmp_path: Path
) -> None:
    rows = make_rows(2_000, seed=4)
    rows.loc[1_600, "amount"] = 12_345.0  # in the last of four partitions
    source = write_partitions(rows, tmp_path / "rows", parts=4)
    failing = replace(model, pyfunc=FailingPyfunc(model.pyfunc, poison=12_345.0))
    with pytest.raises(RuntimeError, match="this partition fails"):
        score_parquet(failing, source, tmp_path / "out", PARAMS, client=client)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))  # the staging folder went too


def test_existing_output_is_kept_unless_overwritten(
    client: Any, model: ServedModel, tmp_path: Path
) -> None:
    source = write_partitions(make_rows(500, seed=5), tmp_path / "rows", parts=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(FileExistsError):
        score_parquet(model, source, out, PARAMS, client=client)
    assert (out / "keep.txt").exists()
    result = score_parquet(model, source, out, PARAMS, client=client, overwrite=True)
    assert result.rows == 500 and not (out / "keep.txt").exists()
