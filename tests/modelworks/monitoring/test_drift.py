"""Drift statistics: hand-computed PSI, verdicts on known shifts, KS accuracy, JSON round trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from modelworks.monitoring import (
    DriftParams,
    DriftThresholds,
    build_reference_profile,
    compute_drift,
    holm_correction,
    population_stability_index,
)

NUMERIC = ["amount", "ratio", "visits"]
CATEGORICAL = ["segment", "code"]
EPS = 1e-4


def make_frame(
    n: int, seed: int, *, shift: float = 0.0, segment_p: tuple[float, ...] = (0.5, 0.3, 0.2)
) -> pd.DataFrame:
    """Continuous, skewed, discrete and categorical columns; ``shift`` moves ``amount``'s mean."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(100.0 + shift, 15.0, n),
            "ratio": rng.lognormal(0.0, 0.5, n),
            "visits": rng.poisson(3.0, n),
            "segment": rng.choice(["retail", "business", "public"], n, p=segment_p),
            "code": rng.integers(1, 6, n),
        }
    )


def by_feature(summary: dict) -> dict[str, dict]:
    return {row["feature"]: row for row in summary["features"]}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_frame(50_000, seed=1)


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame) -> dict:
    return build_reference_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL)


# -- PSI by hand ---------------------------------------------------------------------------


def test_psi_with_empty_bucket_uses_epsilon() -> None:
    expected = (1.0 - 0.5) * math.log(1.0 / 0.5) + (EPS - 0.5) * math.log(EPS / 0.5)
    assert population_stability_index(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == (
        pytest.approx(expected)
    )


def test_numeric_psi_matches_hand_computation() -> None:
    reference = pd.DataFrame({"x": np.arange(100, dtype=float)})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[], n_bins=4)
    ref = profile["features"]["x"]
    assert ref["bin_edges"] == pytest.approx([24.75, 49.5, 74.25])
    assert ref["bin_proportions"] == pytest.approx([0.25, 0.25, 0.25, 0.25])

    current = pd.DataFrame({"x": [10.0] * 40 + [30.0] * 30 + [60.0] * 20 + [90.0] * 10})
    summary = compute_drift(profile, current, DriftParams())
    # The missing bucket is empty on both sides and contributes nothing.
    expected = sum((c - 0.25) * math.log(c / 0.25) for c in (0.4, 0.3, 0.2, 0.1))
    assert summary["features"][0]["psi"] == pytest.approx(expected)


def test_categorical_psi_matches_hand_computation() -> None:
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    current = pd.DataFrame({"c": ["a"] * 40 + ["b"] * 30 + ["c"] * 30})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    assert profile["features"]["c"]["frequencies"] == {"a": 0.5, "b": 0.3, "c": 0.2}

    row = compute_drift(profile, current, DriftParams())["features"][0]
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.3 - 0.2) * math.log(0.3 / 0.2)
    assert row["psi"] == pytest.approx(expected)
    chi2, p, _, _ = stats.chi2_contingency([[50, 30, 20], [40, 30, 30]], correction=False)
    assert row["chi2_statistic"] == pytest.approx(chi2)
    assert row["chi2_p_value"] == pytest.approx(p)


def test_holm_correction_matches_hand_computation() -> None:
    # Sorted: 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 -> max(0.06, 0.04); None is no test.
    assert holm_correction([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])


# -- verdicts ------------------------------------------------------------------------------


def test_same_distribution_is_not_flagged(profile: dict) -> None:
    summary = compute_drift(profile, make_frame(50_000, seed=2), DriftParams())

    assert summary["n_reference"] == 50_000
    assert summary["n_current"] == 50_000
    assert not summary["drift_detected"]
    assert summary["n_warn"] == summary["n_critical"] == 0
    assert {row["feature"] for row in summary["features"]} == set(NUMERIC + CATEGORICAL)
    for row in summary["features"]:
        assert row["verdict"] == "ok"
        assert row["psi"] < 0.002
        assert row["p_value_corrected"] > 0.01


