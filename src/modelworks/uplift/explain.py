"""Who is persuadable: a shallow regression tree of predicted uplift on the features.

The tree turns a model's per-row uplift into a handful of segments with readable rules
("sessions_7d <= 1.5 and occupation = teacher: +14 pp"), which is what a business reader asks
of an uplift model. It explains the *model*, not the world: ``r_squared`` says how much of the
predicted uplift's variance the segments capture, and passing the observed treatment and outcome
adds each segment's realised uplift as a check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelworks.training.features import FeatureSpec, categorical_as_strings
from modelworks.uplift.metrics import arm_means_by_group

MISSING_CATEGORY = "(missing)"


@dataclass(frozen=True)
class UpliftExplanation:
    """Segments of rows with similar predicted uplift, and what separates them."""

    segments: pd.DataFrame
    """One row per segment, highest uplift first: ``segment``, ``rule``, ``rows``, ``share``,
    ``predicted_uplift`` (mean); with outcomes also ``n_treated``, ``n_control`` and
    ``realised_uplift``."""
    importance: pd.Series
    """Share of the explained variance each input feature accounts for (sums to 1 or is 0)."""
    r_squared: float
    """Share of the predicted uplift's variance the segments explain."""


@dataclass
class _Condition:
    """What the path to a leaf requires of one feature."""

    lower: float = -math.inf  # exclusive
    upper: float = math.inf  # inclusive
    missing: bool = True  # whether rows with a missing value take this path
    equals: str | None = None
    excluded: list[str] = field(default_factory=list)


def _design(X: pd.DataFrame, features: FeatureSpec) -> tuple[pd.DataFrame, dict[str, tuple]]:
    """Numeric columns as floats and one 0/1 column per category; where each column came from."""
    selected = features.select(X)
    parts, origin = [selected[features.numeric]], {}
    for name in features.numeric:
        origin[name] = (name, None)
    for name in features.categorical:
        labels = categorical_as_strings(selected[name]).fillna(MISSING_CATEGORY)
        dummies = pd.get_dummies(labels, prefix=name, prefix_sep="=", dtype=float)
        for column in dummies.columns:
            origin[column] = (name, column[len(name) + 1 :])
        parts.append(dummies)
    return pd.concat(parts, axis=1), origin


def _leaf_conditions(tree: Any, columns: list[str], origin: dict[str, tuple]) -> dict[int, dict]:
    """For each leaf node id, the merged conditions per feature along its path."""
    inner = tree.tree_
    found: dict[int, dict[str, _Condition]] = {}

    def walk(node: int, path: dict[str, _Condition]) -> None:
        left, right = inner.children_left[node], inner.children_right[node]
        if left == right:  # a leaf
            found[node] = path
            return
        column = columns[inner.feature[node]]
        feature, category = origin[column]
        threshold = float(inner.threshold[node])
        missing_left = bool(inner.missing_go_to_left[node])
        for child, goes_left in ((left, True), (right, False)):
            branch = {k: _Condition(**vars(v)) for k, v in path.items()}
            condition = branch.setdefault(feature, _Condition(excluded=[]))
            if category is None:
                if goes_left:
                    condition.upper = min(condition.upper, threshold)
                else:
                    condition.lower = max(condition.lower, threshold)
                condition.missing &= missing_left == goes_left
            elif goes_left:  # dummy <= 0.5: not this category
                condition.excluded = [*condition.excluded, category]
            else:
                condition.equals = category
            walk(child, branch)

    walk(0, {})
    return found


def _describe(feature: str, condition: _Condition, has_missing: bool) -> str:
    """One condition as text: ``x <= 3``, ``1 < x <= 3``, ``c = a``, ``c not in {a, b}``."""
    if condition.equals is not None:
        return f"{feature} = {condition.equals}"
    if condition.excluded:
        if len(condition.excluded) == 1:
            return f"{feature} != {condition.excluded[0]}"
        return f"{feature} not in {{{', '.join(sorted(condition.excluded))}}}"
    if condition.lower >= condition.upper:
        # No value fits: sklearn's split of missing from present values (threshold inf).
        return f"{feature} is missing"
    lower, upper = _number(condition.lower), _number(condition.upper)
    if condition.lower == -math.inf:
        text = f"{feature} <= {upper}"
    elif condition.upper == math.inf:
        text = f"{feature} > {lower}"
    else:
        text = f"{lower} < {feature} <= {upper}"
    return f"({text} or missing)" if has_missing and condition.missing else text


def _number(value: float) -> str:
    """A threshold as people write it: ``0.0362``, ``3.5``, ``42,750``."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def explain_uplift(
    X: pd.DataFrame,
    uplift: Any,
    *,
    features: FeatureSpec,
    max_depth: int = 3,
    min_segment_share: float = 0.05,
    treatment: Any | None = None,
    outcome: Any | None = None,
    seed: int = 0,
) -> UpliftExplanation:
    """Fit a regression tree of ``uplift`` on the features and describe its leaves as segments.

    ``min_segment_share`` is the smallest segment as a share of rows, so no rule rests on a
    handful of rows. Pass ``treatment`` and ``outcome`` (randomised) to add realised uplift.
    """
    from sklearn.tree import DecisionTreeRegressor  # slow to import; only needed here

    target = np.asarray(uplift, dtype=float)
    if target.shape != (len(X),):
        raise ValueError(f"uplift must hold one value per row of X ({len(X)}), got {target.shape}")
    if not np.isfinite(target).all():
        raise ValueError("uplift has NaN or infinite values")
    if not 0 < min_segment_share < 0.5:
        raise ValueError(f"min_segment_share must be in (0, 0.5), got {min_segment_share}")
    if (treatment is None) != (outcome is None):
        raise ValueError("pass both treatment and outcome for realised uplift, or neither")

    design, origin = _design(X, features)
    tree = DecisionTreeRegressor(
        max_depth=max_depth,
        min_samples_leaf=max(1, math.ceil(min_segment_share * len(X))),
        random_state=seed,
    ).fit(design, target)
    leaf = tree.apply(design)
    conditions = _leaf_conditions(tree, list(design.columns), origin)
    has_missing = design.isna().any()

    if treatment is None:
        stats = pd.DataFrame({"leaf": leaf, "uplift": target}).groupby("leaf")["uplift"]
        table = pd.DataFrame({"rows": stats.size(), "predicted_uplift": stats.mean()})
    else:
        means = arm_means_by_group(
            leaf, np.asarray(outcome, dtype=float), np.asarray(treatment), target
        )
        table = means[["rows", "n_treated", "n_control"]].assign(
            predicted_uplift=means["predicted"], realised_uplift=means["uplift"]
        )
    table.insert(
        0,
        "rule",
        [
            " and ".join(
                _describe(name, c, bool(has_missing.get(name, False)))
                for name, c in conditions[node].items()
            )
            or "all rows"
            for node in table.index
        ],
    )
    table.insert(2, "share", table["rows"] / len(X))
    table = table.sort_values("predicted_uplift", ascending=False, kind="stable")
    table.insert(0, "segment", np.arange(1, len(table) + 1))

    importance = (
        pd.Series(tree.feature_importances_, index=[origin[c][0] for c in design.columns])
        .groupby(level=0)
        .sum()
        .reindex(features.columns, fill_value=0.0)
        .rename("importance")
    )
    return UpliftExplanation(
        segments=table.reset_index(drop=True),
        importance=importance,
        r_squared=float(tree.score(design, target)),
    )
