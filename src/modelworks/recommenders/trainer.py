"""Training the hybrid recommender on implicit feedback (``hybrid.HybridRecommender``).

Every interaction row is a positive (user, item) pair. Each epoch draws ``negatives`` items per
positive, uniformly from the items seen in training, and minimises the BPR loss
``-log sigmoid(s(u, i) - s(u, j))``: a user's item should outscore items drawn at random.

Early stopping follows the way the model is used, forwards in time: the latest
``validation_days`` of the interactions are held out, and after each epoch NDCG@10 of those
held-out interactions (``metrics.evaluate_recommender``) decides whether to go on. With
``refit`` the model is then retrained on all interactions for the best number of epochs, so
that the most recent days, and the users who joined in them, are learnt as well. A caller
that knows what the features were at the start of the held-out days passes them as a
``Validation``; otherwise the validation ranks with the same tables as the training does.
A caller that splits the interactions itself (the ``ranking`` task's lifecycle) drives a
``Trainer`` phase by phase instead.

User features can be given per interaction (``request_users``): each row's values as they
were when the user asked, so a history feature never includes the interaction it is trained
on, exactly as when the model is served. Without them every interaction of a user reads the
user's row of ``users``.

Reproducibility: one seed drives python, numpy and torch, and every random draw of an epoch
(order, negatives, id dropout) is made with numpy on the host, so the sequence does not depend
on the device. Deterministic algorithms are requested while training and the previous setting
is restored afterwards. On the CPU two runs with one seed give identical weights.

Devices: one code path. ``device=None`` picks CUDA when present, else the CPU. On CUDA the
forward pass runs under autocast (bfloat16 where supported, else float16 with a gradient
scaler); on the CPU it runs in float32.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn.functional import logsigmoid

from modelworks.recommenders.data import (
    DEFAULT_COLUMNS,
    UNKNOWN,
    IdIndex,
    InteractionColumns,
    feature_table,
    require_columns,
)
from modelworks.recommenders.hybrid import (
    EpochRecord,
    FeatureTables,
    HybridRecommender,
    TrainingHistory,
    new_net,
    resolve_device,
)
from modelworks.recommenders.metrics import evaluate_recommender
from modelworks.recommenders.model import HybridNet
from modelworks.recommenders.params import RecommenderParams
from modelworks.training.splits import out_of_time_split


@dataclass(frozen=True)
class Validation:
    """Early stopping on the interactions after ``start``, ranked with the features of then.

    ``users`` and ``items`` are key column + features, as for ``fit_recommender``, with the
    values known at ``start`` (point in time); ``items`` is the catalogue the validation
    ranks, so it holds every item of the interactions up to ``start`` and may hold newer ones.
    """

    start: pd.Timestamp
    users: pd.DataFrame
    items: pd.DataFrame


def fit_recommender(
    interactions: pd.DataFrame,
    *,
    users: pd.DataFrame,
    items: pd.DataFrame,
    params: RecommenderParams | None = None,
    columns: InteractionColumns = DEFAULT_COLUMNS,
    history_features: Sequence[str] = (),
    device: str | torch.device | None = None,
    request_users: pd.DataFrame | None = None,
    validation: Validation | None = None,
) -> HybridRecommender:
    """Train on positive (user, item, time) rows; ``users``/``items``: key column + features.

    ``items`` is the catalogue the model ranks and must hold every item of ``interactions``;
    ``users`` may leave users out (they are scored as if they had no features).
    ``history_features`` names user features derived from the user's own interactions (e.g.
    shares of past bookings by attribute): a cold-start user has none, so a training row that
    drops the user id also drops these, and the unknown id learns to rank without them.
    ``request_users`` (same index as ``interactions``, the feature columns of ``users``) gives
    each interaction its user's features as of the moment the user asked; ``validation`` the
    held-out period and the features known at its start (see the module docstring). The
    fitted model keeps ``users`` and ``items``: the features as of the end of training.
    """
    params = params or RecommenderParams()
    trainer = recommender_trainer(
        interactions,
        users=users,
        items=items,
        params=params,
        columns=columns,
        history_features=history_features,
        device=device,
        request_users=request_users,
    )
    if params.validation_days == 0 and validation is None:
        return trainer.fit(interactions, params.max_epochs, phase="train")
    then = None
    if validation is None:
        past, valid = out_of_time_split(
            interactions, time_column=columns.time, holdout_days=params.validation_days
        )
    else:
        later = interactions[columns.time] > validation.start
        past, valid = interactions.loc[~later], interactions.loc[later]
        if past.empty or valid.empty:
            raise ValueError(
                f"validation start {validation.start} leaves {len(past)} interactions to train "
                f"on and {len(valid)} to validate with; both need some"
            )
        then = trainer.features_at(validation.users, validation.items)
    model = trainer.fit(past, params.max_epochs, phase="validate", features=then, valid=valid)
    if not params.refit:
        return model
    assert model.history is not None  # Trainer.fit always records one
    refit = trainer.fit(interactions, model.history.best_epoch, phase="refit")
    assert refit.history is not None
    refit.history = TrainingHistory(
        model.history.epochs + refit.history.epochs, best_epoch=model.history.best_epoch
    )
    return refit


def recommender_trainer(
    interactions: pd.DataFrame,
    *,
    users: pd.DataFrame,
    items: pd.DataFrame,
    params: RecommenderParams,
    columns: InteractionColumns = DEFAULT_COLUMNS,
    history_features: Sequence[str] = (),
    device: str | torch.device | None = None,
    request_users: pd.DataFrame | None = None,
) -> Trainer:
    """A ``Trainer`` for ``interactions`` (arguments as for ``fit_recommender``): every item
    checked to be in the catalogue, the encoders fitted on ``users`` and ``items``, each
    interaction's request features encoded."""
    require_columns(interactions, [columns.user, columns.item, columns.time], name="interactions")
    if interactions.empty:
        raise ValueError("no interactions to train on")
    features = FeatureTables.fit(
        feature_table(users, columns.user, name="users"),
        feature_table(items, columns.item, name="items"),
    )
    unknown = sorted(set(history_features) - set(features.user_encoder.columns))
    if unknown:
        raise ValueError(f"history_features {unknown} are not columns of the users table")
    outside = ~interactions[columns.item].isin(features.items.index)
    if outside.any():
        raise ValueError(
            f"{int(outside.sum())} interactions have items missing from the item table, e.g. "
            f"{interactions.loc[outside, columns.item].unique()[:5].tolist()}"
        )
    history_mask = features.user_encoder.output_mask(history_features)
    requests = None
    if request_users is not None:
        require_columns(request_users, features.user_encoder.columns, name="request_users")
        rows = request_users.reindex(interactions.index)
        requests = pd.DataFrame(features.user_encoder.transform(rows), index=interactions.index)
    return Trainer(features, params, columns, history_mask, resolve_device(device), requests)


