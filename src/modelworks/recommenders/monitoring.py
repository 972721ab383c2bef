"""Monitoring of a recommender: drift of the features it reads, and a shift in item popularity.

The reference is what the model saw in a window before its cutoff: its users' features at each
request, the catalogue's features, and how interactions spread over the items. A later period
is compared with it by the framework's drift statistics (``monitoring.compute_drift``) for the
users and the items, and by ``popularity_shift`` for demand.

Popularity is compared on items grouped by their reference popularity, each group holding an
equal share of the reference interactions (the few top items, then more and more of the tail):
PSI and Jensen-Shannon distance of the current shares of those groups show demand moving
between head and tail, while per-item shares would be mostly sampling noise on a long tail.
Items new since the reference are reported apart (``new_item_share``): every week brings some,
and the cold-start path is there to rank them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from modelworks.monitoring import (
    build_reference_profile,
    compute_drift,
    jensen_shannon_distance,
    population_stability_index,
)
from modelworks.monitoring.drift import SEVERITY, judge
from modelworks.monitoring.layout import Section
from modelworks.monitoring.params import DriftParams
from modelworks.monitoring.report import render_report
from modelworks.monitoring.sections import feature_drift_section
from modelworks.monitoring.statistics import chi2_two_sample
from modelworks.recommenders.params import RecommenderMonitoringParams

PROFILE_KIND = "recommender"
PROFILE_VERSION = 1
POPULARITY = "item_popularity"
TOP_ITEMS = 10
SIDES = (("users", "user"), ("items", "item"))


def build_recommender_profile(
    requests: pd.DataFrame,
    catalogue: pd.DataFrame,
    counts: pd.Series,
    *,
    params: RecommenderMonitoringParams,
) -> dict[str, Any]:
    """The JSON reference: user features at requests, item features, and ``counts`` (the
    reference interactions per item, indexed by item id; absent items count 0)."""
    specs = {"users": (requests, params.user_features), "items": (catalogue, params.item_features)}
    return {
        "kind": PROFILE_KIND,
        "version": PROFILE_VERSION,
        **{
            side: build_reference_profile(
                frame,
                numeric=spec.numeric,
                categorical=spec.categorical,
                n_bins=params.drift.n_bins,
            )
            for side, (frame, spec) in specs.items()
        },
        "popularity": {
            "items": [_plain(i) for i in counts.index],
            "counts": [int(c) for c in counts.to_numpy()],
        },
    }


def compare_to_profile(
    profile: dict[str, Any],
    requests: pd.DataFrame,
    catalogue: pd.DataFrame,
    counts: pd.Series,
    *,
    params: RecommenderMonitoringParams,
) -> dict[str, Any]:
    """The current period against the profile; a JSON summary.

    ``users`` and ``items``: ``compute_drift`` summaries; ``popularity``: ``popularity_shift``;
    ``features``: every watched feature and the popularity with its verdict, the worst first,
    as the promotion gate's drift check reads them; ``verdict`` the worst of all.
    """
    if profile.get("kind") != PROFILE_KIND or profile.get("version") != PROFILE_VERSION:
        raise ValueError(
            f"not a recommender reference profile of version {PROFILE_VERSION}: kind "
            f"{profile.get('kind')!r}, version {profile.get('version')!r}; retrain to rebuild it"
        )
    current = {"users": requests, "items": catalogue}
    sides = {side: compute_drift(profile[side], current[side], params.drift) for side, _ in SIDES}
    reference = pd.Series(profile["popularity"]["counts"], index=profile["popularity"]["items"])
    popularity = popularity_shift(
        reference, counts, n_bins=params.popularity_bins, params=params.drift
    )
    features = [
        {"entity": entity, **{k: row[k] for k in ("feature", "verdict", "reasons")}}
        for side, entity in SIDES
        for row in sides[side]["features"]
    ]
    features.append(
        {"entity": "item", **{k: popularity[k] for k in ("feature", "verdict", "reasons")}}
    )
    features.sort(key=lambda row: SEVERITY[row["verdict"]], reverse=True)
    verdict = features[0]["verdict"] if features else "ok"
    return {
        "verdict": verdict,
        "drift_detected": verdict == "critical",
        "n_warn": sum(row["verdict"] == "warn" for row in features),
        "n_critical": sum(row["verdict"] == "critical" for row in features),
        "features": features,
        "popularity": popularity,
        **sides,
    }


def popularity_shift(
    reference: pd.Series, current: pd.Series, *, n_bins: int, params: DriftParams
) -> dict[str, Any]:
    """How interactions moved across items between two periods (counts indexed by item).

    ``reference`` covers the reference catalogue (zero for an item nobody chose). Its items,
    most popular first, fall into ``n_bins`` groups of equal reference share; PSI and
    Jensen-Shannon distance compare the groups' shares of the current interactions on those
    items, judged by the feature-drift rule (``monitoring.drift.judge``) with a chi-squared
    test on the group counts for noise. Reported beside: ``new_item_share`` of current
    interactions on items outside the reference, Jensen-Shannon distance of the per-item
    shares, and how many of the reference top items are still among the current top.
    """
    reference = reference.astype(float)
    total = reference.sum()
    if total <= 0:
        raise ValueError("the reference holds no interactions: there is no popularity to compare")
    ordered = reference.iloc[np.lexsort((np.arange(len(reference)), -reference.to_numpy()))]
    share = ordered / total
    group = np.minimum(((share.cumsum() - share) * n_bins).to_numpy().astype(int), n_bins - 1)
    known = current.reindex(ordered.index, fill_value=0).astype(float)
    if known.sum() <= 0:
        raise ValueError("no current interaction is on a reference item: nothing to compare")
    groups = np.arange(n_bins)
    ref_counts = ordered.groupby(group).sum().reindex(groups, fill_value=0.0).to_numpy()
    cur_counts = known.groupby(group).sum().reindex(groups, fill_value=0.0).to_numpy()
    ref_props, cur_props = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    chi2, p_value = chi2_two_sample(ref_counts, cur_counts)
    row = {
        "psi": population_stability_index(ref_props, cur_props),
        "js_distance": jensen_shannon_distance(ref_props, cur_props),
    }
    verdict, reasons = judge(row, p_value, "chi-squared p", params)
    items = reference.index.union(current.index)
    item_js = jensen_shannon_distance(
        (reference.reindex(items, fill_value=0) / total).to_numpy(),
        (current.reindex(items, fill_value=0) / current.sum()).to_numpy(),
    )
    top_before = set(ordered.index[:TOP_ITEMS])
    top_now = set(current.sort_values(ascending=False, kind="stable").index[:TOP_ITEMS])
    return {
        "feature": POPULARITY,
        "kind": "popularity",
        "verdict": verdict,
        "reasons": reasons,
        **row,
        "chi2_statistic": chi2,
        "chi2_p_value": p_value,
        "item_js_distance": item_js,
        f"top_{TOP_ITEMS}_kept": len(top_before & top_now) / TOP_ITEMS,
        "new_item_share": float(current.sum() - known.sum()) / float(current.sum()),
        "n_reference": int(total),
        "n_current": int(current.sum()),
        "groups": {
            "labels": [_group_label(int(g), n_bins, int((group == g).sum())) for g in groups],
            "reference": ref_props.tolist(),
            "current": cur_props.tolist(),
        },
    }


def render_recommender_report(
    summary: dict[str, Any],
    profile: dict[str, Any],
    requests: pd.DataFrame,
    catalogue: pd.DataFrame,
    *,
    title: str,
    history: Sequence[dict[str, Any]] = (),
    decision: dict[str, Any] | None = None,
) -> str:
    """One self-contained HTML page in the framework's monitoring layout, its feature drift
    split into the users' features, the catalogue's features and the items' popularity."""
    current = {"users": requests, "items": catalogue}
    headings = {
        "users": "Feature drift: users at each request",
        "items": "Feature drift: the catalogue",
    }
    drift = [
        feature_drift_section(summary[side], profile[side], current[side], heading=headings[side])
        for side, _ in SIDES
    ]
    drift.append(_popularity_section(summary["popularity"]))
    return render_report(summary, title=title, drift=drift, history=history, decision=decision)


