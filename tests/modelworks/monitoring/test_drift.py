"""Drift verdicts: no false alarms on one distribution, known shifts flagged, edge cases, JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from modelworks.monitoring import (
    DriftParams,
    DriftThresholds,
    build_reference_profile,
    compute_drift,
    prediction_drift,
)
from modelworks.monitoring.statistics import two_proportion_p_value

NUMERIC = ["amount", "ratio", "visits"]
CATEGORICAL = ["segment", "code"]
SEGMENT_P = (0.5, 0.3, 0.2)


def make_frame(
    n: int,
    seed: int,
    *,
    shift: float = 0.0,
    scale: float = 1.0,
    segment_p: tuple[float, ...] = SEGMENT_P,
) -> pd.DataFrame:
    """Continuous, skewed, discrete and categorical columns; ``shift`` and ``scale`` move
    ``amount``'s mean and standard deviation (in units of its reference sd of 15)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(100.0 + 15.0 * shift, 15.0 * scale, n),
            "ratio": rng.lognormal(0.0, 0.5, n),
            "visits": rng.poisson(3.0, n),
            "segment": rng.choice(["retail", "business", "public"], n, p=segment_p),
            "code": rng.integers(1, 6, n),
        }
    )


def by_feature(summary: dict) -> dict[str, dict]:
    return {row["feature"]: row for row in summary["features"]}


def verdicts(summary: dict) -> dict[str, str]:
    return {row["feature"]: row["verdict"] for row in summary["features"]}


@pytest.fixture(scope="module")
def profile() -> dict:
    return build_reference_profile(
        make_frame(50_000, seed=1), numeric=NUMERIC, categorical=CATEGORICAL
    )


# -- no false alarms -----------------------------------------------------------------------


def test_same_distribution_is_not_flagged(profile: dict) -> None:
    summary = compute_drift(profile, make_frame(50_000, seed=2), DriftParams())

    assert summary["n_reference"] == summary["n_current"] == 50_000
    assert not summary["drift_detected"]
    assert summary["verdict"] == "ok"
    assert summary["n_warn"] == summary["n_critical"] == 0
    assert set(verdicts(summary)) == set(NUMERIC + CATEGORICAL)
    for row in summary["features"]:
        assert row["verdict"] == "ok"
        assert row["reasons"] == []
        assert row["psi"] < 0.002
        assert row["p_value_corrected"] > 0.01
        assert (row["wasserstein_normalised"] or 0.0) < 0.03
        assert (row["js_distance"] or 0.0) < 0.03


def test_false_alarm_rate_is_within_the_configured_level() -> None:
    # Reference and batch drawn afresh from one distribution, 100 times. Holm keeps the chance
    # that any of the five features warns at or below the family-wise level (10% here); the
    # effect sizes must never reach a threshold. 17 or more alarms in 100 runs would happen
    # with probability < 3% at a true rate of 10%.
    level, runs = 0.10, 100
    params = DriftParams(thresholds=DriftThresholds(p_value=level))
    alarms = 0
    for seed in range(runs):
        reference = make_frame(5_000, seed=1_000 + seed)
        profile = build_reference_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL)
        summary = compute_drift(profile, make_frame(2_000, seed=5_000 + seed), params)
        assert summary["n_critical"] == 0
        for row in summary["features"]:
            assert all("p (Holm)" in reason for reason in row["reasons"]), row
        alarms += summary["n_warn"] > 0
    assert alarms <= 16


# -- known shifts --------------------------------------------------------------------------


def test_shifted_mean_is_critical(profile: dict) -> None:
    summary = compute_drift(profile, make_frame(20_000, seed=3, shift=0.5), DriftParams())
    row = by_feature(summary)["amount"]

    assert verdicts(summary) == {name: "ok" for name in NUMERIC + CATEGORICAL} | {
        "amount": "critical"
    }
    assert summary["drift_detected"]
    assert row["wasserstein_normalised"] == pytest.approx(0.5, abs=0.03)
    assert row["ks_statistic"] > 0.15
    assert row["p_value_corrected"] < 1e-10
    assert any(r.startswith("critical: Wasserstein/std") for r in row["reasons"])
    assert summary["features"][0]["feature"] == "amount"


