"""What importing modelworks.training costs, and what it exports."""

import subprocess
import sys

import modelworks.training as training


def test_importing_the_package_leaves_the_heavy_libraries_unimported():
    heavy = ["sklearn", "catboost", "lightgbm", "matplotlib"]
    code = (
        f"import sys, modelworks.training; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_task_contract_names_are_exported():
    expected = {
        "Objective",
        "METRIC_DIRECTIONS",
        "multiclass_metrics",
        "regression_metrics",
        "regression_subset_metric",
        "subset_metric",
        "kfolds",
        "early_stopping_split",
        "predicted_vs_actual_figure",
        "residuals_figure",
        "confusion_matrix_figure",
        "multiclass_calibration_figure",
    }
    assert expected <= set(training.__all__)
    assert all(hasattr(training, name) for name in training.__all__)
