"""Ranking metrics per user, averaged over users and reported for warm and cold-start users.

Inputs are matrices over (users, catalogue items): ``relevant`` marks each user's held-out
items, ``scores`` ranks the catalogue (or ``top`` gives ranked lists of catalogue positions)
and ``exclude`` marks items that may not be recommended (e.g. already booked ones), which
also stop counting as relevant. Relevance is binary; NDCG uses the log2 discount
1 / log2(rank + 1). Users without a relevant item say nothing about a ranking and are left out
of every average. ``evaluate_recommender`` builds these matrices from interaction frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelworks.recommenders.base import USER_BLOCK, Recommender, top_k_positions
from modelworks.recommenders.data import DEFAULT_COLUMNS, InteractionColumns, require_columns

KS = (5, 10)


def hits_at_k(top: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Whether each recommended position is relevant; ``top`` may pad short lists with -1."""
    hits = np.take_along_axis(relevant, np.maximum(top, 0), axis=1)
    return hits & (top >= 0)


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """Relevant items among the first ``k`` recommended, divided by ``k``."""
    return hits[:, :k].sum(axis=1) / k


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Relevant items among the first ``k`` recommended, divided by the user's relevant count."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_relevant > 0, hits[:, :k].sum(axis=1) / n_relevant, np.nan)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """DCG of the first ``k`` positions over the DCG of a perfect ranking (binary relevance)."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discount[: hits[:, :k].shape[1]]).sum(axis=1)
    ideal = np.concatenate([[np.nan], np.cumsum(discount)])[np.minimum(n_relevant, k)]
    return dcg / ideal


