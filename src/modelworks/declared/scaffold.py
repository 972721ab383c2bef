"""``modelworks new NAME --task TASK``: a declared use case's parameter file, to fill in.

The template is a working example (orders and customers, a label per task) whose comments
say what each key does; it validates as written, so a use case starts from a block that
parses and changes one key at a time.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

TASKS = ("binary_classification", "multiclass_classification", "regression")
"""The task families a declared use case can have: those trained on labelled tabular rows."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# Per task: the label column's rule, the selection metric, the gate and the retrain triggers.
_TASK_PARTS = {
    "binary_classification": {
        "label": "converted",
        "label_rule": "{dtype: int, min: 0, max: 1}        # 1: the order led to a repeat",
        "metric": "roc_auc",
        "thresholds": "roc_auc: {min: 0.6}",
        "improvement": "log_loss",
        "retrain": "metric: roc_auc\n    max_estimated_drop: 0.03",
    },
    "multiclass_classification": {
        "label": "outcome",
        "label_rule": "{dtype: string, allowed: [kept, returned, exchanged]}",
        "metric": "log_loss",
        "thresholds": "accuracy: {min: 0.4}",
        "improvement": "log_loss",
        "retrain": "metric: log_loss\n    max_estimated_drop: null",
    },
    "regression": {
        "label": "basket_value",
        "label_rule": "{dtype: float, min: 0}          # what the order was worth",
        "metric": "rmse",
        "thresholds": "r2: {min: 0.0}                 # better than predicting the mean",
        "improvement": "mae",
        "retrain": "metric: rmse\n    max_estimated_drop: null       # no label-free estimate",
    },
}

TEMPLATE = """\
# {name}: a use case declared in YAML alone (README, "Adding a use case"). Every key below is
# typed: a misspelt one fails at start-up, naming it. Replace the example tables (orders and
# customers) with yours, then:
#   kedro run --pipelines {name}_ingest    # sources -> raw -> GE gate -> entity rows, features
#   kedro run --pipelines {name}           # ingest, train, gate, register, score
{name}:
  declared:
    description: TODO say in one sentence what the model predicts, for whom, and when.
    tables:                              # the raw tables; each read-only, never written
      orders:
        path: data/00_source/{name}/orders.csv   # parquet or CSV in the project (or any URL)
        # package: a_data_package        # or: path is a file shipped in this installed package
        columns:                         # Great Expectations rules, and the dtypes used below
          order_id: {{dtype: int, nullable: false, unique: true}}
          customer_id: {{dtype: int, nullable: false}}
          ordered_at: {{dtype: datetime, nullable: false}}   # datetime columns are read as UTC
          channel: {{dtype: string, nullable: false, allowed: [web, app, store]}}
          items: {{dtype: int, nullable: false, min: 1}}
          amount: {{dtype: float, nullable: false, min: 0}}
          {label}: {label_rule}
      customers:
        path: data/00_source/{name}/customers.csv
        columns:
          customer_id: {{dtype: int, nullable: false, unique: true}}
          segment: {{dtype: string}}
          age: {{dtype: int, min: 16, max: 120}}

    entity_rows:                         # what one prediction is about
      table: orders
      timestamp: ordered_at              # when it is made: features are taken as of then
      label: {label}                    # rows without one are not entity rows
      keys: [order_id]                   # with the timestamp, a row in the predictions
      columns: [channel, items]          # the row's own features
      calendar: {{parts: [hour, day_of_week], timezone: UTC}}
      # sample: {{fraction: 0.2, seed: 0}} # a deterministic sample, to train faster
      scoring_days: 14                   # the newest days: the scoring batch, not trained on

    feature_views:                       # Feast views <name>__<view>_fv, one service
      customer:                          # no timestamp: static attributes, known forever
        table: customers
        entity: customer_id              # the join key, a column of the entity rows too
        prefix: customer_
        features: [segment, age]
      customer_orders:                   # aggregates over the hours before each order
        table: orders
        entity: customer_id
        timestamp: ordered_at
        aggregations:
          - {{column: amount, functions: [count, mean, max], windows_hours: [168, 720]}}
      # A view with timestamp and features (not aggregations) holds snapshots valid for
      # ttl_hours: e.g. {{table: prices, entity: product_id, timestamp: at, ttl_hours: 24,
      # features: [price]}}

  training:                              # label, time column and features are derived
    task: {task}
    holdout_days: 30                     # the newest labelled days: the out-of-time holdout
    n_splits: 3
    seed: 42
    selection_metric: {metric}
    candidates:
      lightgbm:
        adapter: lightgbm
        max_rounds: 500
        params: {{learning_rate: 0.05, num_leaves: 31, min_child_samples: 20}}
      catboost:
        adapter: catboost
        max_rounds: 500
        params: {{learning_rate: 0.1, depth: 6}}

  registry:                              # the model is registered as "{name}"
    gate:
      thresholds:                        # on the out-of-time holdout
        {thresholds}
      improvement: {{metric: {improvement}, min_delta: 0.0}}   # against the champion
      max_drift: warn

  retrain:                               # when {name}_retrain trains a challenger
    drift: critical
    {retrain}
    max_age_days: 90
    min_days_between: 7                  # cooldown: a week since the last training
"""


class ScaffoldError(ValueError):
    """The scaffold cannot be written as asked."""


def render(name: str, task: str) -> str:
    """The parameter file of a new declared use case ``name`` of family ``task``."""
    if task not in _TASK_PARTS:
        raise ScaffoldError(f"unknown task {task!r}; a declared use case is one of {list(TASKS)}")
    if not _NAME.match(name):
        raise ScaffoldError(f"{name!r} is not a use-case name: lower_snake_case, e.g. churn_risk")
    return TEMPLATE.format(name=name, task=task, **_TASK_PARTS[task])


def write_scaffold(root: Path, name: str, task: str) -> Path:
    """Write ``conf/base/parameters/<name>.yml`` under ``root``; never overwrite anything."""
    text = render(name, task)
    path = root / "conf" / "base" / "parameters" / f"{name}.yml"
    if path.exists():
        raise ScaffoldError(f"{path} exists: modelworks new never overwrites a file")
    if (root / "pipelines" / name).exists():
        raise ScaffoldError(f"pipelines/{name}/ exists: {name} is already a use case with code")
    check(name, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def check(name: str, text: str) -> None:
    """Raise the ParameterError naming the key if ``text`` is not a valid block for ``name``."""
    from modelworks.declared.params import params_model_for
    from modelworks.params import parse_params

    parse_params(params_model_for(name), yaml.safe_load(text)[name], where=name)
