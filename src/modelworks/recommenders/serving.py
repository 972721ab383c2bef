"""The registered recommender: the top-k items for a user id, as an MLflow pyfunc.

A request row holds the user key and, optionally, ``k`` (how many items; the model's default
otherwise), the user's features and the list of items to leave out (``exclude_feature``, the
hotels a user already booked). Whatever a row leaves out is read from the Feast online store
of the users' feature service, so an online caller sends ``{"user_id": 42}``; a caller that
sends everything (the promotion gate, replaying the holdout as it was) is never overridden.

A user the store does not know (a visitor, an account created after the last
materialisation) is a cold start: the model ranks the catalogue from the features the
request carries, or, with none, as for an average newcomer, from the items' content and
popularity. The answer has one row per recommendation, ``<user key>, rank, <item key>,
score``, best first; a user with fewer than ``k`` items left gets a shorter list.

The network travels as a state_dict with JSON metadata (``HybridRecommender.save``) and this
class as code (``model_code.py``), never as a pickle.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from modelworks.recommenders.data import item_list
from modelworks.recommenders.rankings import DEFAULT_K, RANK
from modelworks.serving.pyfunc import FEATURE_REPO_ENV, MODEL_ARTIFACT, MissingFieldsError

if TYPE_CHECKING:
    from modelworks.recommenders.hybrid import HybridRecommender

K = "k"


class TopKRecommender(PythonModel):
    """Top-k items per user id; see the module docstring.

    ``model_config``: ``user_key``, ``k`` (default 10), ``exclude_feature``, to read features
    online ``user_service`` and ``feature_repo`` (overridden by the environment variable
    ``MODELWORKS_FEATURE_REPO``), and ``torch_threads`` (default 1), which loading sets for
    the process: ranking for one user is a few small matrix products, where more threads only
    wait on each other (milliseconds a call on a busy machine).
    """

    def load_context(self, context: Any) -> None:
        import torch

        from modelworks.recommenders.hybrid import HybridRecommender

        config: Mapping[str, Any] = context.model_config or {}
        torch.set_num_threads(int(config.get("torch_threads", 1)))
        self._model = HybridRecommender.load(Path(context.artifacts[MODEL_ARTIFACT]))
        self._key = str(config["user_key"])
        self._k = int(config.get("k", DEFAULT_K))
        self._exclude = config.get("exclude_feature")
        self._features = self._model.features.user_encoder.columns
        self._config = config
        self._lookup: OnlineUserFeatures | None = None  # opened on the first request needing it

    # Left unannotated: MLflow reads type hints on predict as a schema and would override the
    # signature logged with the model.
    def predict(self, context, model_input, params=None):
        rows = pd.DataFrame(model_input)
        if self._key not in rows.columns or rows[self._key].isna().any():
            raise MissingFieldsError([self._key])
        rows = rows.drop_duplicates(self._key).reset_index(drop=True)
        wanted = [*self._features, *([self._exclude] if self._exclude else [])]
        absent = [c for c in wanted if c not in rows.columns]
        if absent and self._config.get("user_service"):
            rows = self._online().complete(rows, absent)
        return recommend(self._model, rows, key=self._key, k=self._k, exclude=self._exclude)

    def _online(self) -> OnlineUserFeatures:
        if self._lookup is None:
            self._lookup = OnlineUserFeatures.from_config(self._config)
        return self._lookup


def recommend(
    model: HybridRecommender, rows: pd.DataFrame, *, key: str, k: int, exclude: str | None
) -> pd.DataFrame:
    """The top-k rows for each request row (one per user), as the served model answers.

    Features: a row's own where it has any, else the model's table (as of its training).
    """
    users = rows[key].to_numpy()
    features = None
    if any(c in rows.columns for c in model.features.user_encoder.columns):
        features = rows.set_index(key).reindex(columns=model.features.user_encoder.columns)
    left_out = None
    if exclude is not None and exclude in rows.columns:
        left_out = dict(zip(users, map(item_list, rows[exclude]), strict=True))
    wanted = rows[K].fillna(k).astype(int) if K in rows.columns else pd.Series(k, rows.index)
    if (wanted < 1).any():
        raise ValueError(f"{K} must be at least 1, got {int(wanted.min())}")
    top = model.recommend(users, int(wanted.max()), exclude=left_out, user_features=features)
    top = top.loc[top[RANK].to_numpy() <= top["user_id"].map(dict(zip(users, wanted, strict=True)))]
    return top.rename(columns={"user_id": key, "item_id": model.columns.item}).reset_index(
        drop=True
    )


class OnlineUserFeatures:
    """Users' features read from the Feast online store of one feature service."""

    def __init__(self, repo_path: str, service: str, key: str) -> None:
        from modelworks.features.store import open_feature_store

        self._store = open_feature_store(repo_path)
        self._service = self._store.get_feature_service(service)
        self.key = key

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OnlineUserFeatures:
        repo = os.environ.get(FEATURE_REPO_ENV) or config["feature_repo"]
        return cls(repo, config["user_service"], config["user_key"])

    def complete(self, rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """``rows`` with ``columns`` from the store; missing for users it does not know."""
        keys = [{self.key: value} for value in rows[self.key].tolist()]
        found = self._store.get_online_features(features=self._service, entity_rows=keys).to_dict()
        # One frame from columns: assigning some thirty columns one by one to a one-row frame
        # was most of a request's time.
        data: dict[str, Any] = {c: rows[c] for c in rows.columns}
        data.update({c: found[c] for c in columns if c in found})
        return pd.DataFrame(data, index=rows.index)


def log_recommender(
    model: HybridRecommender, example: pd.DataFrame, *, config: Mapping[str, Any]
) -> str:
    """Log ``model`` in the active run as the top-k pyfunc; returns its model URI.

    ``example`` holds a few requests as a caller sends them in full (key, features, items to
    leave out); the signature requires the key and accepts everything else, ``k`` included.
    """
    from modelworks.registry import tracking

    key, exclude = str(config["user_key"]), config.get("exclude_feature")
    requests = example.assign(**{K: np.int64(DEFAULT_K)})
    answers = recommend(model, requests, key=key, k=DEFAULT_K, exclude=exclude)
    with warnings.catch_warnings():
        # MLflow warns that an integer column cannot hold missing values: the key never is,
        # and ``k`` falls back to the default when it is.
        warnings.simplefilter("ignore", UserWarning)
        signature = tracking.signature_of(requests, answers, optional=set(requests.columns) - {key})
    return tracking.log_pyfunc(
        model_code=tracking.code_file("modelworks.recommenders.model_code"),
        save=model.save,
        signature=signature,
        input_example=requests,
        model_config={**config, "k": DEFAULT_K},
        libraries=("torch",),
    )
