"""Uplift modelling: which rows a treatment changes, and whom to treat.

Use-case-agnostic pieces for a randomised treatment (1 = treated, 0 = control) and a binary
outcome, optionally worth a value: metrics (Qini, uplift at k, deciles, profitability,
regression-adjusted values), S- and T-learners over any registered model adapter with
cross-validation, a tree that explains who is persuadable, figures, and a production targeting
policy with random holdouts. Like ``modelworks.training``, what this package exports talks to
no service, and LightGBM, CatBoost, scikit-learn and matplotlib are imported only when used.

The uplift task family (``modelworks.tasks.uplift``) puts these pieces into the one lifecycle
of ``modelworks.pipelines``. Imported on their own, the modules it uses: ``params`` (training
and scoring parameters), ``serving`` (the MLflow pyfunc), ``evaluation`` (the promotion gate's
evaluator), ``monitoring`` (realised uplift on the holdouts, the retrain decision) and
``targeting`` (the treatment list from a scored batch, and measuring its holdouts).
"""

from modelworks.uplift.cv import uplift_folds, uplift_stopping_split
from modelworks.uplift.explain import UpliftExplanation, explain_uplift
from modelworks.uplift.learners import (
    LEARNERS,
    TREATMENT_FEATURE,
    UPLIFT_METADATA_FILE,
    SLearnerModel,
    TLearnerModel,
    UpliftCandidateParams,
    UpliftData,
    UpliftModel,
    fit_uplift_model,
    load_uplift_model,
)
from modelworks.uplift.metrics import (
    average_treatment_effect,
    check_uplift_inputs,
    decile_of,
    incremental_profit_curve,
    perfect_uplift_score,
    profit_metrics,
    profitable_fraction,
    qini_coefficient,
    qini_curve,
    regression_adjusted,
    revenue_uplift_by_decile,
    uplift_at,
    uplift_at_k,
    uplift_by_decile,
    uplift_metrics,
)
from modelworks.uplift.plots import (
    qini_figure,
    revenue_uplift_by_decile_figure,
    uplift_by_decile_figure,
    uplift_segments_figure,
)
from modelworks.uplift.policy import (
    HOLDOUT_CONTROL,
    HOLDOUT_TREATED,
    TARGETED,
    TargetingPolicy,
    assign_treatments,
    holdout_uplift_by_decile,
    holdout_uplift_summary,
)

__all__ = [
    "HOLDOUT_CONTROL",
    "HOLDOUT_TREATED",
    "LEARNERS",
    "TARGETED",
    "TREATMENT_FEATURE",
    "UPLIFT_METADATA_FILE",
    "SLearnerModel",
    "TLearnerModel",
    "TargetingPolicy",
    "UpliftCandidateParams",
    "UpliftData",
    "UpliftExplanation",
    "UpliftModel",
    "assign_treatments",
    "average_treatment_effect",
    "check_uplift_inputs",
    "decile_of",
    "explain_uplift",
    "fit_uplift_model",
    "holdout_uplift_by_decile",
    "holdout_uplift_summary",
    "incremental_profit_curve",
    "load_uplift_model",
    "perfect_uplift_score",
    "profit_metrics",
    "profitable_fraction",
    "qini_coefficient",
    "qini_curve",
    "qini_figure",
    "regression_adjusted",
    "revenue_uplift_by_decile",
    "revenue_uplift_by_decile_figure",
    "uplift_at",
    "uplift_at_k",
    "uplift_by_decile",
    "uplift_by_decile_figure",
    "uplift_folds",
    "uplift_metrics",
    "uplift_segments_figure",
    "uplift_stopping_split",
]
