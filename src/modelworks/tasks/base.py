"""The Task contract: what differs between machine-learning task families, declared once each.

The lifecycle (candidate loop, nested fold runs, refit, register, gate, promote, monitor,
score, retrain) is written once in ``modelworks.pipelines`` and asks the task for everything
that depends on what a label and a prediction are:

- how rows are checked, folded and split for early stopping;
- how a candidate is fitted, how many rounds it kept, and what it predicts;
- which metrics exist and which way each is better;
- the evidence plots, the logged model and what it needs to serve;
- the rows and evaluator the gate rescores both models with;
- the one-dimensional score monitoring watches, the realised performance once labels arrive,
  when to retrain, and what a batch score writes.

A family is one subclass registered in ``modelworks.tasks``; the conformance suite in
``tests/modelworks/tasks`` runs over every registered family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import pandas as pd

Serving = Mapping[str, Any] | None
"""Where a served model reads its features: ``feature_service``, ``join_keys``,
``online_features`` and ``feature_repo`` of the use case's Feast service."""


@dataclass(frozen=True)
class Fit:
    """One fit the lifecycle asks a family for: ``candidate`` on ``rows``, early-stopping on
    ``valid`` (a fold) or trained for exactly ``n_rounds`` (the refit)."""

    candidate: Any
    rows: pd.DataFrame
    params: Any
    context: Mapping[str, Any]
    """What every fit of the run shares (``Task.prepare``, and the use case's own context)."""
    valid: pd.DataFrame | None = None
    n_rounds: int | None = None