def _popularity_section(popularity: dict[str, Any]) -> Section:
    groups = popularity["groups"]
    stats = [
        ("PSI over popularity groups", popularity["psi"]),
        ("Jensen-Shannon over popularity groups", popularity["js_distance"]),
        ("chi-squared p", popularity["chi2_p_value"]),
        ("Jensen-Shannon over items", popularity["item_js_distance"]),
        (f"reference top {TOP_ITEMS} still on top", popularity[f"top_{TOP_ITEMS}_kept"]),
        ("share of interactions on new items", popularity["new_item_share"]),
    ]
    rows = "".join(
        f'<tr><td>{escape(name)}</td><td class="num">{value:.4g}</td></tr>' for name, value in stats
    )
    reasons = escape("; ".join(popularity["reasons"])) or "within thresholds"
    body = f"""<p class="note">Items grouped by reference popularity, each group an equal share
of the {popularity["n_reference"]:,} reference interactions; {popularity["n_current"]:,} current
interactions. {reasons}.</p>
<table><tbody>{rows}</tbody></table>
<figure><img src="data:image/png;base64,{_groups_png(groups)}"
alt="Share of interactions per popularity group, reference and current"></figure>"""
    return Section("Item popularity", body, popularity["verdict"])


def _groups_png(groups: dict[str, Any]) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.4), dpi=96)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    x = np.arange(len(groups["labels"]))
    ax.bar(x - 0.2, groups["reference"], 0.4, label="reference", color="#627d98")
    ax.bar(x + 0.2, groups["current"], 0.4, label="current", color="#f0b429")
    ax.set_xticks(x, groups["labels"], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of interactions")
    ax.legend(fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _group_label(group: int, n_bins: int, n_items: int) -> str:
    low, high = 100 * group // n_bins, 100 * (group + 1) // n_bins
    return f"{low}-{high}% ({n_items} items)"


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value