def test_shifted_variance_is_critical(profile: dict) -> None:
    summary = compute_drift(profile, make_frame(20_000, seed=4, scale=1.6), DriftParams())
    row = by_feature(summary)["amount"]

    assert row["verdict"] == "critical"
    assert row["psi"] >= 0.25
    # Same mean, so the spread alone moves the Wasserstein distance: E|Z| (1.6 - 1) sd.
    assert row["wasserstein_normalised"] == pytest.approx(0.6 * np.sqrt(2 / np.pi), abs=0.03)
    assert summary["n_critical"] == 1


def test_new_category_is_critical_and_listed() -> None:
    reference = pd.DataFrame({"c": ["a", "b"] * 500})
    current = pd.DataFrame({"c": ["a"] * 800 + ["z"] * 150 + ["y"] * 50})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    row = compute_drift(profile, current, DriftParams())["features"][0]

    assert row["unseen_categories"] == ["z", "y"]
    assert row["n_unseen_categories"] == 2
    assert row["unseen_rate"] == pytest.approx(0.2)
    assert row["verdict"] == "critical"
    assert "critical: unseen-category rate 0.2 >= 0.05" in row["reasons"]


def test_small_share_of_a_new_category_warns(profile: dict) -> None:
    current = make_frame(20_000, seed=5)
    current.loc[:299, "segment"] = "government"  # 1.5% of rows
    row = by_feature(compute_drift(profile, current, DriftParams()))["segment"]

    assert row["unseen_categories"] == ["government"]
    assert row["unseen_rate"] == pytest.approx(0.015)
    assert "warn: unseen-category rate 0.015 >= 0.01" in row["reasons"]


def test_category_mix_shift_is_critical(profile: dict) -> None:
    current = make_frame(20_000, seed=6, segment_p=(0.2, 0.3, 0.5))
    row = by_feature(compute_drift(profile, current, DriftParams()))["segment"]

    assert row["verdict"] == "critical"
    assert row["js_distance"] > 0.2
    assert row["chi2_p_value"] < 1e-10


def test_missing_value_spike_is_critical(profile: dict) -> None:
    current = make_frame(20_000, seed=7)
    current.loc[: 3_000 - 1, "ratio"] = np.nan  # 15%
    current.loc[: 1_000 - 1, "code"] = np.nan  # 5%, and the integer codes turn float
    rows = by_feature(compute_drift(profile, current, DriftParams()))

    assert rows["ratio"]["missing_rate_change"] == pytest.approx(0.15)
    assert rows["code"]["missing_rate_change"] == pytest.approx(0.05)
    assert rows["ratio"]["verdict"] == rows["code"]["verdict"] == "critical"
    assert "critical: missing-rate change 0.15 >= 0.1" in rows["ratio"]["reasons"]
    # The values that are present still match the reference.
    assert rows["ratio"]["ks_p_value"] > 0.01
    assert rows["code"]["unseen_categories"] == []
    for name in ("amount", "visits", "segment"):
        assert rows[name]["verdict"] == "ok"


def test_tiny_shift_on_large_sample_only_warns() -> None:
    # A 0.03-sd shift is real but immaterial: the KS test sees it on 200k rows, the effect
    # sizes do not.
    rng = np.random.default_rng(8)
    reference = pd.DataFrame({"x": rng.normal(0.0, 1.0, 200_000)})
    current = pd.DataFrame({"x": rng.normal(0.03, 1.0, 200_000)})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[])
    row = compute_drift(profile, current, DriftParams())["features"][0]

    assert row["psi"] < 0.01
    assert row["wasserstein_normalised"] < 0.05
    assert row["p_value_corrected"] < 0.01
    assert row["verdict"] == "warn"
    assert [r.split(" ")[1] for r in row["reasons"]] == ["KS"]


def test_thresholds_are_applied() -> None:
    reference = pd.DataFrame({"c": ["a"] * 5000 + ["b"] * 5000})
    current = pd.DataFrame({"c": ["a"] * 6000 + ["b"] * 4000})
    profile = build_reference_profile(reference, numeric=[], categorical=["c"])
    row = compute_drift(profile, current, DriftParams())["features"][0]
    psi, js = row["psi"], row["js_distance"]  # ~0.04, ~0.085

    def verdict(**thresholds: float) -> str:
        params = DriftParams(thresholds=DriftThresholds(**thresholds))
        return compute_drift(profile, current, params)["features"][0]["verdict"]

    assert verdict(p_value=1e-300) == "ok"
    assert verdict(psi_warn=psi / 2) == "warn"
    assert verdict(psi_warn=psi / 4, psi_critical=psi / 2) == "critical"
    assert verdict(js_warn=js / 2) == "warn"
    assert verdict(js_warn=js / 4, js_critical=js / 2) == "critical"


