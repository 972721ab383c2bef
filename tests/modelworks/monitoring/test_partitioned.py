"""Partitioned drift on Dask equals the in-memory summary: same verdicts, same numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelworks.monitoring import DriftParams, build_reference_profile, compute_drift
from modelworks.monitoring.drift import prediction_drift
from modelworks.monitoring.partitioned import (
    exact_sketch_distances,
    partitioned_drift,
    partitioned_prediction_drift,
    reduce_partitions,
)
from modelworks.monitoring.statistics import sketch_distances

distributed = pytest.importorskip("distributed")

NUMERIC = ["amount", "visits", "ratio"]
CATEGORICAL = ["segment"]


def make_frame(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """Continuous, discrete (ties on the sketch's knots), skewed with gaps, and categorical
    columns; ``shift`` moves every one of them, a new category included."""
    rng = np.random.default_rng(seed)
    ratio = rng.lognormal(0.3 * shift, 0.5, n)
    ratio[rng.uniform(size=n) < 0.02 + 0.2 * shift] = np.nan
    segments = ["a", "b", "c"] + (["new"] if shift else [])
    return pd.DataFrame(
        {
            "amount": rng.normal(100.0 + 15.0 * shift, 15.0, n),
            "visits": rng.poisson(3.0 + shift, n).astype(float),
            "ratio": ratio,
            "segment": rng.choice(segments, n),
            "score": rng.beta(2.0, 5.0 + 3.0 * shift, n),
        }
    )


def write_partitions(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir()
    for i, index in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[index].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    reference = make_frame(3_000, seed=1)
    return build_reference_profile(
        reference, numeric=NUMERIC, categorical=CATEGORICAL, scores=reference["score"]
    )


def assert_same(expected: Any, actual: Any, where: str = "") -> None:
    """Equal structures; floats within a relative 1e-9 (sums taken in another order)."""
    if isinstance(expected, dict):
        assert set(expected) == set(actual), where
        for key in expected:
            assert_same(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(expected) == len(actual), where
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_same(e, a, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), where
    else:
        assert expected == actual, where


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_partitioned_drift_equals_in_memory(
    client: Any, profile: dict[str, Any], tmp_path: Path, shift: float
) -> None:
    current = make_frame(4_000, seed=2, shift=shift)
    folder = write_partitions(current, tmp_path / "current", parts=3)
    params = DriftParams()

    expected = compute_drift(profile, current, params)
    # A small chunk splits the exact KS / Wasserstein pass into several pieces.
    actual = partitioned_drift(profile, folder, params, max_chunk=700)

    assert actual["verdict"] == expected["verdict"]
    assert [f["verdict"] for f in actual["features"]] == [
        f["verdict"] for f in expected["features"]
    ]
    assert_same(expected, actual)
    assert (expected["verdict"] == "ok") == (shift == 0.0)


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_partitioned_prediction_drift_equals_in_memory(
    client: Any, profile: dict[str, Any], tmp_path: Path, shift: float
) -> None:
    current = make_frame(4_000, seed=3, shift=shift)
    folder = write_partitions(current, tmp_path / "current", parts=4)
    params = DriftParams()
    expected = prediction_drift(profile, current["score"], params)
    actual = partitioned_prediction_drift(profile, folder, params, max_chunk=500)
    assert actual["verdict"] == expected["verdict"]
    assert_same(expected, actual)


def test_exact_sketch_distances_match_the_sorted_sample(
    client: Any, profile: dict[str, Any], tmp_path: Path
) -> None:
    """Values beyond both outer knots, on the knots and in empty knot intervals."""
    rng = np.random.default_rng(4)
    visits = np.concatenate([rng.poisson(3.0, 2_000), [-5.0, 40.0, 41.0]]).astype(float)
    frame = pd.DataFrame({"visits": rng.permutation(visits)})
    folder = write_partitions(frame, tmp_path / "visits", parts=2)
    ref = profile["features"]["visits"]
    stats = reduce_partitions(folder, {"visits": ref})["visits"]
    for chunk in (1, 50, 10_000):
        ks, area = exact_sketch_distances(folder, "visits", ref, stats, max_chunk=chunk)  # type: ignore[arg-type]
        expected = sketch_distances(ref["sketch"], int(ref["count"]), np.sort(visits))
        assert ks == pytest.approx(expected.ks_statistic, rel=1e-12)
        assert area == pytest.approx(expected.wasserstein, rel=1e-9)


def test_missing_feature_is_named(profile: dict[str, Any], tmp_path: Path) -> None:
    folder = write_partitions(make_frame(100, seed=5).drop(columns="visits"), tmp_path / "c", 1)
    with pytest.raises(ValueError, match="visits"):
        partitioned_drift(profile, folder, DriftParams())
