"""Training the hybrid recommender on implicit feedback, and the fitted model it returns.

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

import json
import os
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn.functional import logsigmoid

from modelworks.recommenders.base import Recommender
from modelworks.recommenders.data import (
    DEFAULT_COLUMNS,
    UNKNOWN,
    FeatureEncoder,
    IdIndex,
    InteractionColumns,
    feature_table,
    require_columns,
)
from modelworks.recommenders.metrics import evaluate_recommender
from modelworks.recommenders.model import HybridNet
from modelworks.recommenders.params import RecommenderParams
from modelworks.training.splits import out_of_time_split

FORMAT = "modelworks.hybrid_recommender/1"
WEIGHTS_FILE = "model.pt"
METADATA_FILE = "recommender.json"
USERS_FILE = "users.parquet"
ITEMS_FILE = "items.parquet"


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch did: its mean BPR loss, validation NDCG@10 and speed."""

    phase: str  # "validate" (early stopping), "refit" (all data, best epochs) or "train"
    epoch: int
    loss: float
    valid_ndcg_at_10: float | None
    samples: int  # positive pairs trained on, each with its sampled negatives
    seconds: float  # training only, validation excluded

    @property
    def samples_per_second(self) -> float:
        """Positive pairs per second of training."""
        return self.samples / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True)
