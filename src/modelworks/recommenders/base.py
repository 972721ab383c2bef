"""The interface every recommender offers: scores over a catalogue, top-k lists.

A recommender ranks a fixed catalogue of items (``item_ids``). Subclasses implement one method,
``score_matrix``; pairwise scores, top-k lists and the long recommendation frame a served
model returns are derived from it here, so the neural model and the baselines answer the same
questions the same way and are evaluated by the same code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

USER_BLOCK = 2048
"""Users ranked at once: bounds the scores held at any population size."""


class Recommender(ABC):
    """Ranks the items of ``item_ids`` for users, known or not."""

    item_ids: pd.Index
    """The catalogue: every item that can be scored and recommended, in column order."""

    @abstractmethod
    def score_matrix(self, user_ids: Any, user_features: pd.DataFrame | None = None) -> np.ndarray:
        """Scores of shape (len(user_ids), len(item_ids)); higher means recommend first.

        ``user_features`` (indexed by user id) supplies or overrides the features of those
        users, e.g. fresh values from an online store or a user the model has never seen.
        """

    def score(
        self, user_ids: Any, item_ids: Any, user_features: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Score of each (user, item) pair; both sequences have the same length."""
        users, items = np.asarray(user_ids), np.asarray(item_ids)
        if users.shape != items.shape or users.ndim != 1:
            raise ValueError(
                f"user_ids and item_ids must be 1-D and of equal length, got shapes "
                f"{users.shape} and {items.shape}"
            )
        columns = self.item_positions(items)
        distinct, rows = np.unique(users, return_inverse=True)
        return self.score_matrix(distinct, user_features)[rows, columns]

    def item_positions(self, item_ids: Any) -> np.ndarray:
        """Column of each item in the catalogue; a ValueError names items outside it."""
        positions = self.item_ids.get_indexer(pd.Index(np.asarray(item_ids)))
        if (positions < 0).any():
            unknown = pd.unique(np.asarray(item_ids)[positions < 0])[:5].tolist()
            raise ValueError(
                f"items {unknown} are not in the catalogue of {len(self.item_ids)} items; "
                "pass them in the item table when the recommender is built"
            )
        return positions

    def top_k(
        self,
        user_id: Any,
        k: int = 10,
        *,
        exclude: Iterable[Any] = (),
        user_features: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """The ``k`` best items for one user, best first, never one of ``exclude``."""
        scores = self._excluded(self.score_matrix([user_id], user_features), {0: exclude})
        top = top_k_positions(scores, k)[0]
        return self.item_ids.to_numpy()[top[np.isfinite(scores[0, top])]]

    def recommend(
        self,
        user_ids: Any,
        k: int = 10,
        *,
        exclude: Mapping[Any, Iterable[Any]] | None = None,
        user_features: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Top-k of several users as a long frame: ``user_id, rank (1..k), item_id, score``.

        Users are ranked in blocks, so no users x catalogue matrix of them all is ever held.
        """
        users = np.asarray(user_ids)
        blocks = range(0, max(len(users), 1), USER_BLOCK)  # one empty block for no users
        frames = [
            self._recommend_block(users[lo : lo + USER_BLOCK], k, exclude or {}, user_features)
            for lo in blocks
        ]
        return pd.concat(frames, ignore_index=True)

    def _recommend_block(
        self,
        users: np.ndarray,
        k: int,
        exclude: Mapping[Any, Iterable[Any]],
        user_features: pd.DataFrame | None,
    ) -> pd.DataFrame:
        by_row = {row: exclude.get(user, ()) for row, user in enumerate(users.tolist())}
        scores = self._excluded(self.score_matrix(users, user_features), by_row)
        top = top_k_positions(scores, k)
        top_scores = np.take_along_axis(scores, top, axis=1)
        frame = pd.DataFrame(
            {
                "user_id": np.repeat(users, top.shape[1]),
                "rank": np.tile(np.arange(1, top.shape[1] + 1), len(users)),
                "item_id": self.item_ids.to_numpy()[top].ravel(),
                "score": top_scores.ravel(),
            }
        )
        # A user with fewer than k items left after exclusions gets a shorter list, not padding.
        return frame[np.isfinite(top_scores).ravel()].reset_index(drop=True)

    def _excluded(self, scores: np.ndarray, exclude: Mapping[int, Iterable[Any]]) -> np.ndarray:
        """``scores`` as float64 with each row's excluded items (ids) at minus infinity."""
        scores = scores.astype(np.float64, copy=True)
        for row, items in exclude.items():
            positions = self.item_ids.get_indexer(pd.Index(np.asarray(list(items))))
            scores[row, positions[positions >= 0]] = -np.inf
        return scores


def top_k_positions(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` highest scores, best first; ties keep column order."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    # A full stable sort keeps ties deterministic and in catalogue order; at catalogue sizes
    # of thousands it costs microseconds per user.
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]