def auc_per_user(scores: np.ndarray, relevant: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Chance that a relevant candidate outscores an irrelevant one (ties count half).

    Only ``candidates`` are ranked; a user without both relevant and irrelevant candidates
    gets NaN.
    """
    from scipy.stats import rankdata  # slow to import; only evaluation needs it

    # Non-candidates share the lowest rank, so subtracting their count leaves each
    # candidate's rank among candidates (the Mann-Whitney U statistic needs those).
    ranks = rankdata(np.where(candidates, scores, -np.inf), axis=1)
    ranks -= (~candidates).sum(axis=1, keepdims=True)
    positives = relevant & candidates
    n_pos = positives.sum(axis=1)
    n_neg = candidates.sum(axis=1) - n_pos
    u = np.where(positives, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def catalogue_coverage(top: np.ndarray, n_items: int, k: int) -> float:
    """Share of the catalogue that appears in at least one user's first ``k`` recommendations."""
    shown = top[:, :k]
    return float(len(np.unique(shown[shown >= 0])) / n_items) if n_items else float("nan")


def per_user_metrics(
    relevant: np.ndarray,
    *,
    scores: np.ndarray | None = None,
    top: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    ks: Sequence[int] = KS,
    auc: bool = True,
) -> tuple[pd.DataFrame, np.ndarray]:
    """One row of metrics per user, and the ranked lists (catalogue positions) they rest on.

    Pass ``scores`` (users x items) to rank the whole catalogue, which also gives AUC unless
    ``auc`` is False (it is most of the cost), or ``top`` (users x at least max(ks)
    positions, -1 pads a short list) for ready lists.
    """
    if (scores is None) == (top is None):
        raise ValueError("pass either scores (a users x items matrix) or top (ranked lists)")
    relevant = np.asarray(relevant, dtype=bool)
    candidates = np.ones_like(relevant) if exclude is None else ~np.asarray(exclude, dtype=bool)
    relevant = relevant & candidates
    columns: dict[str, np.ndarray] = {"n_relevant": relevant.sum(axis=1)}
    if scores is None:
        ranked = np.asarray(top)
    else:
        _check_shape(scores, relevant, "scores")
        ranked = top_k_positions(np.where(candidates, scores, -np.inf), max(ks))
        # A user with fewer candidates than max(ks) gets a short list, never an excluded item.
        ranked = np.where(np.take_along_axis(candidates, ranked, axis=1), ranked, -1)
        if auc:
            columns["auc"] = auc_per_user(scores, relevant, candidates)
    if ranked.shape[1] < max(ks):
        raise ValueError(f"top lists have {ranked.shape[1]} positions; metrics need {max(ks)}")
    hits = hits_at_k(ranked, relevant)
    n_relevant = columns["n_relevant"]
    for k in ks:
        columns[f"precision_at_{k}"] = np.where(n_relevant > 0, precision_at_k(hits, k), np.nan)
        columns[f"recall_at_{k}"] = recall_at_k(hits, n_relevant, k)
        columns[f"ndcg_at_{k}"] = ndcg_at_k(hits, n_relevant, k)
    return pd.DataFrame(columns), ranked


def summarise_users(
    per_user: pd.DataFrame,
    top: np.ndarray,
    *,
    n_items: int,
    cold: np.ndarray | None = None,
    ks: Sequence[int] = KS,
) -> dict[str, float]:
    """Means over users with a relevant item, overall and with ``_warm`` / ``_cold`` suffixes.

    Also ``coverage_at_<k>`` of each group's lists and ``n_users`` (users with a relevant
    item) per group. A group without such users reports only its ``n_users`` of 0.
    """
    cold = np.zeros(len(per_user), dtype=bool) if cold is None else np.asarray(cold, dtype=bool)
    metrics = [c for c in per_user.columns if c != "n_relevant"]
    summary: dict[str, float] = {}
    for suffix, members in (("", np.ones_like(cold)), ("_warm", ~cold), ("_cold", cold)):
        evaluable = members & (per_user["n_relevant"].to_numpy() > 0)
        summary[f"n_users{suffix}"] = float(evaluable.sum())
        if not evaluable.any():
            continue
        for name in metrics:
            summary[f"{name}{suffix}"] = float(np.nanmean(per_user[name].to_numpy()[evaluable]))
        for k in ks:
            summary[f"coverage_at_{k}{suffix}"] = catalogue_coverage(top[evaluable], n_items, k)
    return summary


def ranking_metrics(
    relevant: np.ndarray,
    *,
    scores: np.ndarray | None = None,
    top: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    cold: np.ndarray | None = None,
    ks: Sequence[int] = KS,
    auc: bool = True,
) -> dict[str, float]:
    """AUC (from scores), precision, recall and NDCG at each k, coverage: see the module doc."""
    per_user, ranked = per_user_metrics(
        relevant, scores=scores, top=top, exclude=exclude, ks=ks, auc=auc
    )
    return summarise_users(per_user, ranked, n_items=relevant.shape[1], cold=cold, ks=ks)


def evaluate_recommender(
    model: Recommender,
    held_out: pd.DataFrame,
    *,
    history: pd.DataFrame,
    columns: InteractionColumns = DEFAULT_COLUMNS,
    **options: Any,
) -> dict[str, float]:
    """Rank the catalogue for every user of ``held_out`` and score against their items.

    ``held_out`` (user, item) pairs are the relevant items; users absent from ``history``
    (what the model was trained on) are the cold-start ones. ``options`` are
    ``evaluate_users``'s: ``exclude`` pairs (e.g. past bookings) are never recommended,
    ``user_features``, ``ks``, ``auc``. Every held-out item must be in the model's catalogue.
    """
    exclude = options.get("exclude")
    for frame, name in ((held_out, "held_out"), (history, "history"), (exclude, "exclude")):
        if frame is not None:
            require_columns(frame, [columns.user, columns.item], name=name)
    users = pd.Index(pd.unique(held_out[columns.user]))
    cold = ~users.isin(history[columns.user])
    return evaluate_users(model, users, held_out, cold=cold, columns=columns, **options)


def evaluate_users(
    model: Recommender,
    users: pd.Index,
    relevant: pd.DataFrame,
    *,
    cold: np.ndarray,
    exclude: pd.DataFrame | None = None,
    columns: InteractionColumns = DEFAULT_COLUMNS,
    user_features: pd.DataFrame | None = None,
    ks: Sequence[int] = KS,
    auc: bool = True,
) -> dict[str, float]:
    """Rank the catalogue for ``users`` and score against their ``relevant`` (user, item) pairs;
    ``cold`` marks the cold-start users. Users are ranked in blocks, so no users x catalogue
    matrix of them all is ever held."""
    relevant_items = _pair_matrix(model, users, relevant, columns)
    excluded = (
        _pair_matrix(model, users, exclude, columns, drop_unknown=True)
        if exclude is not None
        else np.zeros_like(relevant_items)
    )
    parts, tops = [], []
    for lo in range(0, len(users), USER_BLOCK):
        rows = slice(lo, lo + USER_BLOCK)
        scores = model.score_matrix(users[rows].to_numpy(), user_features)
        part, top = per_user_metrics(
            relevant_items[rows], scores=scores, exclude=excluded[rows], ks=ks, auc=auc
        )
        parts.append(part)
        tops.append(top)
    per_user = pd.concat(parts, ignore_index=True)
    top = np.concatenate(tops) if tops else np.zeros((0, max(ks)), dtype=np.int64)
    return summarise_users(per_user, top, n_items=len(model.item_ids), cold=cold, ks=ks)


def _pair_matrix(
    model: Recommender,
    users: pd.Index,
    pairs: pd.DataFrame,
    columns: InteractionColumns,
    *,
    drop_unknown: bool = False,
) -> np.ndarray:
    """Boolean users x catalogue matrix of the (user, item) ``pairs`` whose user is in ``users``."""
    rows = users.get_indexer(pairs[columns.user])
    items = pairs[columns.item].to_numpy()
    if drop_unknown:
        known = model.item_ids.get_indexer(pd.Index(items)) >= 0
        rows, items = rows[known], items[known]
    cols = model.item_positions(items)
    matrix = np.zeros((len(users), len(model.item_ids)), dtype=bool)
    inside = rows >= 0
    matrix[rows[inside], cols[inside]] = True
    return matrix


def _check_shape(array: np.ndarray, relevant: np.ndarray, name: str) -> None:
    if np.shape(array) != relevant.shape:
        raise ValueError(
            f"{name} has shape {np.shape(array)} but relevant has {relevant.shape} "
            "(one row per user, one column per catalogue item)"
        )
