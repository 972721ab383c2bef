"""The promotion gate's view of a recommender: top-k lists judged per user (the evaluator of
task ``ranking``, which ``modelworks.tasks.ranking`` hands the gate).

The gate replays the holdout through the registered pyfunc: each holdout row is a user with
their features and excluded items as of the cutoff, so the served model answers as it would
have then, and the row's ``label`` column lists the items the user went on to choose.
Metrics are per user (``precision_at_<k>``, ``recall_at_<k>``, ``ndcg_at_<k>``, each also
``_warm`` / ``_cold`` for users with and without history), so the paired bootstrap resamples
users: the unit a ranking is judged on.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from modelworks.recommenders.data import COLD_START
from modelworks.recommenders.metrics import ndcg_at_k, precision_at_k, recall_at_k
from modelworks.registry.evaluation import SubsetMetric

_METRIC = re.compile(r"(precision|recall|ndcg)_at_(\d+)(_warm|_cold)?")
_PER_USER = {
    "precision": lambda hits, n, k: precision_at_k(hits, k),
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
}


class RankingEvaluator:
    """Top-k lists of a recommender pyfunc against each user's relevant items."""

    def __init__(self, relevant: str, k: int = 10) -> None:
        self.relevant = relevant
        self.k = k

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        """Each row's recommended items, best first: an object array of ``k``-long lists."""
        from modelworks.recommenders.serving import K
        from modelworks.serving.pyfunc import conform_to_schema

        schema = model.metadata.get_input_schema()
        requests = conform_to_schema(frame.assign(**{K: self.k}), schema)
        key = next(spec.name for spec in schema.inputs if spec.required)
        answers = model.predict(requests)
        item = next(c for c in answers.columns if c not in (key, "rank", "score"))
        lists = answers.sort_values([key, "rank"]).groupby(key)[item].agg(list)
        found = lists.reindex(frame[key].to_numpy())
        ranked = np.empty(len(frame), dtype=object)
        ranked[:] = [items if isinstance(items, list) else [] for items in found]
        return ranked

    def metric(self, name: str, frame: pd.DataFrame, predictions: np.ndarray) -> SubsetMetric:
        """``name`` averaged over the users picked by an index array (NaN outside its group)."""
        match = _METRIC.fullmatch(name)
        if match is None:
            raise ValueError(
                f"unknown ranking metric {name!r}: use precision_at_<k>, recall_at_<k> or "
                "ndcg_at_<k>, optionally with _warm or _cold"
            )
        kind, k, group = match.group(1), int(match.group(2)), match.group(3)
        if k > self.k:
            raise ValueError(f"{name} needs lists of {k} items; the evaluator asks for {self.k}")
        relevant = [set(items) for items in frame[self.relevant]]
        hits = np.zeros((len(frame), k), dtype=bool)
        for row, (items, wanted) in enumerate(zip(predictions, relevant, strict=True)):
            hits[row, : min(k, len(items))] = [item in wanted for item in items[:k]]
        values = _PER_USER[kind](hits, np.array([len(r) for r in relevant]), k).astype(float)
        if group is not None:
            cold = frame[COLD_START].to_numpy(dtype=bool)
            values[cold if group == "_warm" else ~cold] = np.nan
        return partial_mean(values)

    def n_units(self, frame: pd.DataFrame) -> int:
        return len(frame)

    def higher_is_better(self, name: str) -> bool:
        return True


def partial_mean(values: np.ndarray) -> SubsetMetric:
    """The mean of ``values`` over the picked users, ignoring users outside the metric's group."""

    def mean(indices: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample without the group
            return float(np.nanmean(values[indices]))

    return mean
