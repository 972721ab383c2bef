"""Drift statistics against scipy on the same samples, and by hand on small cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from modelworks.monitoring import (
    DriftParams,
    build_reference_profile,
    compute_drift,
    holm_correction,
    jensen_shannon_distance,
    population_stability_index,
)

EPS = 1e-4
# The sketch interpolates the reference CDF between ~215 quantile knots; against the full
# reference sample, its KS statistic stays within KS_TOLERANCE and its Wasserstein distance
# within WASSERSTEIN_TOLERANCE reference standard deviations.
KS_TOLERANCE = 0.001
WASSERSTEIN_TOLERANCE = 0.002


def samples(kind: str, n: int, seed: int, *, shift: float = 0.0) -> np.ndarray:
    """Continuous, heavy-tailed and discrete samples; ``shift`` moves the location."""
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(100.0 + 15 * shift, 15.0, n)
    if kind == "lognormal":
        return rng.lognormal(shift, 1.0, n)
    return rng.poisson(3.0 + 3 * shift, n).astype(float)


def single_feature(reference: np.ndarray, current: np.ndarray, **kwargs: object) -> dict:
    """The summary row of one numeric feature ``x``."""
    profile = build_reference_profile(pd.DataFrame({"x": reference}), numeric=["x"], categorical=[])
    summary = compute_drift(profile, pd.DataFrame({"x": current}), DriftParams(**kwargs))
    return summary["features"][0]


# -- PSI and Jensen-Shannon by hand ------------------------------------------------------------


def test_psi_with_empty_bucket_uses_epsilon() -> None:
    expected = (1.0 - 0.5) * math.log(1.0 / 0.5) + (EPS - 0.5) * math.log(EPS / 0.5)
    assert population_stability_index(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == (
        pytest.approx(expected)
    )


def test_jensen_shannon_matches_hand_computation() -> None:
    # m = (0.75, 0.25); KL(p || m) and KL(q || m) in bits, averaged, square-rooted.
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = 1.0 * math.log2(1.0 / 0.75)
    expected = math.sqrt((kl_p + kl_q) / 2)
    assert jensen_shannon_distance(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == (
        pytest.approx(expected)
    )
    assert jensen_shannon_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0
    assert jensen_shannon_distance(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


def test_numeric_psi_matches_hand_computation() -> None:
    reference = pd.DataFrame({"x": np.arange(100, dtype=float)})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[], n_bins=4)
    ref = profile["features"]["x"]
    assert ref["bin_edges"] == pytest.approx([24.75, 49.5, 74.25])
    assert ref["bin_proportions"] == pytest.approx([0.25, 0.25, 0.25, 0.25])

    current = pd.DataFrame({"x": [10.0] * 40 + [30.0] * 30 + [60.0] * 20 + [90.0] * 10})
    row = compute_drift(profile, current, DriftParams())["features"][0]
    # The missing bucket is empty on both sides and contributes nothing.
    expected = sum((c - 0.25) * math.log(c / 0.25) for c in (0.4, 0.3, 0.2, 0.1))
    assert row["psi"] == pytest.approx(expected)


def test_categorical_statistics_match_hand_computation_and_scipy() -> None:
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    current = pd.DataFrame({"c": ["a"] * 40 + ["b"] * 30 + ["c"] * 20 + ["new"] * 10})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    assert profile["features"]["c"]["frequencies"] == {"a": 0.5, "b": 0.3, "c": 0.2}

    row = compute_drift(profile, current, DriftParams())["features"][0]
    # Buckets a, b, c, (unseen), (missing): reference (.5, .3, .2, 0, 0), current (.4, .3, .2,
    # .1, 0); the empty reference unseen bucket counts as EPS in PSI.
    expected_psi = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - EPS) * math.log(0.1 / EPS)
    assert row["psi"] == pytest.approx(expected_psi)
    js = distance.jensenshannon([0.5, 0.3, 0.2, 0.0], [0.4, 0.3, 0.2, 0.1], base=2)
    assert row["js_distance"] == pytest.approx(js)
    chi2, p, _, _ = stats.chi2_contingency([[50, 30, 20, 0], [40, 30, 20, 10]], correction=False)
    assert row["chi2_statistic"] == pytest.approx(chi2)
    assert row["chi2_p_value"] == pytest.approx(p)
    assert row["unseen_rate"] == pytest.approx(0.1)


def test_holm_correction_matches_hand_computation() -> None:
    # Sorted: 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 -> max(0.06, 0.04); None is no test.
    assert holm_correction([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])


# -- sketch statistics against scipy on the full reference sample ------------------------------


@pytest.mark.parametrize("kind", ["normal", "lognormal", "poisson"])
@pytest.mark.parametrize("shift", [0.0, 0.2])
def test_ks_statistic_close_to_scipy(kind: str, shift: float) -> None:
    reference = samples(kind, 50_000, seed=1)
    current = samples(kind, 20_000, seed=2, shift=shift)
    row = single_feature(reference, current)

    exact = stats.ks_2samp(reference, current)
    assert row["ks_statistic"] == pytest.approx(exact.statistic, abs=KS_TOLERANCE)
    # Away from the extreme tail the asymptotic p-value tracks scipy's.
    if exact.pvalue > 1e-6:
        assert row["ks_p_value"] == pytest.approx(exact.pvalue, rel=0.25, abs=1e-3)


@pytest.mark.parametrize("kind", ["normal", "lognormal", "poisson"])
@pytest.mark.parametrize("shift", [0.0, 0.2])
def test_wasserstein_close_to_scipy(kind: str, shift: float) -> None:
    reference = samples(kind, 50_000, seed=3)
    current = samples(kind, 20_000, seed=4, shift=shift)
    row = single_feature(reference, current)

    exact = stats.wasserstein_distance(reference, current)
    scale = reference.std()
    assert row["wasserstein"] == pytest.approx(exact, abs=WASSERSTEIN_TOLERANCE * scale)
    assert row["wasserstein_normalised"] == pytest.approx(row["wasserstein"] / scale)


def test_wasserstein_is_exact_when_every_reference_value_is_a_knot() -> None:
    # Ten distinct values, each far above the sketch's 0.5% spacing: the sketch CDF is the
    # reference CDF, so the closed-form integral must equal scipy's, crossings included.
    rng = np.random.default_rng(5)
    reference = rng.integers(0, 10, 5_000).astype(float)
    current = np.concatenate([rng.normal(4.0, 3.0, 3_000), rng.integers(0, 10, 1_000)])
    row = single_feature(reference, current)

    assert row["wasserstein"] == pytest.approx(stats.wasserstein_distance(reference, current))
    assert row["ks_statistic"] == pytest.approx(stats.ks_2samp(reference, current).statistic)


def test_identical_samples_have_zero_distance() -> None:
    values = np.tile(np.arange(20, dtype=float), 50)
    row = single_feature(values, values)
    assert row["wasserstein"] == pytest.approx(0.0, abs=1e-12)
    assert row["ks_statistic"] == pytest.approx(0.0, abs=1e-12)
    assert row["psi"] == pytest.approx(0.0, abs=1e-12)
