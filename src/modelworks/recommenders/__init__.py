"""Use-case-agnostic recommenders: a hybrid PyTorch model, baselines and ranking metrics.

Users, items and interactions are plain pandas frames: interactions hold a user key, an item
key and a time (names in ``InteractionColumns``); user and item tables hold the key and
feature columns. Every recommender ranks a catalogue through the same ``Recommender``
interface, so ``evaluate_recommender`` scores the neural model and the baselines alike.

torch is imported only when the hybrid model, its network or its trainer is first used, so
that importing this package (as pipelines and parameter validation do) stays cheap.

Around the library, what the ``ranking`` task family (``modelworks.tasks.ranking``) and a
recommender use case plug into the framework's lifecycle: ``features`` builds point-in-time
feature tables (tastes, past items, item demand), ``rows`` the time split, the Feast snapshots
and the judged users, ``rankings`` what a model predicts for a set of users, ``serving`` the
top-k pyfunc, ``evaluation`` the promotion gate's evaluator, ``monitoring`` the drift of users,
items and popularity, and ``watch`` the nodes that compare, profile and monitor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelworks.recommenders.base import Recommender, top_k_positions
from modelworks.recommenders.baselines import ContentRecommender, PopularityRecommender
from modelworks.recommenders.data import (
    FeatureEncoder,
    IdIndex,
    InteractionColumns,
    preference_profiles,
)
from modelworks.recommenders.metrics import (
    auc_per_user,
    catalogue_coverage,
    evaluate_recommender,
    ndcg_at_k,
    per_user_metrics,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)
from modelworks.recommenders.params import RecommenderParams

if TYPE_CHECKING:
    from modelworks.recommenders.hybrid import HybridRecommender, TrainingHistory, resolve_device
    from modelworks.recommenders.model import HybridNet
    from modelworks.recommenders.trainer import fit_recommender

_TORCH_EXPORTS = {
    "HybridNet": "modelworks.recommenders.model",
    "HybridRecommender": "modelworks.recommenders.hybrid",
    "TrainingHistory": "modelworks.recommenders.hybrid",
    "fit_recommender": "modelworks.recommenders.trainer",
    "resolve_device": "modelworks.recommenders.hybrid",
}


def __getattr__(name: str) -> Any:
    """Import the torch-backed exports on first use (PEP 562)."""
    if name in _TORCH_EXPORTS:
        return getattr(importlib.import_module(_TORCH_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ContentRecommender",
    "FeatureEncoder",
    "HybridNet",
    "HybridRecommender",
    "IdIndex",
    "InteractionColumns",
    "PopularityRecommender",
    "Recommender",
    "RecommenderParams",
    "TrainingHistory",
    "auc_per_user",
    "catalogue_coverage",
    "evaluate_recommender",
    "fit_recommender",
    "ndcg_at_k",
    "per_user_metrics",
    "precision_at_k",
    "preference_profiles",
    "ranking_metrics",
    "recall_at_k",
    "resolve_device",
    "top_k_positions",
]
