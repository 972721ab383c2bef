"""Feature-table checks before publication, on small frames: what passes, what is refused and
how the refusal reads."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from modelworks.features.publication import (
    FeatureCheckError,
    PublicationParams,
    check_tables,
    enforce_feature_checks,
    profile_tables,
)

KEYS = ["borrower_id"]
PARAMS = PublicationParams()


def history(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "borrower_id": np.arange(n),
            "event_timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "payments_30d": rng.poisson(3, n).astype(float),
            "days_late_mean_30d": np.where(np.arange(n) % 5 == 0, np.nan, rng.gamma(2, 2, n)),
            "region": rng.choice(["coast", "central", "western"], n),
        }
    )


@pytest.fixture(scope="module")
def published() -> dict[str, object]:
    return profile_tables({"history": history()}, KEYS, PARAMS)


def test_the_profile_remembers_rows_and_missing_rates_of_compared_columns(published) -> None:
    table = published["tables"]["history"]
    assert table["rows"] == 400
    # keys and timestamps are never compared
    assert sorted(table["missing_rates"]) == ["days_late_mean_30d", "payments_30d", "region"]
    assert table["missing_rates"]["payments_30d"] == 0.0
    assert table["missing_rates"]["days_late_mean_30d"] == pytest.approx(
        history()["days_late_mean_30d"].isna().mean()
    )
    assert sorted(table["drift_profile"]["features"]) == sorted(table["missing_rates"])
    assert json.loads(json.dumps(published)) == published


def test_a_batch_like_the_last_published_one_passes(published) -> None:
    report = check_tables({"history": history(seed=1)}, published, KEYS, PARAMS)
    assert report["success"] is True
    assert report["failures"] == []
    assert report["tables"]["history"] == {
        "rows": 400,
        "published_rows": 400,
        "success": True,
        "drift": "ok",
    }
    enforce_feature_checks(report)  # does not raise


def test_the_first_publication_has_only_the_absolute_rules() -> None:
    report = check_tables({"history": history(n=10)}, None, KEYS, PARAMS)
    assert report["success"] is True
    assert report["tables"]["history"]["published_rows"] is None

    empty = check_tables({"history": history().iloc[:0]}, None, KEYS, PARAMS)
    assert empty["failures"] == [
        {
            "table": "history",
            "column": "(rows)",
            "expectation": "row_count",
            "rule": "must hold at least 1 rows",
            "unexpected_count": None,
            "sample_values": [],
            "sample_rows": [],
            "observed": "0 rows",
        }
    ]


def test_a_half_size_batch_is_refused_naming_the_rows_it_lost(published) -> None:
    report = check_tables({"history": history().iloc[:200]}, published, KEYS, PARAMS)

    assert report["success"] is False
    [failure] = report["failures"]
    assert (failure["table"], failure["column"], failure["expectation"]) == (
        "history",
        "(rows)",
        "row_count_vs_published",
    )
    assert failure["rule"] == "must keep at least 75% of the 400 rows last published"
    assert failure["observed"] == "200 rows (-50.0%)"
    with pytest.raises(FeatureCheckError) as raised:
        enforce_feature_checks(report)
    assert str(raised.value).splitlines() == [
        "Feature tables not published (1 rule(s) broken); Feast keeps serving the last "
        "published features",
        "  history.(rows): row_count_vs_published (must keep at least 75% of the 400 rows last "
        "published) failed: 200 rows (-50.0%)",
    ]


def test_a_column_gone_missing_is_refused(published) -> None:
    batch = history(seed=1)
    batch.loc[: len(batch) // 2, "days_late_mean_30d"] = np.nan  # half the values lost
    batch["payments_30d"] = np.nan  # every value lost

    report = check_tables({"history": batch}, published, KEYS, PARAMS)

    by_column = {f["column"]: f for f in report["failures"]}
    assert sorted(by_column) == ["days_late_mean_30d", "payments_30d"]
    assert by_column["payments_30d"]["expectation"] == "not_all_missing"
    assert by_column["payments_30d"]["observed"] == "all 400 values missing"
    late = by_column["days_late_mean_30d"]
    assert late["expectation"] == "missing_rate_vs_published"
    rate = published["tables"]["history"]["missing_rates"]["days_late_mean_30d"]
    assert late["rule"] == f"missing rate may rise at most 10% over the {rate:.1%} last published"
    assert late["observed"] == f"{batch['days_late_mean_30d'].isna().mean():.1%} missing"


def test_drift_blocks_only_when_asked(published) -> None:
    moved = history(seed=1).assign(payments_30d=lambda f: f["payments_30d"] + 10)
    recorded = check_tables({"history": moved}, published, KEYS, PARAMS)
    assert recorded["success"] is True
    assert recorded["tables"]["history"]["drift"] == "critical"

    strict = PublicationParams(block_on_drift="critical")
    blocked = check_tables({"history": moved}, published, KEYS, strict)
    [failure] = blocked["failures"]
    assert (failure["column"], failure["expectation"]) == ("payments_30d", "drift_from_published")
    assert failure["observed"].startswith("critical: PSI")


def test_excluded_columns_are_not_compared(published) -> None:
    batch = history(seed=1).assign(region=None)
    params = PublicationParams(exclude_columns=["region"])
    assert check_tables({"history": batch}, published, KEYS, params)["success"] is True
    assert check_tables({"history": batch}, published, KEYS, PARAMS)["success"] is False


def test_the_error_survives_pickling(published) -> None:
    report = check_tables({"history": history().iloc[:10]}, published, KEYS, PARAMS)
    error = pickle.loads(pickle.dumps(FeatureCheckError(report["failures"])))
    assert error.failures == report["failures"]
