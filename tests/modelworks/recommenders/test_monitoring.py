"""Recommender monitoring: popularity shift, drift of both sides, one report."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from modelworks.monitoring import DriftParams
from modelworks.monitoring.layout import verdict_badge
from modelworks.recommenders.monitoring import (
    build_recommender_profile,
    compare_to_profile,
    popularity_shift,
    render_recommender_report,
)
from modelworks.recommenders.params import RecommenderMonitoringParams
from modelworks.training.features import FeatureSpec

ITEMS = pd.Index(np.arange(1, 201), name="hotel_id")
PARAMS = RecommenderMonitoringParams(
    user_features=FeatureSpec(numeric=["taste"], categorical=["kind"]),
    item_features=FeatureSpec(numeric=["stars"], categorical=["city"]),
)


def zipf_counts(total: int, order: np.ndarray | None = None) -> pd.Series:
    """Long-tailed interactions over ITEMS; ``order`` says which item gets which rank."""
    weights = 1.0 / np.arange(1, len(ITEMS) + 1) ** 0.8
    ranks = np.arange(len(ITEMS)) if order is None else order
    counts = np.round(total * weights[ranks] / weights.sum())
    return pd.Series(counts.astype(np.int64), index=ITEMS)


def test_the_same_popularity_is_no_shift():
    reference = zipf_counts(20_000)
    shift = popularity_shift(reference, reference * 2, n_bins=10, params=DriftParams())
    assert shift["verdict"] == "ok" and shift["reasons"] == []
    assert shift["psi"] == pytest.approx(0.0, abs=1e-9)
    assert shift["top_10_kept"] == 1.0 and shift["new_item_share"] == 0.0
    # Groups of equal reference share: the head group holds a few items, the tail many.
    assert shift["groups"]["reference"] == pytest.approx([0.1] * 10, abs=0.05)
    assert shift["groups"]["labels"][0].startswith("0-10% (")


def test_demand_moving_from_head_to_tail_is_critical():
    reference = zipf_counts(20_000)
    reversed_demand = zipf_counts(20_000, order=np.arange(len(ITEMS))[::-1])
    shift = popularity_shift(reference, reversed_demand, n_bins=10, params=DriftParams())
    assert shift["verdict"] == "critical"
    assert shift["psi"] > 1.0 and shift["top_10_kept"] == 0.0
    assert any(reason.startswith("critical: PSI") for reason in shift["reasons"])


def test_new_items_are_reported_apart_from_the_shift():
    reference = zipf_counts(20_000)
    newcomers = pd.Series([500, 500], index=pd.Index([901, 902], name="hotel_id"))
    shift = popularity_shift(
        reference, pd.concat([reference, newcomers]), n_bins=10, params=DriftParams()
    )
    assert shift["new_item_share"] == pytest.approx(1000 / (reference.sum() + 1000))
    assert shift["verdict"] == "ok"


def test_a_reference_without_interactions_is_refused():
    with pytest.raises(ValueError, match="no interactions"):
        popularity_shift(
            reference=zipf_counts(0), current=zipf_counts(10), n_bins=10, params=DriftParams()
        )


@pytest.fixture()
def sides() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    return {
        "requests": pd.DataFrame(
            {"taste": rng.normal(size=2000), "kind": rng.choice(["a", "b"], size=2000)}
        ),
        "catalogue": pd.DataFrame(
            {"stars": rng.integers(1, 6, size=200), "city": rng.choice(["x", "y"], size=200)}
        ),
    }


def test_compare_to_profile_judges_users_items_and_popularity(sides):
    profile = build_recommender_profile(
        sides["requests"], sides["catalogue"], zipf_counts(5000), params=PARAMS
    )
    shifted = sides["requests"].assign(taste=sides["requests"]["taste"] + 1.0)
    summary = compare_to_profile(
        profile, shifted, sides["catalogue"], zipf_counts(5000), params=PARAMS
    )
    assert summary["verdict"] == "critical" and summary["drift_detected"] is True
    worst = summary["features"][0]
    assert (worst["entity"], worst["feature"], worst["verdict"]) == ("user", "taste", "critical")
    entities = {(row["entity"], row["feature"]) for row in summary["features"]}
    assert entities == {
        ("user", "taste"),
        ("user", "kind"),
        ("item", "stars"),
        ("item", "city"),
        ("item", "item_popularity"),
    }
    assert summary["items"]["verdict"] == "ok" and summary["popularity"]["verdict"] == "ok"

    page = render_recommender_report(
        summary, profile, shifted, sides["catalogue"], title="Drift of the latest period"
    )
    assert page.count("<html") == 1 and page.count("<body>") == 1
    # The framework's layout, its feature drift split into users, catalogue and popularity.
    headings = [re.sub(r"<[^>]+>.*", "", h).strip() for h in re.findall(r"<h2>(.*?)</h2>", page)]
    assert headings == [
        "Feature drift: users at each request",
        "Feature drift: the catalogue",
        "Item popularity",
        "Prediction drift",
        "Performance",
        "Retrain decision",
        "Trend over runs",
    ]
    assert verdict_badge(summary["verdict"]) in page.split("</div>", 1)[0]
    assert verdict_badge(summary["popularity"]["verdict"]) in page

    decision = {"retrain": True, "reasons": ["drift: critical >= critical"], "triggers": []}
    watched = render_recommender_report(
        summary,
        profile,
        shifted,
        sides["catalogue"],
        title="Monitoring",
        history=[summary],
        decision=decision,
    )
    assert "drift: critical &gt;= critical" in watched and "<strong>Retrain</strong>" in watched
    assert "no trend yet" not in watched


def test_a_profile_of_another_kind_is_refused(sides):
    with pytest.raises(ValueError, match="not a recommender reference profile"):
        compare_to_profile(
            {"version": 2}, sides["requests"], sides["catalogue"], zipf_counts(10), params=PARAMS
        )