# -- prediction drift ------------------------------------------------------------------------


def test_prediction_drift_flags_a_moved_score_distribution() -> None:
    rng = np.random.default_rng(9)
    frame = pd.DataFrame({"x": rng.normal(size=5_000)})
    scores = rng.beta(2, 5, 5_000)
    profile = build_reference_profile(frame, numeric=["x"], categorical=[], scores=scores)
    params = DriftParams()

    same = prediction_drift(profile, rng.beta(2, 5, 5_000), params)
    moved = prediction_drift(profile, rng.beta(3, 4, 5_000), params)

    assert same["verdict"] == "ok"
    assert same["mean_current"] == pytest.approx(2 / 7, abs=0.01)
    assert moved["verdict"] == "critical"
    assert moved["mean_current"] == pytest.approx(3 / 7, abs=0.01)
    assert moved["psi"] > 0.25
    assert sum(moved["bins"]["current"]) == pytest.approx(1.0)
    assert len(moved["bins"]["labels"]) == len(moved["bins"]["reference"]) == 11


def test_prediction_drift_needs_scores_in_the_profile(profile: dict) -> None:
    with pytest.raises(ValueError, match="no scores"):
        prediction_drift(profile, np.array([0.1, 0.2]), DriftParams())


# -- edge cases ------------------------------------------------------------------------------


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
    assert row["js_distance"] == pytest.approx(0.0)


def test_infinite_values_count_as_missing() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, np.inf, 3.0]})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[])
    assert profile["features"]["x"]["missing_rate"] == pytest.approx(0.25)
    assert profile["features"]["x"]["mean"] == pytest.approx(2.0)
    assert json.loads(json.dumps(profile, allow_nan=False)) == profile


def test_all_missing_batch_is_critical_without_a_test() -> None:
    reference = pd.DataFrame({"x": np.arange(1_000, dtype=float)})
    current = pd.DataFrame({"x": [np.nan] * 500})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[])
    row = compute_drift(profile, current, DriftParams())["features"][0]

    assert row["missing_rate_current"] == 1.0
    assert row["ks_statistic"] is None
    assert row["wasserstein"] is None
    assert row["p_value_corrected"] is None
    assert row["verdict"] == "critical"


def test_constant_reference_feature() -> None:
    reference = pd.DataFrame({"x": [5.0] * 1_000})
    profile = build_reference_profile(reference, numeric=["x"], categorical=[])
    assert profile["features"]["x"]["bin_edges"] == [5.0]

    same = compute_drift(profile, pd.DataFrame({"x": [5.0] * 300}), DriftParams())["features"][0]
    assert same["ks_statistic"] == 0.0
    assert same["wasserstein"] == 0.0
    assert same["wasserstein_normalised"] is None
    assert same["verdict"] == "ok"
    moved = compute_drift(profile, pd.DataFrame({"x": [6.0] * 300}), DriftParams())["features"][0]
    assert moved["ks_statistic"] == 1.0
    assert moved["wasserstein"] == pytest.approx(1.0)
    assert moved["verdict"] == "critical"


# -- serialisation and errors ----------------------------------------------------------------


def test_profile_and_summary_survive_json(profile: dict) -> None:
    current = make_frame(5_000, seed=10, shift=0.7)
    restored = json.loads(json.dumps(profile, allow_nan=False))
    assert restored == profile

    summary = compute_drift(restored, current, DriftParams())
    assert summary == compute_drift(profile, current, DriftParams())
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    assert summary["thresholds"] == DriftThresholds().model_dump()


def test_features_missing_from_current_frame_are_named(profile: dict) -> None:
    current = make_frame(100, seed=11).drop(columns=["ratio", "segment"])
    with pytest.raises(ValueError, match=r"\['ratio', 'segment'\]"):
        compute_drift(profile, current, DriftParams())


def test_profile_of_another_version_is_refused(profile: dict) -> None:
    with pytest.raises(ValueError, match="version 1 is not supported"):
        compute_drift(profile | {"version": 1}, make_frame(100, seed=12), DriftParams())


