"""Uplift: which rows a randomised treatment changes, and by how much in value.

A row carries the experiment's treatment flag (0/1, assigned at random), its binary outcome,
what it realised (``value``) and what a positive outcome is worth (``value_at_stake``). A
candidate is a meta-learner (S or T, ``modelworks.uplift.learners``) over one classifier
adapter; it predicts each arm's outcome probability, their difference (the uplift) and the
uplift times the value at stake (the revenue uplift). Folds and early-stopping rows hold both
arms; the metrics are the Qini coefficient and uplift among the top rows, with revenue and
profit at the treatment's cost; the gate rescores both models on the holdout rows of both arms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

import numpy as np
import pandas as pd

from modelworks.tasks.base import Fit, Serving, Task
from modelworks.uplift.params import UpliftMetric
from modelworks.uplift.serving import OUTPUT_COLUMNS, REVENUE_UPLIFT, UPLIFT, VALUE_AT_STAKE


class Uplift(Task):
    """Predicted uplift and revenue uplift of a randomised treatment on a 0/1 outcome."""

    name = "uplift"
    metrics = dict.fromkeys(get_args(UpliftMetric), True)
    default_selection_metric = "qini_coefficient"

    # --- rows -------------------------------------------------------------------------------

    def check_rows(self, rows: pd.DataFrame, params: Any, *, role: str) -> None:
        if rows.empty:
            raise ValueError(f"The {role} rows are empty: there is nothing to train or judge on")
        columns = [params.treatment, params.outcome, params.value, params.value_at_stake]
        missing = [c for c in columns if c not in rows.columns]
        if missing:
            raise ValueError(
                f"The {role} rows lack the experiment's column(s) {missing}; "
                f"columns: {list(rows.columns)[:20]}"
            )
        for column in (params.treatment, params.outcome):
            bad = ~rows[column].isin([0, 1])
            if bad.any():
                raise ValueError(
                    f"Column {column!r} of the {role} rows must hold 0/1 for task uplift; "
                    f"found {rows.loc[bad, column].head(5).tolist()}"
                )
        arms = rows[params.treatment].value_counts().to_dict()
        if sorted(arms) != [0, 1]:
            raise ValueError(
                f"The {role} rows hold treatment values {arms}: uplift needs treated (1) and "
                "control (0) rows on both sides of the split"
            )

    def folds(self, rows: pd.DataFrame, params: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        from modelworks.uplift.cv import uplift_folds

        treatment, outcome = _arms(rows, params)
        return uplift_folds(treatment, outcome, n_splits=params.n_splits, seed=params.seed)

    def stopping_split(self, rows: pd.DataFrame, params: Any) -> tuple[np.ndarray, np.ndarray]:
        from modelworks.uplift.cv import uplift_stopping_split

        treatment, outcome = _arms(rows, params)
        return uplift_stopping_split(
            treatment, outcome, fraction=params.early_stopping_fraction, seed=params.seed
        )

    # --- candidates -------------------------------------------------------------------------

    def prepare(self, train: pd.DataFrame, params: Any) -> dict[str, Any]:
        # The served model multiplies its uplift by this column of the rows it is sent.
        return {VALUE_AT_STAKE: params.value_at_stake}

    def fit(self, job: Fit) -> Any:
        from modelworks.uplift.learners import UpliftData, fit_uplift_model

        def data(frame: pd.DataFrame) -> UpliftData:
            return UpliftData.from_frame(
                frame, treatment=job.params.treatment, outcome=job.params.outcome
            )

        return fit_uplift_model(
            data(job.rows),
            features=job.params.features,
            candidate=job.candidate,
            seed=job.params.seed,
            valid=None if job.valid is None else data(job.valid),
            n_rounds=job.n_rounds,
        )

    def rounds(self, fitted: Any) -> int:
        # A T-learner's two classifiers refit with the mean of the rounds each kept.
        return max(1, round(float(np.mean(list(fitted.best_iterations.values())))))

    def predict(self, fitted: Any, rows: pd.DataFrame, context: Mapping[str, Any]) -> Any:
        from modelworks.uplift.serving import predict_uplift_table

        return predict_uplift_table(fitted, rows, str(context[VALUE_AT_STAKE]))

    def evaluate(self, rows: pd.DataFrame, predictions: Any, params: Any) -> dict[str, float]:
        """The uplift metrics of the predicted uplift on the outcome, and the revenue Qini and
        profit metrics of the revenue uplift on the realised value (totals over ``rows``), with
        the rows of each arm."""
        from modelworks.uplift.metrics import profit_metrics, qini_coefficient, uplift_metrics

        y, t = rows[params.outcome].to_numpy(), rows[params.treatment].to_numpy()
        value = realised_value(rows, params)
        revenue = np.asarray(predictions[REVENUE_UPLIFT], dtype=float)
        metrics = uplift_metrics(y, t, np.asarray(predictions[UPLIFT], dtype=float))
        metrics["revenue_qini_coefficient"] = qini_coefficient(value, t, revenue)
        metrics.update(profit_metrics(value, t, revenue, params.treatment_cost))
        treated = int(np.sum(t == 1))
        return metrics | {"n_treated": treated, "n_control": len(t) - treated}

    def evidence(
        self, name: str, fitted: Any, rows: pd.DataFrame, predictions: Any, params: Any
    ) -> dict[str, Any]:
        """The charts an uplift model is judged by (Qini curve, uplift and revenue uplift by
        decile, persuadable segments, importance) and their tables as one JSON document."""
        from modelworks.training.plots import feature_importance_figure
        from modelworks.uplift import plots
        from modelworks.uplift.explain import explain_uplift
        from modelworks.uplift.metrics import revenue_uplift_by_decile, uplift_by_decile
        from modelworks.uplift.monitoring import table_records

        y, t = rows[params.outcome].to_numpy(), rows[params.treatment].to_numpy()
        uplift = np.asarray(predictions[UPLIFT], dtype=float)
        deciles = uplift_by_decile(y, t, uplift)
        revenue_deciles = revenue_uplift_by_decile(
            realised_value(rows, params), t, np.asarray(predictions[REVENUE_UPLIFT], dtype=float)
        )
        segments = explain_uplift(
            rows,
            uplift,
            features=params.features,
            max_depth=params.explanation.max_depth,
            min_segment_share=params.explanation.min_segment_share,
            treatment=t,
            outcome=y,
            seed=params.seed,
        )
        return {
            "plots/qini.png": plots.qini_figure(y, t, uplift, label=name),
            "plots/uplift_by_decile.png": plots.uplift_by_decile_figure(deciles),
            "plots/revenue_uplift_by_decile.png": plots.revenue_uplift_by_decile_figure(
                revenue_deciles, cost=params.treatment_cost
            ),
            "plots/persuadable_segments.png": plots.uplift_segments_figure(segments),
            "plots/feature_importance.png": feature_importance_figure(fitted.feature_importance()),
            "evaluation/holdout_tables.json": {
                "uplift_by_decile": table_records(deciles),
                "revenue_uplift_by_decile": table_records(revenue_deciles),
                "persuadable_segments": table_records(segments.segments),
                "segments_r_squared": segments.r_squared,
                "segments_feature_importance": segments.importance.to_dict(),
            },
        }

    def candidate_tags(self, candidate: Any) -> dict[str, str]:
        return {"modelworks.adapter": candidate.adapter, "modelworks.learner": candidate.learner}

    def log_model(self, fitted: Any, example: pd.DataFrame, job: Fit, serving: Serving) -> str:
        from modelworks.uplift.serving import log_uplift_model

        return log_uplift_model(
            fitted, example, value_at_stake=str(job.context[VALUE_AT_STAKE]), serving=serving
        )

    # --- registry ---------------------------------------------------------------------------

    def gate_rows(self, holdout: pd.DataFrame, params: Any) -> tuple[pd.DataFrame, str]:
        from modelworks.uplift.evaluation import evidence_rows

        return evidence_rows(holdout, treatment=params.treatment), params.outcome

    def evaluator(self, evidence: Mapping[str, Any]) -> Any:
        from modelworks.uplift.evaluation import UpliftEvaluator

        return UpliftEvaluator(outcome=str(evidence["label"]))

    # --- monitoring and scoring -------------------------------------------------------------

    def monitored_scores(self, predictions: Any) -> np.ndarray:
        return np.asarray(predictions[UPLIFT], dtype=float)

    def realised_performance(
        self, rows: pd.DataFrame, predictions: Any, params: Any
    ) -> dict[str, Any] | None:
        """The metrics on a batch whose treatment was randomised and whose outcomes and values
        have all arrived (an experiment's rows); None for any other batch."""
        columns = [params.treatment, params.outcome, params.value, params.value_at_stake]
        if rows.empty or any(c not in rows.columns or rows[c].isna().any() for c in columns):
            return None
        if rows[params.treatment].nunique() < 2:
            return None
        return {"n": len(rows), **self.evaluate(rows, predictions, params)}

    def monitoring_note(self) -> str | None:
        return (
            "Performance is not estimated before outcomes arrive: a treatment's effect on one "
            "row is never observed. Realised uplift is measured on the random holdouts of the "
            "treatment list once their outcomes arrive; the retrain decision compares its Qini "
            "coefficient with the champion's holdout Qini."
        )

    def scoring_columns(self, predictions: Any) -> dict[str, Any]:
        return {
            "score": np.asarray(predictions[UPLIFT], dtype=float),
            **{column: np.asarray(predictions[column], dtype=float) for column in OUTPUT_COLUMNS},
        }

    def score_range(self) -> tuple[float, float] | None:
        return (-1.0, 1.0)

    def retrain_triggers(
        self, summary: dict[str, Any], champion: Any, policy: Any
    ) -> list[dict[str, Any]]:
        """The realised Qini on the treatment list's holdouts against the champion's own
        holdout Qini (its reference profile's performance)."""
        from modelworks.uplift.monitoring import qini_triggers

        reference = _reference_metrics(champion).get("qini_coefficient")
        return qini_triggers(summary, reference, policy)


def _reference_metrics(champion: Any) -> dict[str, Any]:
    """The champion's holdout metrics, as its reference profile keeps them (versions registered
    before the one lifecycle kept them under ``holdout_metrics``)."""
    profile = champion.reference_profile or {}
    scores = profile.get("scores") or {}
    return scores.get("performance") or profile.get("holdout_metrics") or {}


def _arms(rows: pd.DataFrame, params: Any) -> tuple[np.ndarray, np.ndarray]:
    return rows[params.treatment].to_numpy(), rows[params.outcome].to_numpy()


def realised_value(rows: pd.DataFrame, params: Any) -> np.ndarray:
    """What each row realised, regression-adjusted on its value at stake (``regression_adjusted``):
    comparisons of the arms stay unbiased and a few large balances stop dominating them."""
    from modelworks.uplift.metrics import regression_adjusted

    return regression_adjusted(
        rows[params.value], rows[params.treatment], rows[params.value_at_stake]
    )
