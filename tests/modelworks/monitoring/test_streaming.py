"""Streaming drift over parquet equals the in-memory path: same profile, same verdicts, counts
equal and KS / Wasserstein within the error bounds it reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelworks.monitoring import DriftParams, build_reference_profile, compute_drift
from modelworks.monitoring.counts import GridCounts, grid_counts, grid_distances, sketch_grid
from modelworks.monitoring.statistics import sketch_distances
from modelworks.monitoring.streaming import stream_drift, stream_reference_profile

NUMERIC = ["amount", "visits", "ratio", "constant"]
CATEGORICAL = ["segment", "code", "grade"]
# Equal counts give equal statistics up to the order of float sums.
EXACT = {"rel": 1e-9, "abs": 1e-12}
# With 64 grid steps per knot interval the reference CDF rises by at most 0.5% / 64 in a cell;
# at a few thousand rows a cell holds at most a few current values.
KS_BOUND = 2e-3
WASSERSTEIN_STD_BOUND = 0.01


def make_frame(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """Continuous, discrete (ties on the sketch's knots), skewed with missing values, constant,
    string, integer-coded and pandas categorical columns; ``shift`` moves each, new categories
    too."""
    rng = np.random.default_rng(seed)
    ratio = rng.lognormal(0.3 * shift, 0.5, n)
    ratio[rng.uniform(size=n) < 0.02 + 0.2 * shift] = np.nan
    segments = ["a", "b", "c"] + (["new"] if shift else [])
    # A pandas Categorical: dictionary-encoded in parquet, with missing values and a declared
    # category that never occurs.
    grades = pd.Categorical(
        rng.choice(["A", "B", "C", "D"] if shift else ["A", "B", "C"], n),
        categories=["A", "B", "C", "D", "unused"],
    )
    grades[rng.uniform(size=n) < 0.05 + 0.1 * shift] = np.nan
    return pd.DataFrame(
        {
            "amount": rng.normal(100.0 + 15.0 * shift, 15.0, n),
            "visits": rng.poisson(3.0 + shift, n).astype(float),
            "ratio": ratio,
            "constant": np.full(n, 7.0),
            "segment": rng.choice(segments, n),
            "code": rng.integers(0, 5 + int(shift * 4), n),
            "grade": grades,
        }
    )


def write_parquet(frame: pd.DataFrame, path: Path, *, files: int = 1) -> Path:
    """The frame as one parquet file, or as a folder of ``files`` files."""
    if files == 1:
        frame.to_parquet(path, index=False)
        return path
    path.mkdir()
    for i, index in enumerate(np.array_split(np.arange(len(frame)), files)):
        frame.iloc[index].to_parquet(path / f"part-{i}.parquet", index=False)
    return path


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_frame(3_000, seed=1)


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame) -> dict[str, Any]:
    return build_reference_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL)


def test_streamed_profile_equals_in_memory(
    reference: pd.DataFrame, profile: dict[str, Any], tmp_path: Path
) -> None:
    source = write_parquet(reference, tmp_path / "reference", files=3)
    streamed = stream_reference_profile(source, numeric=NUMERIC, categorical=CATEGORICAL)
    assert streamed == profile


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_stream_drift_equals_in_memory(
    profile: dict[str, Any], tmp_path: Path, shift: float
) -> None:
    current = make_frame(4_000, seed=2, shift=shift)
    source = write_parquet(current, tmp_path / "current.parquet")
    params = DriftParams()

    expected = compute_drift(profile, current, params)
    # 700-row record batches: the counts of six chunks are summed.
    actual = stream_drift(profile, source, params, chunk_rows=700)

    assert (expected["verdict"] == "ok") == (shift == 0.0)
    assert actual["verdict"] == expected["verdict"]
    assert [(f["feature"], f["verdict"]) for f in actual["features"]] == [
        (f["feature"], f["verdict"]) for f in expected["features"]
    ]
    streamed = {f["feature"]: f for f in actual["features"]}
    for row in expected["features"]:
        other = streamed[row["feature"]]
        for key in ("psi", "js_distance", "chi2_statistic", "missing_rate_change", "unseen_rate"):
            if row.get(key) is not None:
                assert other[key] == pytest.approx(row[key], **EXACT), (row["feature"], key)
        assert other["unseen_categories"] == row["unseen_categories"]
        if row["kind"] != "numeric" or row["ks_statistic"] is None:
            continue
        bounds = actual["approximation"][row["feature"]]
        # The grid's KS is the gap at grid points: never above the exact one, at most the bound
        # below it.
        gap = row["ks_statistic"] - other["ks_statistic"]
        assert -1e-12 <= gap <= bounds["ks_error"] + 1e-12, row["feature"]
        assert bounds["ks_error"] <= KS_BOUND
        assert abs(row["wasserstein"] - other["wasserstein"]) <= bounds["wasserstein_error"] + 1e-12
        if row["wasserstein_normalised"] is not None:
            std = row["wasserstein"] / row["wasserstein_normalised"]
            assert bounds["wasserstein_error"] / std <= WASSERSTEIN_STD_BOUND


def test_chunk_size_does_not_change_the_summary(profile: dict[str, Any], tmp_path: Path) -> None:
    source = write_parquet(make_frame(2_000, seed=3, shift=0.5), tmp_path / "c", files=2)
    profile_path = tmp_path / "profile.json"
    profile_path.write_text(json.dumps(profile))
    small = stream_drift(profile_path, source, DriftParams(), chunk_rows=150)
    large = stream_drift(profile, source, DriftParams(), chunk_rows=100_000)
    assert json.dumps(small, sort_keys=True) == json.dumps(large, sort_keys=True)


def test_grid_distances_bound_the_sorted_sample(profile: dict[str, Any]) -> None:
    """Values beyond both outer knots, on the knots and between them."""
    rng = np.random.default_rng(4)
    visits = np.concatenate([rng.poisson(3.0, 2_000), [-5.0, 40.0, 41.0, np.nan]]).astype(float)
    ref = profile["features"]["visits"]
    knots = np.asarray(ref["sketch"]["values"], dtype=float)
    values = rng.permutation(np.append(visits, [np.inf, -np.inf]))
    counts: GridCounts = grid_counts(
        values, sketch_grid(knots, 16), np.asarray(ref["bin_edges"]), np.empty(len(values) + 5)
    )
    assert (counts.n_rows, counts.count) == (2_006, 2_003)

    distances = grid_distances(ref["sketch"], int(ref["count"]), counts, 16)
    finite = np.sort(visits[np.isfinite(visits)])
    exact = sketch_distances(ref["sketch"], int(ref["count"]), finite)
    gap = exact.ks_statistic - distances.ks_statistic
    assert -1e-12 <= gap <= distances.ks_error + 1e-12
    assert abs(exact.wasserstein - distances.wasserstein) <= distances.wasserstein_error + 1e-12


def test_missing_feature_is_named(profile: dict[str, Any], tmp_path: Path) -> None:
    source = write_parquet(make_frame(100, seed=5).drop(columns="visits"), tmp_path / "c.parquet")
    with pytest.raises(ValueError, match="visits"):
        stream_drift(profile, source, DriftParams())


def test_non_numeric_values_are_named(profile: dict[str, Any], tmp_path: Path) -> None:
    frame = make_frame(100, seed=6).assign(amount="high")
    source = write_parquet(frame, tmp_path / "c.parquet")
    with pytest.raises(ValueError, match=r"'amount'.*non-numeric"):
        stream_drift(profile, source, DriftParams())
