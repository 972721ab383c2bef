"""Ranking: the items each user is shown, best first, judged per user on those they went on to
choose; the two-tower hybrid recommender of ``modelworks.recommenders`` against popularity and
content-based baselines.

Rows (``modelworks.recommenders.rows`` builds them from a use case's interactions):

- training rows: positive interactions (user key, item key, ``time_column``) with the user's
  features as of each request, those of the ``validation_days`` before the holdout marked
  ``validation_period``;
- holdout rows: the judged users, one row each, with their features and the items to leave
  out as of the cutoff, the items they went on to choose (``relevant_items``) and whether they
  are a cold start (no training interaction).

One fold, the time-based split the trainer has always used: the fold fits on the interactions
before the validation period and early stopping watches that period by NDCG@10; the fold is
scored on the same period, so a ranking's cross-validated metrics are its validation metrics at
the epoch early stopping chose (optimistic by that choice) and the holdout, never seen, is the
unbiased judge. The refit trains on every training interaction for that many epochs.

What every fit shares beyond its rows is the run's context, supplied by the use case
(``rows.build_training_context``): users and catalogue as of the cutoff, which the model keeps;
as of the validation start, which early stopping ranks with; the users' history features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelworks.recommenders.data import COLD_START, RELEVANT
from modelworks.recommenders.metrics import KS
from modelworks.recommenders.rankings import Rankings, relevant_pairs, top_lists
from modelworks.recommenders.rows import (
    HISTORY_FEATURES,
    ITEMS,
    USERS,
    VALIDATION_ITEMS,
    VALIDATION_PERIOD,
    VALIDATION_USERS,
    interaction_columns,
    request_example,
)
from modelworks.tasks.base import Fit, Serving, Task

GROUPS = ("", "_warm", "_cold")
EXCLUDE = "exclude_feature"
"""Key of the run context: the list feature of items never recommended to a user again."""


class Ranking(Task):
    """Top-k lists per user; precision, recall, NDCG and coverage at 5 and 10, and AUC over the
    catalogue, for all, warm and cold-start users; every one higher-is-better."""

    name = "ranking"
    metrics = {
        **{
            f"{kind}_at_{k}{group}": True
            for kind in ("precision", "recall", "ndcg", "coverage")
            for k in KS
            for group in GROUPS
        },
        **{f"auc{group}": True for group in GROUPS},
    }
    default_selection_metric = "ndcg_at_10"

    # --- rows -------------------------------------------------------------------------------

    def check_rows(self, rows: pd.DataFrame, params: Any, *, role: str) -> None:
        if rows.empty:
            raise ValueError(f"The {role} rows are empty: there is nothing to train or judge on")
        user, item = params.users.key, params.items.key
        needed = {
            "training": [user, item, params.time_column, VALIDATION_PERIOD],
            "holdout": [user, RELEVANT, COLD_START, params.time_column],
        }[role]
        missing = [c for c in needed if c not in rows.columns]
        if missing:
            raise ValueError(
                f"The {role} rows of task ranking lack columns {missing}; they have "
                f"{list(rows.columns)[:20]}"
            )
        if role == "training":
            validating = int(rows[VALIDATION_PERIOD].sum())
            if validating in (0, len(rows)):
                raise ValueError(
                    f"The validation period ({params.validation_days} days before the holdout) "
                    f"holds {validating} of {len(rows)} training interactions: early stopping "
                    "needs some, and training before it needs the rest"
                )

    def folds(self, rows: pd.DataFrame, params: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """One fold: every training interaction (of which ``stopping_split`` fits on those
        before the validation period), scored on the validation period."""
        validating = rows[VALIDATION_PERIOD].to_numpy(dtype=bool)
        return [(np.arange(len(rows)), np.flatnonzero(validating))]

    def stopping_split(self, rows: pd.DataFrame, params: Any) -> tuple[np.ndarray, np.ndarray]:
        validating = rows[VALIDATION_PERIOD].to_numpy(dtype=bool)
        return np.flatnonzero(~validating), np.flatnonzero(validating)

    # --- candidates -------------------------------------------------------------------------

    def prepare(self, train: pd.DataFrame, params: Any) -> dict[str, Any]:
        return {EXCLUDE: params.users.exclude_feature}

    def fit(self, job: Fit) -> Any:
        """With ``job.valid``: up to ``max_epochs`` on ``job.rows`` ranked with the tables of the
        validation start, stopped early by NDCG@10 of ``job.valid``; else ``job.n_rounds`` epochs (a
        refit) or ``max_epochs`` on ``job.rows`` with the tables of the cutoff."""
        from modelworks.recommenders.hybrid import torch_threads
        from modelworks.recommenders.trainer import recommender_trainer

        users = job.context[USERS]
        with torch_threads(job.params.torch_threads):
            trainer = recommender_trainer(
                job.rows,
                users=users,
                items=job.context[ITEMS],
                params=job.candidate,
                columns=interaction_columns(job.params),
                history_features=job.context[HISTORY_FEATURES],
                request_users=job.rows[[c for c in users.columns if c != job.params.users.key]],
            )
            if job.valid is None:
                phase = "train" if job.n_rounds is None else "refit"
                return trainer.fit(job.rows, job.n_rounds or job.candidate.max_epochs, phase=phase)
            then = trainer.features_at(job.context[VALIDATION_USERS], job.context[VALIDATION_ITEMS])
            return trainer.fit(
                job.rows, job.candidate.max_epochs, phase="validate", features=then, valid=job.valid
            )

    def rounds(self, fitted: Any) -> int:
        return int(fitted.history.best_epoch)

    def predict(self, fitted: Any, rows: pd.DataFrame, context: Mapping[str, Any]) -> Rankings:
        """The fitted model's ranking for the users of ``rows``, cold when it has no id for
        them, without the items their exclusion list names."""
        return Rankings.of(
            fitted,
            rows,
            columns=fitted.columns,
            known_users=fitted.users.ids,
            exclude=context.get(EXCLUDE),
        )

    def evaluate(self, rows: pd.DataFrame, predictions: Any, params: Any) -> dict[str, float]:
        """Every metric on the users of ``rows``; ``n_users`` of each group beside."""
        ranked: Rankings = predictions
        return ranked.judge(relevant_pairs(rows, ranked.columns))

    def evidence(
        self, name: str, fitted: Any, rows: pd.DataFrame, predictions: Any, params: Any
    ) -> dict[str, Any]:
        from modelworks.recommenders.plots import learning_curve_figure

        return {
            "plots/learning_curve.png": learning_curve_figure(fitted.history),
            "training/history.json": fitted.history.to_json(),
        }

    def fold_evidence(self, name: str, fitted: Any, params: Any) -> dict[str, Any]:
        from modelworks.recommenders.plots import learning_curve_figure

        return {"plots/learning_curve.png": learning_curve_figure(fitted.history)}

    def log_model(self, fitted: Any, example: pd.DataFrame, job: Fit, serving: Serving) -> str:
        """The top-k pyfunc, reading users' features from the online store of their service;
        beside it, its epochs (``best_epoch``) and training throughput (``samples_per_second``),
        which the recommender benchmark reads."""
        from modelworks.recommenders.serving import log_recommender
        from modelworks.registry import tracking

        history = fitted.history
        tracking.log_metrics(
            {"best_epoch": history.best_epoch, "samples_per_second": history.samples_per_second}
        )
        config = {
            "user_key": job.params.users.key,
            "user_service": job.params.users.service,
            "exclude_feature": job.params.users.exclude_feature,
            "feature_repo": (serving or {}).get("feature_repo"),
        }
        return log_recommender(fitted, request_example(example, job.params), config=config)

    def baselines(self, job: Fit, holdout: pd.DataFrame) -> list[dict[str, Any]]:
        """Popularity (recent interactions per item) and content-based similarity (the
        catalogue's attributes against each user's choices), fitted on the training rows."""
        train, params, context = job.rows, job.params, job.context
        from modelworks.recommenders.baselines import ContentRecommender, PopularityRecommender
        from modelworks.registry import tracking

        columns, catalogue = interaction_columns(params), context[ITEMS]
        settings = params.baselines
        models = {
            "popularity": (
                PopularityRecommender.fit(
                    train,
                    items=catalogue[[columns.item]],
                    columns=columns,
                    window_days=settings.popularity_window_days,
                ),
                {"window_days": settings.popularity_window_days},
            ),
            "content": (
                ContentRecommender.fit(
                    train,
                    items=catalogue[[columns.item, *settings.content_features]],
                    columns=columns,
                ),
                {"features": ",".join(settings.content_features)},
            ),
        }
        results = []
        for name, (model, logged) in models.items():
            tags = {tracking.TAG_ROLE: "baseline", "modelworks.adapter": name}
            with tracking.candidate_run(name, tags=tags) as run_id:
                tracking.log_params(logged, prefix="baseline.")
                ranked = Rankings.of(
                    model,
                    holdout,
                    columns=columns,
                    known_users=train[columns.user],
                    exclude=params.users.exclude_feature,
                )
                metrics = self.evaluate(holdout, ranked, params)
                tracking.log_metrics(metrics, prefix="holdout_")
            results.append({"name": name, "run_id": run_id, "holdout": metrics})
        return results

    # --- registry ---------------------------------------------------------------------------

    def gate_rows(self, holdout: pd.DataFrame, params: Any) -> tuple[pd.DataFrame, str]:
        return holdout, RELEVANT

    def evaluator(self, evidence: Mapping[str, Any]) -> Any:
        from modelworks.recommenders.evaluation import RankingEvaluator

        return RankingEvaluator(str(evidence["label"]))

    # --- monitoring and scoring -------------------------------------------------------------

    def monitored_scores(self, predictions: Any) -> np.ndarray:
        """Each user's best score."""
        return top_lists(predictions)["score"].to_numpy(dtype=float)

    def monitoring_note(self) -> str | None:
        return (
            "Not measurable for this task before the period's interactions are known: a "
            "ranking has no calibrated probability to estimate NDCG from. Realised NDCG, "
            "precision and recall at k of the latest period are measured when a model is "
            "trained on it; between trainings, drift of users, catalogue and item popularity "
            "is what this report watches."
        )

    def scoring_columns(self, predictions: Any) -> dict[str, Any]:
        """Each user's best ``score``, and the top-k ``items`` and their ``item_scores``."""
        lists = top_lists(predictions)
        return {column: lists[column].to_numpy() for column in ("score", "items", "item_scores")}

    def score_range(self) -> tuple[float, float] | None:
        return None