class TrainingHistory:
    """Every epoch of every phase, and the epoch count early stopping chose."""

    epochs: tuple[EpochRecord, ...]
    best_epoch: int

    @property
    def samples_per_second(self) -> float:
        """Training throughput over all epochs: positive pairs per second."""
        seconds = sum(e.seconds for e in self.epochs)
        return sum(e.samples for e in self.epochs) / seconds if seconds > 0 else float("nan")

    @property
    def best_valid_ndcg_at_10(self) -> float | None:
        """Validation NDCG@10 of the chosen epoch, or None without validation."""
        for record in self.epochs:
            if record.phase == "validate" and record.epoch == self.best_epoch:
                return record.valid_ndcg_at_10
        return None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready epochs (with their throughput) and the best epoch."""
        epochs = [{**asdict(e), "samples_per_second": e.samples_per_second} for e in self.epochs]
        return {"best_epoch": self.best_epoch, "epochs": epochs}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingHistory:
        """Read back what ``to_json`` wrote."""
        fields = {"phase", "epoch", "loss", "valid_ndcg_at_10", "samples", "seconds"}
        epochs = tuple(
            EpochRecord(**{k: v for k, v in e.items() if k in fields}) for e in data["epochs"]
        )
        return cls(epochs=epochs, best_epoch=int(data["best_epoch"]))


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


@dataclass(frozen=True)
class FeatureTables:
    """Raw user and item features (indexed by id) and the encoders fitted on them."""

    users: pd.DataFrame
    items: pd.DataFrame
    user_encoder: FeatureEncoder
    item_encoder: FeatureEncoder

    @classmethod
    def fit(cls, users: pd.DataFrame, items: pd.DataFrame) -> FeatureTables:
        """Fit an encoder on each table."""
        return cls(users, items, FeatureEncoder.fit(users), FeatureEncoder.fit(items))

    def at(self, users: pd.DataFrame, items: pd.DataFrame) -> FeatureTables:
        """Other tables (indexed by id), encoded by these encoders: the features of another time."""
        return replace(self, users=users, items=items)

    def encode_users(self, ids: Any) -> np.ndarray:
        """Encoded features of ``ids``; an id without a row gets the all-missing encoding."""
        return self.user_encoder.transform(self.users.reindex(pd.Index(np.asarray(ids))))

    def encode_items(self, ids: Any) -> np.ndarray:
        """Encoded features of ``ids``; an id without a row gets the all-missing encoding."""
        return self.item_encoder.transform(self.items.reindex(pd.Index(np.asarray(ids))))


class HybridRecommender(Recommender):
    """A trained ``HybridNet`` with what it needs to rank its catalogue for any user.

    Known users and items (those seen in training) have id embeddings; everybody else is
    scored through the unknown id row from features alone. Features come from the tables
    kept at fit time, or from ``user_features`` passed in (e.g. read from an online store).
    """

    def __init__(
        self,
        net: HybridNet,
        *,
        users: IdIndex,
        items: IdIndex,
        features: FeatureTables,
        params: RecommenderParams,
        columns: InteractionColumns,
        history: TrainingHistory | None = None,
    ) -> None:
        self.net = net.eval()
        self.users, self.items = users, items
        self.features = features
        self.params, self.columns, self.history = params, columns, history
        self.item_ids = features.items.index
        self.device = next(net.parameters()).device
        self._user_rows = features.users.index
        self._user_x = features.user_encoder.transform(features.users)
        self._missing_user = features.encode_users([None])
        self._catalogue: tuple[torch.Tensor, torch.Tensor] | None = None

    def score_matrix(self, user_ids: Any, user_features: pd.DataFrame | None = None) -> np.ndarray:
        """Scores (users x catalogue) from ids and features; unknown users from features."""
        ids = np.asarray(user_ids)
        features = self._encoded_users(ids, user_features)
        item_vectors, item_bias = self._catalogue_vectors()
        with torch.inference_mode():
            users = self.net.user_vectors(self._tensor(self.users.positions(ids)), features)
            return (users @ item_vectors.T + item_bias).float().cpu().numpy()

    def with_catalogue(self, items: pd.DataFrame) -> HybridRecommender:
        """The same model ranking another catalogue (key column + features), e.g. new items."""
        table = feature_table(items, self.columns.item, name="items")
        return HybridRecommender(
            self.net,
            users=self.users,
            items=self.items,
            features=replace(self.features, items=table),
            params=self.params,
            columns=self.columns,
            history=self.history,
        )

    def save(self, directory: Path | str) -> None:
        """Weights (a state_dict), JSON metadata and the feature tables as parquet; no pickles."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), directory / WEIGHTS_FILE)
        metadata = {
            "format": FORMAT,
            "params": self.params.model_dump(mode="json"),
            "columns": self.columns.model_dump(mode="json"),
            "user_ids": self.users.to_json(),
            "item_ids": self.items.to_json(),
            "user_encoder": self.features.user_encoder.to_json(),
            "item_encoder": self.features.item_encoder.to_json(),
            "user_features": self.features.user_encoder.names,
            "item_features": self.features.item_encoder.names,
            "history": self.history.to_json() if self.history else None,
        }
        (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        self.features.users.reset_index().to_parquet(directory / USERS_FILE, index=False)
        self.features.items.reset_index().to_parquet(directory / ITEMS_FILE, index=False)

    @classmethod
    def load(cls, directory: Path | str, *, device: str | None = None) -> HybridRecommender:
        """Read back what ``save`` wrote, onto ``device`` (default: CUDA when present)."""
        directory = Path(directory)
        path = directory / METADATA_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no saved hybrid recommender in {directory}: {path.name}")
        metadata = json.loads(path.read_text())
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{path} has format {metadata.get('format')!r}, expected {FORMAT!r}")
        params = RecommenderParams.model_validate(metadata["params"])
        columns = InteractionColumns.model_validate(metadata["columns"])
        features = FeatureTables(
            users=pd.read_parquet(directory / USERS_FILE).set_index(columns.user),
            items=pd.read_parquet(directory / ITEMS_FILE).set_index(columns.item),
            user_encoder=FeatureEncoder.from_json(metadata["user_encoder"]),
            item_encoder=FeatureEncoder.from_json(metadata["item_encoder"]),
        )
        users = IdIndex.from_json(metadata["user_ids"])
        items = IdIndex.from_json(metadata["item_ids"])
        resolved = resolve_device(device)
        net = _new_net(params, len(users), len(items), features).to(resolved)
        # weights_only: the file holds tensors and nothing else, so nothing else is unpickled.
        net.load_state_dict(
            torch.load(directory / WEIGHTS_FILE, map_location=resolved, weights_only=True)
        )
        saved = metadata["history"]
        return cls(
            net,
            users=users,
            items=items,
            features=features,
            params=params,
            columns=columns,
            history=TrainingHistory.from_json(saved) if saved else None,
        )

    def _encoded_users(self, ids: np.ndarray, override: pd.DataFrame | None) -> torch.Tensor:
        """Encoded features of ``ids``: passed-in rows first, then the stored table."""
        rows = self._user_rows.get_indexer(pd.Index(ids))
        x = np.where(rows[:, None] >= 0, self._user_x[np.maximum(rows, 0)], self._missing_user)
        if override is not None:
            given = override.index.get_indexer(pd.Index(ids))
            if (given >= 0).any():
                x[given >= 0] = self.features.user_encoder.transform(
                    override.iloc[given[given >= 0]]
                )
        return self._tensor(x.astype(np.float32))

    def _catalogue_vectors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Vectors and biases of every catalogue item, computed once."""
        if self._catalogue is None:
            ids = self.item_ids.to_numpy()
            with torch.inference_mode():
                self._catalogue = self.net.item_vectors(
                    self._tensor(self.items.positions(ids)),
                    self._tensor(self.features.encode_items(ids)),
                )
        return self._catalogue

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Train with ``threads`` CPU threads (None: torch's default), restored afterwards.

    On a machine whose cores are busy with other work, a thread that waits for a core stalls
    every step: on two shared cores one thread trained 15 times faster than two.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a torch device; None means CUDA when present, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA device here")
    return resolved


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
    trainer = _Trainer(features, params, columns, history_mask, resolve_device(device), requests)
    if params.validation_days == 0 and validation is None:
        model, records = trainer.train(interactions, params.max_epochs, features, phase="train")
        model.history = TrainingHistory(tuple(records), best_epoch=len(records))
        return model
    if validation is None:
        past, valid = out_of_time_split(
            interactions, time_column=columns.time, holdout_days=params.validation_days
        )
        then = features
    else:
        later = interactions[columns.time] > validation.start
        past, valid = interactions.loc[~later], interactions.loc[later]
        if past.empty or valid.empty:
            raise ValueError(
                f"validation start {validation.start} leaves {len(past)} interactions to train "
                f"on and {len(valid)} to validate with; both need some"
            )
        then = features.at(
            feature_table(validation.users, columns.user, name="validation users"),
            feature_table(validation.items, columns.item, name="validation items"),
        )
    model, records = trainer.train(past, params.max_epochs, then, phase="validate", valid=valid)
    best = max(records, key=lambda r: r.valid_ndcg_at_10 or 0.0).epoch
    if params.refit:
        model, refit = trainer.train(interactions, best, features, phase="refit")
        records += refit
    model.history = TrainingHistory(tuple(records), best_epoch=best)
    return model


class _Trainer:
    """One training run over a set of interactions; shared by the early-stopping and refit runs."""

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

    def train(
        self,
        interactions: pd.DataFrame,
        n_epochs: int,
        features: FeatureTables,
        *,
        phase: str,
        valid: pd.DataFrame | None = None,
    ) -> tuple[HybridRecommender, list[EpochRecord]]:
        """Train a fresh network for up to ``n_epochs`` on ``features`` (the tables of the
        phase's time); with ``valid``, keep its best epoch."""
        p, cols = self.params, self.columns
        with _reproducible(p.seed, self.device):
            users = IdIndex.from_values(interactions[cols.user])
            items = IdIndex.from_values(interactions[cols.item])
            net = _new_net(p, len(users), len(items), self.features).to(self.device)
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


def _new_net(
    params: RecommenderParams, n_users: int, n_items: int, features: FeatureTables
) -> HybridNet:
    return HybridNet(
        n_users=n_users,
        n_items=n_items,
        user_features=features.user_encoder.width,
        item_features=features.item_encoder.width,
        embedding_dim=params.embedding_dim,
        hidden_dims=params.hidden_dims,
        output_dim=params.output_dim,
        dropout=params.dropout,
    )


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