def test_mean_shift_and_category_mix_shift_are_critical(profile: dict) -> None:
    current = make_frame(20_000, seed=3, shift=15.0, segment_p=(0.2, 0.3, 0.5))
    summary = compute_drift(profile, current, DriftParams())
    rows = by_feature(summary)

    assert summary["drift_detected"]
    assert summary["n_critical"] == 2
    assert rows["amount"]["verdict"] == "critical"
    assert rows["segment"]["verdict"] == "critical"
    for name in ("ratio", "visits", "code"):
        assert rows[name]["verdict"] == "ok"
    assert rows["amount"]["ks_statistic"] > 0.3
    assert rows["amount"]["p_value_corrected"] < 1e-10
    assert rows["segment"]["chi2_p_value"] < 1e-10
    psis = [row["psi"] for row in summary["features"]]
    assert psis == sorted(psis, reverse=True)


def test_tiny_shift_on_large_sample_only_warns() -> None:
    # A 0.03-sd shift is real but immaterial: the KS test sees it on 200k rows, PSI does not.
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(0.0, 1.0, 200_000)})
    current = pd.DataFrame({"x": rng.normal(0.03, 1.0, 200_000)})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[])
    row = compute_drift(profile, current, DriftParams())["features"][0]

    assert row["psi"] < 0.01
    assert row["p_value_corrected"] < 0.01
    assert row["verdict"] == "warn"


def test_thresholds_are_applied() -> None:
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50})
    current = pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    psi = compute_drift(profile, current, DriftParams())["features"][0]["psi"]  # ~0.04

    def verdict(**thresholds: float) -> str:
        params = DriftParams(thresholds=DriftThresholds(**thresholds))
        return compute_drift(profile, current, params)["features"][0]["verdict"]

    assert verdict() == "ok"
    assert verdict(psi_warn=psi / 2) == "warn"
    assert verdict(psi_warn=psi / 4, psi_critical=psi / 2) == "critical"


# -- categories and missing values -----------------------------------------------------------


def test_unseen_categories_are_listed() -> None:
    reference = pd.DataFrame({"c": ["a", "b"] * 500})
    current = pd.DataFrame({"c": ["a"] * 800 + ["z"] * 150 + ["y"] * 50})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    row = compute_drift(profile, current, DriftParams())["features"][0]

    assert row["unseen_categories"] == ["z", "y"]
    assert row["n_unseen_categories"] == 2
    assert row["verdict"] == "critical"


def test_integer_codes_match_after_a_missing_value_makes_them_float() -> None:
    reference = pd.DataFrame({"code": np.tile([1, 2, 3], 1000)})
    current = pd.DataFrame({"code": np.tile([1.0, 2.0, 3.0, np.nan], 750)})
    profile = build_reference_profile(reference, numeric=[], categorical=["code"])
    row = compute_drift(profile, current, DriftParams())["features"][0]

    assert row["unseen_categories"] == []
    assert row["chi2_statistic"] == pytest.approx(0.0)
    assert row["missing_rate_current"] == pytest.approx(0.25)


def test_declared_but_absent_pandas_categories_are_not_unseen() -> None:
    dtype = pd.CategoricalDtype(["a", "b", "c", "d"])
    reference = pd.DataFrame({"c": pd.Series(["a", "b"] * 100, dtype=dtype)})
    current = pd.DataFrame({"c": pd.Series(["a", "b"] * 100, dtype=dtype)})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    assert profile["features"]["c"]["frequencies"] == {"a": 0.5, "b": 0.5}

    row = compute_drift(profile, current, DriftParams())["features"][0]
    assert row["unseen_categories"] == []
    assert row["psi"] == pytest.approx(0.0)


def test_missing_rate_change_is_reported_and_moves_psi() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=10_000)
    labels = np.tile(np.array(["a", "b"], dtype=object), 5_000)
    reference = pd.DataFrame({"x": values, "c": labels})
    reference.loc[:99, "x"] = np.nan  # 1% missing
    current = reference.copy()
    current.loc[: 3_000 - 1, "x"] = np.nan  # 30% missing
    current.loc[: 2_000 - 1, "c"] = None  # 20% missing

    profile = build_reference_profile(reference, numeric=["x"], categorical=["c"])
    assert profile["features"]["x"]["missing_rate"] == pytest.approx(0.01)
    assert profile["features"]["x"]["count"] == 9_900
    rows = by_feature(compute_drift(profile, current, DriftParams()))

    assert rows["x"]["missing_rate_reference"] == pytest.approx(0.01)
    assert rows["x"]["missing_rate_current"] == pytest.approx(0.30)
    assert rows["c"]["missing_rate_reference"] == pytest.approx(0.0)
    assert rows["c"]["missing_rate_current"] == pytest.approx(0.20)
    # "a" and "b" each fall from 0.5 to 0.4 of the rows; the missing bucket rises from 0 to 0.2.
    expected_c = 2 * (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.2 - EPS) * math.log(0.2 / EPS)
    assert rows["c"]["psi"] == pytest.approx(expected_c)
    assert rows["x"]["verdict"] == rows["c"]["verdict"] == "critical"


