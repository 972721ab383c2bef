"""What a recommender predicts for a set of users: its ranking of the catalogue for each.

``Rankings`` is what the ``ranking`` task's ``predict`` returns: the model and the users it
ranks for, scored when read and in blocks of users, so judging thousands of users never holds
a users x catalogue matrix. ``judge`` gives every ranking metric against the items the users
went on to choose, AUC over the whole catalogue included; ``top`` the served model's answer.

A served model answers with rows (``<user key>, rank, <item key>, score``, best first);
``top_lists`` folds such an answer into one row per user, as batch scoring writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelworks.recommenders.base import Recommender
from modelworks.recommenders.data import RELEVANT, InteractionColumns
from modelworks.recommenders.metrics import evaluate_users

RANK, SCORE = "rank", "score"
DEFAULT_K = 10


@dataclass(frozen=True)
class Rankings:
    """``model``'s ranking for ``users``; ``cold`` marks those it knows no interaction of, and
    ``exclude`` holds the (user, item) pairs never recommended (items already booked)."""

    model: Recommender
    users: pd.Index
    cold: np.ndarray
    columns: InteractionColumns
    exclude: pd.DataFrame | None = None

    @classmethod
    def of(
        cls,
        model: Recommender,
        rows: pd.DataFrame,
        *,
        columns: InteractionColumns,
        known_users: Any,
        exclude: str | None = None,
    ) -> Rankings:
        """The users of ``rows`` (judged users, or interactions) in order of appearance, cold
        when not among ``known_users``, without the items listed in their ``exclude`` column
        where ``rows`` have one."""
        users = pd.Index(pd.unique(rows[columns.user]))
        left_out = None
        if exclude is not None and exclude in rows.columns:
            left_out = item_pairs(rows.drop_duplicates(columns.user), exclude, columns)
        return cls(model, users, ~users.isin(known_users), columns, left_out)

    def judge(self, relevant: pd.DataFrame) -> dict[str, float]:
        """Every ranking metric against ``relevant`` (user, item) pairs, warm and cold users."""
        return evaluate_users(
            self.model,
            self.users,
            relevant,
            cold=self.cold,
            exclude=self.exclude,
            columns=self.columns,
        )

    def top(self, k: int = DEFAULT_K) -> pd.DataFrame:
        """The first ``k`` items of each user as a served model answers: ``<user key>, rank,
        <item key>, score``, best first."""
        exclude = None
        if self.exclude is not None:
            exclude = self.exclude.groupby(self.columns.user)[self.columns.item].agg(list)
        answer = self.model.recommend(
            self.users.to_numpy(), k, exclude=None if exclude is None else exclude.to_dict()
        )
        return answer.rename(columns={"user_id": self.columns.user, "item_id": self.columns.item})


def relevant_pairs(rows: pd.DataFrame, columns: InteractionColumns) -> pd.DataFrame:
    """The (user, item) pairs to find: each judged user's ``relevant_items``, or, for
    interaction rows, every interaction."""
    if RELEVANT in rows.columns:
        return item_pairs(rows, RELEVANT, columns)
    return rows[[columns.user, columns.item]]


def item_pairs(users: pd.DataFrame, lists: str, columns: InteractionColumns) -> pd.DataFrame:
    """(user, item) rows of a column holding a list of items per user."""
    pairs = users[[columns.user, lists]].explode(lists).dropna(subset=[lists])
    return pairs.rename(columns={lists: columns.item}).astype({columns.item: np.int64})


def top_lists(answer: pd.DataFrame | Rankings) -> pd.DataFrame:
    """One row per user of a top-k answer, in the order the users come: the best ``score``,
    and ``items`` and ``item_scores``, the lists best first."""
    if isinstance(answer, Rankings):
        answer = answer.top()
    key = answer.columns[0]
    item = next(c for c in answer.columns[1:] if c not in (RANK, SCORE))
    by_user = answer.sort_values([RANK], kind="stable").groupby(key, sort=False)
    lists = pd.DataFrame(
        {"items": by_user[item].agg(list), "item_scores": by_user[SCORE].agg(list)}
    ).reindex(pd.unique(answer[key]))
    return lists.assign(score=lists["item_scores"].map(lambda scores: scores[0]))