def test_non_numeric_values_in_a_numeric_feature_are_named(profile: dict) -> None:
    current = make_frame(100, seed=13).astype({"amount": object})
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
    with pytest.raises(ValidationError, match=r"wasserstein_warn \(0.5\)"):
        DriftThresholds(wasserstein_warn=0.5)


def test_a_small_batch_needs_a_significant_change_to_be_critical() -> None:
    # Zero-inflated counts, as a borrower's late payments: 300 rows from the same distribution
    # move Wasserstein/std a lot by chance; the KS test says it is chance.
    rng = np.random.default_rng(12)

    def counts(n: int) -> np.ndarray:
        return rng.poisson(0.3, n) * rng.integers(0, 2, n)

    profile = build_reference_profile(
        pd.DataFrame({"late": counts(20_000)}), numeric=["late"], categorical=[]
    )
    tight = DriftParams(
        thresholds=DriftThresholds(wasserstein_warn=0.01, wasserstein_critical=0.02)
    )
    verdicts = [
        compute_drift(profile, pd.DataFrame({"late": counts(300)}), tight)["features"][0]
        for _ in range(20)
    ]
    assert all(row["verdict"] != "critical" for row in verdicts)
    noisy = [row for row in verdicts if row["wasserstein_normalised"] >= 0.02]
    assert noisy and all("within noise" in " ".join(row["reasons"]) for row in noisy)
    # the same effect, significant on a large batch, is critical
    shifted = pd.DataFrame({"late": counts(20_000) + rng.integers(0, 2, 20_000)})
    assert compute_drift(profile, shifted, tight)["features"][0]["verdict"] == "critical"


def _with_missing(n: int, missing: int, seed: int) -> pd.DataFrame:
    """A numeric and a categorical column, each missing on its first ``missing`` rows."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50.0, 10.0, n),
            "employer": rng.choice(["a", "b", "c"], n).astype(object),
        }
    )
    frame.loc[: missing - 1, ["income", "employer"]] = np.nan
    return frame


def test_a_missing_rate_change_within_noise_is_ok() -> None:
    # The case: 47.8% -> 45.4% missing over 592 rows, against a few thousand rows.
    profile = build_reference_profile(
        _with_missing(3_000, 1_434, seed=1), numeric=["income"], categorical=["employer"]
    )
    summary = compute_drift(profile, _with_missing(592, 269, seed=2), DriftParams())
    rows = by_feature(summary)

    for row in rows.values():
        assert row["missing_rate_change"] == pytest.approx(269 / 592 - 0.478, abs=1e-3)
        assert abs(row["missing_rate_change"]) >= DriftThresholds().missing_rate_warn
        assert row["missing_p_value_corrected"] > 0.5
        assert row["verdict"] == "ok", row["reasons"]
    assert summary["verdict"] == "ok"


def test_a_significant_missing_rate_jump_is_still_critical() -> None:
    profile = build_reference_profile(
        _with_missing(3_000, 1_434, seed=1), numeric=["income"], categorical=["employer"]
    )
    rows = by_feature(compute_drift(profile, _with_missing(592, 480, seed=2), DriftParams()))

    for row in rows.values():
        assert row["missing_p_value_corrected"] < 1e-6
        assert row["verdict"] == "critical"
        assert any(r.startswith("critical: missing-rate change") for r in row["reasons"])


def test_a_large_missing_rate_change_on_a_tiny_batch_only_warns() -> None:
    # 20 rows: a 15-point change is within noise, so it warns and is not critical.
    profile = build_reference_profile(
        _with_missing(3_000, 1_434, seed=1), numeric=["income"], categorical=["employer"]
    )
    row = by_feature(compute_drift(profile, _with_missing(20, 13, seed=3), DriftParams()))["income"]
    assert row["missing_p_value_corrected"] >= 0.01
    assert row["verdict"] == "warn"
    assert any("missing-rate change" in r and "within noise" in r for r in row["reasons"])


def test_missing_count_tests_are_holm_corrected_with_the_others() -> None:
    profile = build_reference_profile(
        _with_missing(3_000, 1_434, seed=1), numeric=["income"], categorical=["employer"]
    )
    rows = by_feature(compute_drift(profile, _with_missing(592, 269, seed=2), DriftParams()))
    raw = two_proportion_p_value(1_434 / 3_000, 3_000, 269 / 592, 592)
    # Four tests in the family (two shape tests, two missing-count tests): never below raw.
    assert all(row["missing_p_value_corrected"] >= raw for row in rows.values())