def test_infinite_values_count_as_missing() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, np.inf, 3.0]})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[])
    assert profile["features"]["x"]["missing_rate"] == pytest.approx(0.25)
    assert json.loads(json.dumps(profile, allow_nan=False)) == profile


def test_all_missing_batch_is_critical_without_a_test() -> None:
    reference = pd.DataFrame({"x": np.arange(1_000, dtype=float)})
    current = pd.DataFrame({"x": [np.nan] * 500})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[])
    row = compute_drift(profile, current, DriftParams())["features"][0]

    assert row["missing_rate_current"] == 1.0
    assert row["ks_statistic"] is None
    assert row["p_value_corrected"] is None
    assert row["verdict"] == "critical"


def test_constant_reference_feature() -> None:
    reference = pd.DataFrame({"x": [5.0] * 1_000})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[])
    assert profile["features"]["x"]["bin_edges"] == [5.0]

    same = compute_drift(profile, pd.DataFrame({"x": [5.0] * 300}), DriftParams())["features"][0]
    assert same["ks_statistic"] == 0.0
    assert same["verdict"] == "ok"
    moved = compute_drift(profile, pd.DataFrame({"x": [6.0] * 300}), DriftParams())["features"][0]
    assert moved["ks_statistic"] == 1.0
    assert moved["verdict"] == "critical"


# -- KS accuracy -------------------------------------------------------------------------------


@pytest.mark.parametrize("feature", ["amount", "ratio", "visits"])
@pytest.mark.parametrize("shift", [0.0, 3.0])
def test_ks_statistic_close_to_scipy_on_raw_samples(
    reference: pd.DataFrame, profile: dict, feature: str, shift: float
) -> None:
    current = make_frame(20_000, seed=6, shift=shift)
    row = by_feature(compute_drift(profile, current, DriftParams()))[feature]

    exact = stats.ks_2samp(reference[feature], current[feature])
    assert row["ks_statistic"] == pytest.approx(exact.statistic, abs=0.001)


# -- serialisation and errors ----------------------------------------------------------------


def test_profile_and_summary_survive_json(profile: dict) -> None:
    current = make_frame(5_000, seed=7, shift=10.0)
    restored = json.loads(json.dumps(profile, allow_nan=False))
    assert restored == profile

    summary = compute_drift(restored, current, DriftParams())
    assert summary == compute_drift(profile, current, DriftParams())
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_features_missing_from_current_frame_are_named(profile: dict) -> None:
    current = make_frame(100, seed=8).drop(columns=["ratio", "segment"])
    with pytest.raises(ValueError, match=r"\['ratio', 'segment'\]"):
        compute_drift(profile, current, DriftParams())


def test_profile_of_another_version_is_refused(profile: dict) -> None:
    with pytest.raises(ValueError, match="version 0"):
        compute_drift(profile | {"version": 0}, make_frame(100, seed=8), DriftParams())


def test_non_numeric_values_in_a_numeric_feature_are_named(profile: dict) -> None:
    current = make_frame(100, seed=9).astype({"amount": object})
    current.loc[3, "amount"] = "n/a"
    with pytest.raises(ValueError, match="'amount'"):
        compute_drift(profile, current, DriftParams())


def test_profile_rejects_unknown_and_ambiguous_columns() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"\['b'\]"):
        build_reference_profile(frame, numeric=["a", "b"], categorical=[])
    with pytest.raises(ValueError, match="both numeric and categorical"):
        build_reference_profile(frame, numeric=["a"], categorical=["a"])


def test_params_reject_unknown_keys_and_inverted_thresholds() -> None:
    with pytest.raises(ValidationError, match="n_binz"):
        DriftParams.model_validate({"n_binz": 5})
    with pytest.raises(ValidationError, match="psi_warn"):
        DriftThresholds(psi_warn=0.3, psi_critical=0.2)
