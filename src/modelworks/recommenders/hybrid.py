"""The fitted hybrid recommender: a trained ``HybridNet``, its id vocabularies and feature
tables, the record of how it was trained, and how it is saved and loaded without pickles.

Devices: ``resolve_device(None)`` picks CUDA when present, else the CPU; a saved model loads
onto either. ``torch_threads`` bounds the CPU threads of a block of work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelworks.recommenders.base import Recommender
from modelworks.recommenders.data import (
    FeatureEncoder,
    IdIndex,
    InteractionColumns,
    feature_table,
)
from modelworks.recommenders.model import HybridNet
from modelworks.recommenders.params import RecommenderParams

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
        net = new_net(params, len(users), len(items), features).to(resolved)
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


def new_net(
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