class Trainer:
    """Fresh networks trained on (parts of) one set of interactions with one set of encoders:
    the early-stopping run and the refit share it."""

    def __init__(
        self,
        features: FeatureTables,
        params: RecommenderParams,
        columns: InteractionColumns,
        history_mask: np.ndarray,
        device: torch.device,
        requests: pd.DataFrame | None = None,
    ) -> None:
        self.features, self.params, self.columns, self.device = features, params, columns, device
        self.history_mask = history_mask
        self.requests = requests  # encoded user features per interaction, or None
        cuda = device.type == "cuda"
        self.amp = params.mixed_precision and cuda
        # bfloat16 needs no loss scaling; a GPU without it gets float16 and a gradient scaler.
        fp16 = cuda and not torch.cuda.is_bf16_supported()
        self.amp_dtype = torch.float16 if fp16 else torch.bfloat16

    def features_at(self, users: pd.DataFrame, items: pd.DataFrame) -> FeatureTables:
        """The tables of another time (key column + features), read by these encoders."""
        return self.features.at(
            feature_table(users, self.columns.user, name="validation users"),
            feature_table(items, self.columns.item, name="validation items"),
        )

    def fit(
        self,
        interactions: pd.DataFrame,
        n_epochs: int,
        *,
        phase: str,
        features: FeatureTables | None = None,
        valid: pd.DataFrame | None = None,
    ) -> HybridRecommender:
        """A fresh network trained for up to ``n_epochs`` on ``interactions`` with ``features``
        (the tables of the phase's time; the trainer's own by default). With ``valid`` it stops
        early and keeps its best epoch by validation NDCG@10; its history says which."""
        model, records = self._train(
            interactions, n_epochs, self.features if features is None else features, phase, valid
        )
        best = len(records)
        if valid is not None:
            best = max(records, key=lambda r: r.valid_ndcg_at_10 or 0.0).epoch
        model.history = TrainingHistory(tuple(records), best_epoch=best)
        return model

    def _train(
        self,
        interactions: pd.DataFrame,
        n_epochs: int,
        features: FeatureTables,
        phase: str,
        valid: pd.DataFrame | None,
    ) -> tuple[HybridRecommender, list[EpochRecord]]:
        p, cols = self.params, self.columns
        with _reproducible(p.seed, self.device):
            users = IdIndex.from_values(interactions[cols.user])
            items = IdIndex.from_values(interactions[cols.item])
            net = new_net(p, len(users), len(items), self.features).to(self.device)
            optimizer = torch.optim.AdamW(
                net.parameters(), lr=p.learning_rate, weight_decay=p.weight_decay
            )
            scaler = torch.amp.GradScaler(
                self.device.type, enabled=self.amp and self.amp_dtype == torch.float16
            )
            if self.requests is None:
                user_x = _with_unknown_row(features.encode_users(users.ids))
            else:
                user_x = self.requests.loc[interactions.index].to_numpy()
            batches = _Batches(
                users.positions(interactions[cols.user]),
                items.positions(interactions[cols.item]),
                n_items=len(items),
                user_x=self._tensor(user_x),
                item_x=self._tensor(_with_unknown_row(features.encode_items(items.ids))),
                user_history=self._tensor(self.history_mask.astype(np.float32)),
                per_row=self.requests is not None,
            )
            rng = np.random.default_rng(p.seed)
            records: list[EpochRecord] = []
            best_ndcg, best_epoch, best_state = -np.inf, 0, None
            for epoch in range(1, n_epochs + 1):
                start = time.perf_counter()
                loss = self._epoch(net, optimizer, scaler, batches, rng)
                seconds = time.perf_counter() - start
                model = self._model(net, users, items, features)
                ndcg = None
                if valid is not None:
                    ndcg = evaluate_recommender(
                        model, valid, history=interactions, columns=cols, ks=(10,), auc=False
                    )["ndcg_at_10"]
                records.append(EpochRecord(phase, epoch, loss, ndcg, len(batches), seconds))
                if ndcg is None:
                    continue
                if ndcg > best_ndcg:
                    best_ndcg, best_epoch = ndcg, epoch
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                elif epoch - best_epoch >= p.patience:
                    break
            if best_state is not None:
                net.load_state_dict(best_state)
        return self._model(net, users, items, features), records

    def _epoch(
        self,
        net: HybridNet,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        batches: _Batches,
        rng: np.random.Generator,
    ) -> float:
        """One pass over the positives in random order; returns the mean BPR loss."""
        net.train()
        p = self.params
        total = torch.zeros((), device=self.device)
        for user_ids, user_x, item_ids, item_x in batches.epoch(rng, p, self._tensor):
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
                scores = net(user_ids, user_x, item_ids, item_x)
                loss = -logsigmoid(scores[:, :1] - scores[:, 1:]).mean()
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.detach().float() * len(user_ids)
        # One device-to-host sync per epoch, not per batch.
        return float(total) / len(batches)

    def _model(
        self, net: HybridNet, users: IdIndex, items: IdIndex, features: FeatureTables
    ) -> HybridRecommender:
        return HybridRecommender(
            net,
            users=users,
            items=items,
            features=features,
            params=self.params,
            columns=self.columns,
        )

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)


