"""Baselines a learned recommender has to beat: popularity, and content-based similarity.

Both rank the same catalogue through the same interface as the neural model (``Recommender``),
so one evaluation call scores all three.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelworks.recommenders.base import Recommender
from modelworks.recommenders.data import (
    DEFAULT_COLUMNS,
    FeatureEncoder,
    InteractionColumns,
    feature_table,
    require_columns,
)


class PopularityRecommender(Recommender):
    """Everybody gets the items with the most interactions in a recent window."""

    def __init__(self, item_ids: pd.Index, counts: np.ndarray) -> None:
        self.item_ids = item_ids
        self.counts = np.asarray(counts, dtype=np.float64)

    @classmethod
    def fit(
        cls,
        interactions: pd.DataFrame,
        *,
        items: pd.DataFrame,
        columns: InteractionColumns = DEFAULT_COLUMNS,
        window_days: int = 30,
    ) -> PopularityRecommender:
        """Count each catalogue item's interactions in the ``window_days`` up to the last one.

        A recent window rather than all time: it follows what is in demand now, which is
        what a popularity list on a site shows.
        """
        require_columns(interactions, [columns.item, columns.time], name="interactions")
        catalogue = feature_table(items, columns.item, name="items").index
        times = interactions[columns.time]
        recent = interactions.loc[times > times.max() - pd.Timedelta(days=window_days)]
        counts = recent[columns.item].value_counts().reindex(catalogue, fill_value=0)
        return cls(catalogue, counts.to_numpy())

    def score_matrix(self, user_ids: Any, user_features: pd.DataFrame | None = None) -> np.ndarray:
        """The recent interaction count of each item, the same row for every user."""
        return np.tile(self.counts, (len(np.asarray(user_ids)), 1))


class ContentRecommender(Recommender):
    """Cosine similarity between a user's preference profile and each item's attributes.

    Attributes are encoded (numbers standardised, categories one-hot) and centred on the
    catalogue mean, so a profile, the mean of the user's interacted items, says how their
    choices differ from the average item. A user without history gets the mean profile of all
    users: the population's taste.
    """

    def __init__(
        self, item_ids: pd.Index, item_vectors: np.ndarray, profiles: pd.DataFrame
    ) -> None:
        self.item_ids = item_ids
        self.item_vectors = _unit_rows(item_vectors)
        self.profiles = profiles
        self.default_profile = profiles.to_numpy().mean(axis=0) if len(profiles) else None

    @classmethod
    def fit(
        cls,
        interactions: pd.DataFrame,
        *,
        items: pd.DataFrame,
        columns: InteractionColumns = DEFAULT_COLUMNS,
    ) -> ContentRecommender:
        """Profiles from ``interactions`` over the attributes in ``items`` (key + features)."""
        require_columns(interactions, [columns.user, columns.item], name="interactions")
        table = feature_table(items, columns.item, name="items")
        vectors = FeatureEncoder.fit(table).transform(table).astype(np.float64)
        vectors -= vectors.mean(axis=0)
        rows = table.index.get_indexer(interactions[columns.item])
        known = rows >= 0  # interactions with items outside the catalogue say nothing here
        history = pd.DataFrame(
            _unit_rows(vectors)[rows[known]],
            index=interactions[columns.user].to_numpy()[known],
        )
        return cls(table.index, vectors, history.groupby(level=0).mean())

    def score_matrix(self, user_ids: Any, user_features: pd.DataFrame | None = None) -> np.ndarray:
        """Cosine of each user's profile with each item; ``user_features`` is not used."""
        ids = pd.Index(np.asarray(user_ids))
        rows = self.profiles.index.get_indexer(ids)
        known = self.profiles.to_numpy()
        if self.default_profile is None:  # fitted on no interactions: every item scores 0
            return np.zeros((len(ids), len(self.item_ids)))
        profiles = np.where(rows[:, None] >= 0, known[np.maximum(rows, 0)], self.default_profile)
        return _unit_rows(profiles) @ self.item_vectors.T


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix, dtype=np.float64), where=norms > 0)