class Task(ABC):
    """One task family. Subclasses are stateless: everything a run needs comes as arguments."""

    name: ClassVar[str]
    metrics: ClassVar[Mapping[str, bool]]
    """Every metric the family computes, mapped to whether higher is better."""
    default_selection_metric: ClassVar[str]
    live_loss: ClassVar[str | None] = None
    """The name of ``live_losses``' scoring rule (None: the family has none)."""
    calibrated: ClassVar[bool] = False
    """Whether monitored scores are probabilities of a 0/1 label, so a calibration map can
    estimate performance before labels arrive."""

    # --- metrics ----------------------------------------------------------------------------

    def higher_is_better(self, metric: str) -> bool:
        """The direction of ``metric``; an error naming the family's metrics when unknown."""
        try:
            return self.metrics[metric]
        except KeyError:
            raise ValueError(
                f"task {self.name!r} has no metric {metric!r}; its metrics: {sorted(self.metrics)}"
            ) from None

    def oriented(self, metric: str, value: float) -> float:
        """``value`` turned so that larger is always better."""
        return value if self.higher_is_better(metric) else -value

    # --- rows -------------------------------------------------------------------------------

    @abstractmethod
    def check_rows(self, rows: pd.DataFrame, params: Any, *, role: str) -> None:
        """Raise a ValueError naming the column and values when ``rows`` cannot be trained or
        judged on (``role`` says which rows: training, holdout)."""

    @abstractmethod
    def folds(self, rows: pd.DataFrame, params: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """Cross-validation folds as positional (fit, score) index pairs."""

    @abstractmethod
    def stopping_split(self, rows: pd.DataFrame, params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Positional (fit, stop) indices: the part early stopping watches, carved from a fold's
        fitting rows so that the fold it is scored on stays unseen."""

    # --- candidates -------------------------------------------------------------------------

    def prepare(self, train: pd.DataFrame, params: Any) -> dict[str, Any]:
        """What every fit of a run shares, learnt once from the training rows (class labels,
        say); passed back to ``fit`` and stored with the served model."""
        return {}

    @abstractmethod
    def fit(self, job: Fit) -> Any:
        """A fitted model, as ``job`` asks."""

    @abstractmethod
    def rounds(self, fitted: Any) -> int:
        """How many boosting rounds or epochs ``fitted`` kept (early stopping's answer)."""

    @abstractmethod
    def predict(self, fitted: Any, rows: pd.DataFrame, context: Mapping[str, Any]) -> Any:
        """The fitted model's predictions for ``rows``, as ``evaluate`` reads them and as the
        served model answers (an array, or a frame with a column per class)."""

    @abstractmethod
    def evaluate(self, rows: pd.DataFrame, predictions: Any, params: Any) -> dict[str, float]:
        """Every metric of the family on ``rows`` (which carry the label)."""

    def evidence(
        self, name: str, fitted: Any, rows: pd.DataFrame, predictions: Any, params: Any
    ) -> dict[str, Any]:
        """Figures (or JSON documents, as dicts) for the candidate's run, by artifact path."""
        return {}

    def fold_evidence(self, name: str, fitted: Any, params: Any) -> dict[str, Any]:
        """Figures for a fold's run, by artifact path (a network's early-stopping curve)."""
        return {}

    def baselines(self, job: Fit, holdout: pd.DataFrame) -> list[dict[str, Any]]:
        """Reference models the winner must beat, fitted on ``job``'s rows (``job.candidate``
        is None) and judged on the same ``holdout``, each in its own run (role ``baseline``,
        never registered): a ``name``, ``run_id`` and ``holdout`` metrics each. None by
        default."""
        return []

    def over_baselines(
        self, holdout: Mapping[str, float], baselines: list[dict[str, Any]]
    ) -> dict[str, float]:
        """``<metric>_over_baselines``: the lead of ``holdout`` over the best of the baselines
        on each metric of the family (positive: better), which gate thresholds can hold a
        winner to."""
        margins = {}
        for name, value in holdout.items():
            rivals = [b["holdout"][name] for b in baselines if name in b["holdout"]]
            if name in self.metrics and rivals:
                best = max(self.oriented(name, rival) for rival in rivals)
                margins[f"{name}_over_baselines"] = self.oriented(name, value) - best
        return margins

    def candidate_tags(self, candidate: Any) -> dict[str, str]:
        """Tags of a candidate's run and registered version beyond its name: the model
        library it wraps, and what else the family says of it."""
        adapter = getattr(candidate, "adapter", None)
        return {} if adapter is None else {"modelworks.adapter": str(adapter)}

    @abstractmethod
    def log_model(self, fitted: Any, example: pd.DataFrame, job: Fit, serving: Serving) -> str:
        """Log ``fitted``, made by ``job``, as the served model (a pyfunc) in the active run,
        with ``example`` rows; its model URI."""

    # --- registry ---------------------------------------------------------------------------

    def gate_rows(self, holdout: pd.DataFrame, params: Any) -> tuple[pd.DataFrame, str]:
        """The rows the gate rescores both models on, and their label column."""
        return holdout, params.label

    @abstractmethod
    def evaluator(self, evidence: Mapping[str, Any]) -> Any:
        """The gate's evaluator (``modelworks.registry.evaluation.Evaluator``) for a version of
        this family, built from its stored gate evidence."""

    # --- monitoring and scoring -------------------------------------------------------------

    def monitored_scores(self, predictions: Any) -> np.ndarray:
        """The one-dimensional score prediction drift is measured on."""
        return np.asarray(predictions, dtype=float).ravel()

    def monitoring_signals(self, predictions: Any) -> dict[str, Any]:
        """Categorical signals of the predictions watched like features (class shares)."""
        return {}

    def reference_labels(self, rows: pd.DataFrame, params: Any) -> np.ndarray | None:
        """0/1 labels for a calibration map (calibrated families only)."""
        return None

    def realised_performance(
        self, rows: pd.DataFrame, predictions: np.ndarray, params: Any
    ) -> dict[str, Any] | None:
        """Performance on a batch whose labels have arrived (None: the batch has none)."""
        label = getattr(params, "label", None)
        if label is None or label not in rows.columns or rows[label].isna().any() or rows.empty:
            return None
        return {"n": len(rows), **self.evaluate(rows, predictions, params)}

    def live_losses(
        self, rows: pd.DataFrame, predictions: Any, params: Any, *, scale: float | None = None
    ) -> np.ndarray | None:
        """Each row's loss in [0, 1], from a proper scoring rule, for judging a shadow
        challenger against the champion on the same labelled rows (``registry.live``); None
        when the family has no per-row loss (its challengers are judged by the holdout gate).
        ``scale``: the error that counts as a full miss, for a family whose loss is unbounded."""
        return None

    def monitoring_note(self) -> str | None:
        """What the monitoring report should say about label-free estimation for this family,
        when it is not sound."""
        return None

    def scoring_columns(self, predictions: Any) -> dict[str, Any]:
        """The columns a batch score writes for each row (``score`` always among them)."""
        return {"score": np.asarray(predictions, dtype=float).ravel()}

    def score_range(self) -> tuple[float, float] | None:
        """Fixed histogram range of scores (probabilities), or None to use the batch's."""
        return (0.0, 1.0)

    def decide_retrain(
        self,
        summary: dict[str, Any],
        champion: Any,
        *,
        as_of: datetime,
        policy: Any,
        last_retrain_at: datetime | None,
    ) -> dict[str, Any]:
        """Whether to retrain ``champion`` (a ``ServedModel``) after its monitoring run
        ``summary``: ``scheduling.decision.decide_retrain``'s triggers under ``policy``, held
        back within its cooldown after ``last_retrain_at``, with the family's own triggers
        (``retrain_triggers``)."""
        from modelworks.scheduling.decision import decide_retrain

        return decide_retrain(
            summary,
            champion={"version": champion.version, "data_through": champion.data_through},
            as_of=as_of,
            policy=policy,
            last_retrain_at=last_retrain_at,
            higher_is_better=self.metrics.get(policy.metric, True),
            extra_triggers=self.retrain_triggers(summary, champion, policy),
        )

    def retrain_triggers(
        self, summary: dict[str, Any], champion: Any, policy: Any
    ) -> list[dict[str, Any]]:
        """The family's own retrain triggers, evaluated on the monitoring ``summary``; each
        ``{"trigger", "fired", "value", "threshold"}``. None by default."""
        return []