@dataclass(frozen=True)
class _Batches:
    """Positive pairs as embedding rows, and the feature matrices their rows index."""

    user_pos: np.ndarray
    item_pos: np.ndarray
    n_items: int
    # (n_users + 1, width), row UNKNOWN all-missing features; with per_row, one row per pair.
    user_x: torch.Tensor
    item_x: torch.Tensor
    user_history: torch.Tensor  # (width,): 1 where a user feature comes from their history
    per_row: bool = False

    def __len__(self) -> int:
        return len(self.user_pos)

    def epoch(
        self, rng: np.random.Generator, p: RecommenderParams, to_tensor: Any
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Shuffled batches: (user ids, user features, item ids, item features).

        Item columns are the positive then ``p.negatives`` sampled items. Ids go through id
        dropout; features belong to the true user and items, as they would for a newcomer,
        whose features are known and whose id is not, except the user's history features,
        which a newcomer lacks: a dropped user id takes them with it (encoded missing is 0).
        """
        n = len(self)
        order = rng.permutation(n)
        users = self.user_pos[order]
        negatives = rng.integers(1, self.n_items + 1, size=(n, p.negatives))
        items = np.column_stack([self.item_pos[order], negatives])
        dropped = rng.random(n) < p.user_id_dropout
        user_ids = np.where(dropped, UNKNOWN, users)
        item_ids = np.where(rng.random(items.shape) < p.item_id_dropout, UNKNOWN, items)
        # One host-to-device copy per epoch; batches are slices on the device.
        rows_t = to_tensor(order if self.per_row else users)
        items_t = to_tensor(items)
        user_ids_t, item_ids_t = to_tensor(user_ids), to_tensor(item_ids)
        keep_history = 1.0 - to_tensor(dropped.astype(np.float32))[:, None] * self.user_history
        for lo in range(0, n, p.batch_size):
            b = slice(lo, lo + p.batch_size)
            user_x = self.user_x[rows_t[b]] * keep_history[b]
            yield user_ids_t[b], user_x, item_ids_t[b], self.item_x[items_t[b]]


def _with_unknown_row(encoded: np.ndarray) -> np.ndarray:
    """Prepend a zero row, so that row i of the result belongs to embedding row i."""
    return np.vstack([np.zeros((1, encoded.shape[1]), dtype=np.float32), encoded])


@contextmanager
def _reproducible(seed: int, device: torch.device) -> Iterator[None]:
    """Seed python, numpy and torch, and ask for deterministic algorithms until the exit."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if device.type == "cuda":
        # cuBLAS is only deterministic with a fixed workspace; set before its first call.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    # warn_only: an op without a deterministic CUDA kernel warns rather than stops training.
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
