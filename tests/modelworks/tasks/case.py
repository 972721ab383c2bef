"""What a conformance case supplies: a family's rows, how to take their signal out, and the
family's own way to profile, monitor and move a batch, with the tabular families' as defaults.

The suite (``test_conformance.py``) runs the same lifecycle over every case; only what a case
supplies differs. A tabular family (one labelled row per prediction) needs rows and a
``degrade``; a family whose rows or monitoring are its own (a ranking's interactions in and
judged users out, watched by its own nodes) supplies the rest too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelworks.monitoring import DriftParams
from modelworks.pipelines.monitoring import monitor_champion, profile_reference
from modelworks.pipelines.training import split_out_of_time
from modelworks.serving.datasets import ServedModel
from modelworks.tasks import get_task

START = pd.Timestamp("2024-01-01", tz="UTC")
MONITORING = DriftParams()
FEATURE_SERVICE = {
    "service": "toy_service",
    "join_keys": ["id"],
    "features": ["x", "z", "c"],
    "repo_path": "/nowhere",  # opened only when a caller sends keys alone
    "definitions_sha256": "0" * 64,
    "feature_views": {},
}


@dataclass(frozen=True)
class Rows:
    """One family's data for a lifecycle run, as its pipelines hand it to the shared nodes."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    """The judged rows: holdout metrics, the gate's rescoring and the served model's answer."""
    entities: pd.DataFrame
    """The entity rows the training set was retrieved for (the lineage digests them)."""
    latest: pd.DataFrame
    """The latest period as monitoring watches it and the retrain decision reads it."""
    scoring: pd.DataFrame
    """What a batch scoring run sends the champion."""
    context: Mapping[str, Any] | None = None
    """What every fit needs beyond the rows (``train_candidates(..., context=...)``)."""
    tables: Mapping[str, Any] = field(default_factory=dict)
    """What a family's own monitoring reads beside (a ranking's catalogue and time split)."""


def tabular_profile(rows: Rows, best: dict[str, Any], params: Any) -> dict[str, Any]:
    """The framework's reference profile of the holdout."""
    return profile_reference(rows.holdout, best, params, MONITORING)


def tabular_monitor(
    served: ServedModel, rows: Rows, batch: pd.DataFrame, params: Any
) -> dict[str, Any]:
    """The framework's monitoring of the champion on ``batch``."""
    return monitor_champion(served, batch, params, MONITORING)


def tabular_moved(batch: pd.DataFrame) -> pd.DataFrame:
    """The batch with its numeric features moved far from the reference."""
    return batch.assign(x=batch["x"] + 5.0, z=batch["z"] * 4.0)


def tabular_served_metrics(rows: Rows, answer: Any, params: Any) -> dict[str, float]:
    """The family's metrics of the served answer on the holdout."""
    return get_task(params.task).evaluate(rows.holdout, answer, params)


@dataclass(frozen=True)
class ConformanceCase:
    """What the suite needs of a family; the defaults are the tabular families'."""

    family: str
    params: Any
    rows: Callable[[], Rows]
    """The case's rows, the same on every call."""
    degrade: Callable[[pd.DataFrame, int], pd.DataFrame]
    """(training rows, seed) -> the same rows with the signal taken out; on a tabular family's
    labelled batch too, for the realised-performance check."""
    id_columns: tuple[str, ...] = ("id", "t")
    """The columns a batch score writes beside each prediction."""
    feature_service: Mapping[str, Any] = field(default_factory=lambda: FEATURE_SERVICE)
    profile: Callable[[Rows, dict[str, Any], Any], dict[str, Any]] = tabular_profile
    """(rows, best candidate, params) -> the reference profile registered with the model."""
    monitor: Callable[[ServedModel, Rows, pd.DataFrame, Any], dict[str, Any]] = tabular_monitor
    """(champion, rows, batch, params) -> the monitoring summary the retrain decision reads."""
    moved: Callable[[pd.DataFrame], pd.DataFrame] = tabular_moved
    """``rows.latest`` -> the same batch with its features moved far away (critical drift)."""
    served_metrics: Callable[[Rows, Any, Any], dict[str, float]] = tabular_served_metrics
    """(rows, the served answer to ``rows.holdout``, params) -> its metrics."""
    realised: bool = True
    """Whether monitoring measures realised performance on a labelled batch, so a batch whose
    labels no longer fit fires the retrain's ``realised_drop`` trigger."""


def tabular_rows(make_rows: Callable[[int], pd.DataFrame], params: Any) -> Callable[[], Rows]:
    """Rows of a tabular family: ``make_rows(0)`` split out of time; the holdout is judged,
    monitored and scored."""

    def rows() -> Rows:
        frame = make_rows(0)
        train, holdout = split_out_of_time(frame, params)
        return Rows(
            train=train,
            holdout=holdout,
            entities=frame[["id", "t"]],
            latest=holdout,
            scoring=holdout,
        )

    return rows


def features(seed: int, n: int) -> pd.DataFrame:
    """``id``, ``t`` over 90 days, numeric ``x`` and ``z``, categorical ``c`` and an integer
    count ``k``."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "t": START + pd.to_timedelta(np.arange(n) * 90 // n, "D"),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "c": rng.choice(["a", "b", "c"], size=n),
            # A count, int64 as a feature store serves it: the served model must take it so.
            "k": rng.integers(0, 10, size=n),
        }
    )


def shuffle_label(train: pd.DataFrame, seed: int, label: str = "y") -> pd.DataFrame:
    """The training rows with their labels shuffled: the features no longer predict them."""
    rng = np.random.default_rng(seed + 1000)
    return train.assign(**{label: rng.permutation(train[label].to_numpy())})
