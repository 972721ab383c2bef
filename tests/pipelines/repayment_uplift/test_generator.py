"""Collections episodes on the credit book: schema, joins, timing, randomisation, true effect."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.stats import spearmanr

from modelworks.training import FeatureSpec
from modelworks.uplift import UpliftCandidateParams, UpliftData, fit_uplift_model, qini_coefficient
from pipelines.credit_risk.generator import GeneratorParams as CreditParams
from pipelines.credit_risk.generator import generate_credit_data
from pipelines.credit_risk.nodes import build_repayment_history
from pipelines.repayment_uplift.generator import (
    GeneratorParams,
    generate_collections_data,
    reveal_outcomes,
)

UTC = "datetime64[ns, UTC]"
ENTITY = {
    "episode_id": "int64",
    "borrower_id": "int64",
    "loan_id": "int64",
    "due_at": UTC,
    "started_at": UTC,
    "days_past_due": "int64",
    "loan_amount": "float64",
    "outstanding_amount": "float64",
    "outcome_at": UTC,
}
SCHEMA = {
    "episodes": {**ENTITY, "called": "int64", "repaid": "int64", "amount_repaid": "float64"},
    "scoring_episodes": ENTITY,
    "call_log": {
        "call_id": "int64",
        "borrower_id": "int64",
        "loan_id": "int64",
        "call_type": "object",
        "called_at": UTC,
        "outcome": "object",
    },
    "app_events": {
        "event_id": "int64",
        "borrower_id": "int64",
        "occurred_at": UTC,
        "event_type": "object",
    },
    "effects": {
        "episode_id": "int64",
        "p_repaid_if_called": "float64",
        "p_repaid_if_not_called": "float64",
        "uplift": "float64",
        "expected_amount_if_called": "float64",
        "expected_amount_if_not_called": "float64",
        "amount_uplift": "float64",
        "net_gain_of_call": "float64",
        "repaid_if_called": "int64",
        "repaid_if_not_called": "int64",
        "amount_if_called": "float64",
        "amount_if_not_called": "float64",
    },
}
# ~3,700 episodes: enough for the learnability check, generated in well under a second.
CREDIT = CreditParams(n_loans=20_000, history_days=360)
PARAMS = GeneratorParams()

PROFILE_CATEGORICAL = ["region", "occupation", "device_os", "acquisition_channel", "education"]
FEATURES = FeatureSpec(
    categorical=PROFILE_CATEGORICAL,
    numeric=[
        "age",
        "monthly_income",
        "days_past_due",
        "loan_amount",
        "outstanding_amount",
        "outstanding_to_income",
        "payments_count_90d",
        "late_payments_count_90d",
        "days_late_mean_90d",
        "days_late_max_90d",
        "paid_share_mean_90d",
        "sessions_7d",
        "sessions_30d",
        "repayment_views_7d",
        "calls_365d",
        "calls_answered_365d",
        "promises_365d",
        "refusals_365d",
    ],
)
LIGHTGBM = {"learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 50, "num_threads": 1}
# ``recovery`` on CREDIT with seeds 0, 1, 2, 42 (credit and generator alike), Spearman with the
# true uplift and top-30 % capture: S-learner 0.47-0.69 and 0.65-0.78, T-learner 0.38-0.56 and
# 0.61-0.75. The tests run seed 42: S 0.53 and 0.78, T 0.45 and 0.72.
MIN_SPEARMAN = {"s_learner": 0.35, "t_learner": 0.25}
MIN_CAPTURE = {"s_learner": 0.55, "t_learner": 0.5}


def _trailing(
    episodes: pd.DataFrame, events: pd.DataFrame, stamp: str, days: int, value: str | None = None
) -> np.ndarray:
    """Count (or sum ``value``) of each episode's borrower's events in the ``days`` before it."""
    pairs = episodes[["episode_id", "borrower_id", "started_at"]].merge(events, on="borrower_id")
    age = pairs["started_at"] - pairs[stamp]
    pairs = pairs[(age > pd.Timedelta(0)) & (age <= pd.Timedelta(days=days))]
    grouped = pairs.groupby("episode_id")
    totals = grouped.size() if value is None else grouped[value].sum()
    return totals.reindex(episodes["episode_id"], fill_value=0).to_numpy()


def episode_features(
    credit: dict[str, pd.DataFrame], data: dict[str, pd.DataFrame], table: str = "episodes"
) -> pd.DataFrame:
    """Each episode with point-in-time features as of its start: the borrower's profile,
    credit_risk's 90-day repayment history, app sessions and past calls.

    A plain-pandas stand-in for the Feast retrieval the pipeline does, to check the generator.
    """
    episodes = data[table].merge(credit["borrowers"], on="borrower_id", how="left")
    history = build_repayment_history(credit["repayments"], credit["loans"])
    episodes = pd.merge_asof(
        episodes.sort_values("started_at"),
        history.sort_values("event_timestamp"),
        left_on="started_at",
        right_on="event_timestamp",
        by="borrower_id",
        tolerance=pd.Timedelta(days=90),
        allow_exact_matches=False,
    ).sort_values("episode_id", ignore_index=True)
    episodes["outstanding_to_income"] = episodes["outstanding_amount"] / episodes["monthly_income"]
    events = data["app_events"].assign(
        view=lambda f: (f["event_type"] == "repayment_page_view").astype(int)
    )
    episodes["sessions_7d"] = _trailing(episodes, events, "occurred_at", 7)
    episodes["sessions_30d"] = _trailing(episodes, events, "occurred_at", 30)
    episodes["repayment_views_7d"] = _trailing(episodes, events, "occurred_at", 7, "view")
    calls = data["call_log"].assign(
        answered=lambda f: (f["outcome"] != "no_answer").astype(int),
        promise=lambda f: (f["outcome"] == "promise_to_pay").astype(int),
        refusal=lambda f: (f["outcome"] == "refused").astype(int),
    )
    episodes["calls_365d"] = _trailing(episodes, calls, "called_at", 365)
    episodes["calls_answered_365d"] = _trailing(episodes, calls, "called_at", 365, "answered")
    episodes["promises_365d"] = _trailing(episodes, calls, "called_at", 365, "promise")
    episodes["refusals_365d"] = _trailing(episodes, calls, "called_at", 365, "refusal")
    return episodes


def with_truth(credit: dict[str, pd.DataFrame], data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Episodes with their point-in-time features and, for checking only, their true effects."""
    return episode_features(credit, data).merge(data["effects"], on="episode_id")


def recovery(frame: pd.DataFrame, learner: str) -> dict[str, float]:
    """Fit ``learner`` (LightGBM) on 70 % of ``with_truth`` rows, score the rest against the truth.

    ``top_30_capture`` is the true uplift of the model's top 30 % as a share of the most any
    30 % holds; ``top_30_share_of_calling_all``, as a share of calling everybody.
    """
    rng = np.random.default_rng(0)
    part = rng.choice(3, size=len(frame), p=[0.56, 0.14, 0.30])  # train, early stopping, test
    rows = UpliftData.from_frame(frame, treatment="called", outcome="repaid")
    model = fit_uplift_model(
        rows.take(part == 0),
        features=FEATURES,
        candidate=UpliftCandidateParams(
            adapter="lightgbm", learner=learner, params=LIGHTGBM, max_rounds=500
        ),
        seed=0,
        valid=rows.take(part == 1),
    )
    test = frame[part == 2]
    predicted = model.predict_uplift(test)
    truth = test["uplift"].to_numpy()
    k = int(0.3 * len(test))
    best = np.sort(truth)[::-1][:k].sum()
    return {
        "spearman": float(spearmanr(predicted, truth).statistic),
        "top_30_capture": float(truth[np.argsort(-predicted, kind="stable")[:k]].sum() / best),
        "top_30_share_of_calling_all": float(
            truth[np.argsort(-predicted, kind="stable")[:k]].sum() / truth.sum()
        ),
        "qini_coefficient": qini_coefficient(test["repaid"], test["called"], predicted),
    }


def measure(seed: int = 42) -> dict[str, float]:
    """The figures quoted in the generator's docstring (run by hand; ~20 s at the defaults)."""
    credit = generate_credit_data(CreditParams(seed=seed))
    started = time.perf_counter()
    data = generate_collections_data(credit, GeneratorParams(seed=seed))
    seconds = time.perf_counter() - started
    episodes = data["episodes"].merge(data["effects"], on="episode_id")
    rates = episodes.groupby("called")["repaid"].mean()
    return {
        "seconds": seconds,
        "episodes": len(data["episodes"]),
        "scoring_episodes": len(data["scoring_episodes"]),
        "repaid_not_called": float(rates[0]),
        "repaid_called": float(rates[1]),
        "true_uplift_mean": float(data["effects"]["uplift"].mean()),
        "true_uplift_p05": float(data["effects"]["uplift"].quantile(0.05)),
        "true_uplift_p95": float(data["effects"]["uplift"].quantile(0.95)),
        "worth_a_call": float((data["effects"]["net_gain_of_call"] > 0).mean()),
        **{f"s_{k}": v for k, v in recovery(with_truth(credit, data), "s_learner").items()},
        **{f"t_{k}": v for k, v in recovery(with_truth(credit, data), "t_learner").items()},
    }


@pytest.fixture(scope="module")
def credit() -> dict[str, pd.DataFrame]:
    return generate_credit_data(CREDIT)


@pytest.fixture(scope="module")
def data(credit) -> dict[str, pd.DataFrame]:
    return generate_collections_data(credit, PARAMS)


@pytest.fixture(scope="module")
def frame(credit, data) -> pd.DataFrame:
    return with_truth(credit, data)


def test_tables_have_the_documented_columns_and_dtypes(data):
    assert set(data) == set(SCHEMA)
    for table, columns in SCHEMA.items():
        assert data[table].dtypes.astype(str).to_dict() == columns, table
        assert len(data[table]) > 0, table
    assert 2_000 < len(data["episodes"]) < 6_000


def test_keys_are_unique_and_join_to_the_credit_tables(data, credit):
    loans = credit["loans"]
    everything = pd.concat([data["episodes"], data["scoring_episodes"]])
    assert everything["episode_id"].is_unique and everything["loan_id"].is_unique
    joined = everything.merge(loans, on="loan_id", suffixes=("", "_loan"), validate="one_to_one")
    assert len(joined) == len(everything)
    assert (joined["borrower_id"] == joined["borrower_id_loan"]).all()
    assert (joined["due_at"] == joined["due_at_loan"]).all()
    assert (joined["loan_amount"] == joined["amount"]).all()
    assert sorted(data["effects"]["episode_id"]) == sorted(everything["episode_id"])
    calls = data["call_log"].merge(loans, on="loan_id", suffixes=("", "_loan"), validate="m:1")
    assert len(calls) == len(data["call_log"]) and data["call_log"]["call_id"].is_unique
    assert (calls["borrower_id"] == calls["borrower_id_loan"]).all()
    assert data["app_events"]["borrower_id"].isin(credit["borrowers"]["borrower_id"]).all()
    assert data["app_events"]["event_id"].is_unique


def test_episodes_start_days_after_the_due_date_on_loans_still_owed(data, credit):
    episodes = pd.concat([data["episodes"], data["scoring_episodes"]], ignore_index=True)
    assert (episodes["started_at"] > episodes["due_at"]).all()
    assert (
        episodes["days_past_due"].between(PARAMS.min_days_past_due, PARAMS.max_days_past_due).all()
    )
    calendar_days = (
        episodes["started_at"].dt.normalize() - episodes["due_at"].dt.normalize()
    ).dt.days
    assert (calendar_days == episodes["days_past_due"]).all()
    # what the book had received before the start leaves exactly the outstanding amount
    payments = credit["repayments"].merge(episodes[["loan_id", "started_at"]], on="loan_id")
    paid_before = (
        payments[payments["paid_at"] < payments["started_at"]].groupby("loan_id")["amount"].sum()
    )
    expected = episodes["loan_amount"] - episodes["loan_id"].map(paid_before).fillna(0.0)
    np.testing.assert_allclose(episodes["outstanding_amount"], expected, atol=0.011)
    assert (episodes["outstanding_amount"] > 0).all()


def test_outcome_windows_are_fourteen_days_and_outcomes_are_consistent(data):
    episodes = data["episodes"].merge(data["effects"], on="episode_id", validate="one_to_one")
    assert (episodes["outcome_at"] - episodes["started_at"] == pd.Timedelta(days=14)).all()
    called = episodes["called"] == 1
    expected = np.where(called, episodes["repaid_if_called"], episodes["repaid_if_not_called"])
    assert (episodes["repaid"] == expected).all()
    repaid = episodes["repaid"] == 1
    assert (
        episodes.loc[repaid, "amount_repaid"] == episodes.loc[repaid, "outstanding_amount"]
    ).all()
    unpaid = episodes[~repaid]
    assert (unpaid["amount_repaid"] < unpaid["outstanding_amount"]).all()
    assert 0.2 < (unpaid["amount_repaid"] > 0).mean() < 0.6  # some pay part of it


def test_treatment_is_randomised_with_the_configured_ratio(data, credit):
    called = data["episodes"]["called"]
    n = len(called)
    assert abs(called.sum() - 0.5 * n) <= 4 * np.sqrt(n * 0.25)
    other = generate_collections_data(credit, PARAMS.model_copy(update={"treatment_ratio": 0.8}))
    assert other["episodes"]["called"].mean() == pytest.approx(0.8, abs=0.03)
    # random, so the arms look alike before the call
    episodes = data["episodes"]
    for column in ("days_past_due", "outstanding_amount"):
        by_arm = episodes.groupby("called")[column].median()
        assert by_arm[1] == pytest.approx(by_arm[0], rel=0.1), column


def test_calls_and_sessions_are_stamped_when_they_became_known(data, credit):
    calls = data["call_log"]
    assert set(calls["call_type"]) == {"reminder", "collection"}
    reminders = calls[calls["call_type"] == "reminder"].merge(credit["loans"], on="loan_id")
    assert (reminders["called_at"] < reminders["due_at"]).all()
    assert set(reminders["outcome"]) == {"acknowledged", "no_answer"}
    collection = calls[calls["call_type"] == "collection"]
    assert set(collection["outcome"]) == {"no_answer", "promise_to_pay", "refused"}
    episodes = data["episodes"]
    called = episodes[episodes["called"] == 1]
    assert sorted(collection["loan_id"]) == sorted(called["loan_id"])  # one call per called episode
    timed = collection.merge(called, on="loan_id")
    assert (timed["called_at"] > timed["started_at"]).all()  # never visible at the start
    assert (timed["called_at"] < timed["started_at"] + pd.Timedelta(hours=10)).all()
    assert not collection["loan_id"].isin(data["scoring_episodes"]["loan_id"]).any()
    assert set(data["app_events"]["event_type"]) == {"app_open", "repayment_page_view"}


def test_scoring_episodes_are_the_last_days_without_treatment_or_outcome(data):
    scoring, episodes = data["scoring_episodes"], data["episodes"]
    assert scoring["started_at"].min() >= episodes["started_at"].max()
    span = scoring["started_at"].max() - scoring["started_at"].min()
    assert span <= pd.Timedelta(days=PARAMS.scoring_days)
    assert not {"called", "repaid", "amount_repaid"} & set(scoring.columns)


def test_truth_never_sits_in_the_episode_tables(data):
    truth = set(data["effects"].columns) - {"episode_id"}
    for table in ("episodes", "scoring_episodes", "call_log", "app_events"):
        assert not truth & set(data[table].columns), table


def test_true_effect_is_heterogeneous(data):
    effects = data["effects"]
    uplift = effects["uplift"]
    assert 0.05 < uplift.mean() < 0.15
    assert uplift.std() > 0.06
    assert 0.03 < (uplift < 0).mean() < 0.2  # some sleeping dogs
    np.testing.assert_allclose(
        uplift, effects["p_repaid_if_called"] - effects["p_repaid_if_not_called"]
    )
    np.testing.assert_allclose(
        effects["net_gain_of_call"], effects["amount_uplift"] - PARAMS.call_cost
    )
    episodes = data["episodes"].merge(effects, on="episode_id")
    rates = episodes.groupby("called")["repaid"].mean()
    assert 0.2 < rates[0] < 0.45
    assert rates[1] - rates[0] == pytest.approx(uplift.mean(), abs=0.04)


def test_effect_depends_on_what_is_known_at_the_start(frame):
    baseline = frame["p_repaid_if_not_called"]
    # app activity drives both: active users repay more on their own, and a call moves them less
    active = frame["sessions_7d"] >= 3
    assert baseline[active].mean() > baseline[~active].mean() + 0.1
    assert frame.loc[active, "uplift"].mean() < frame.loc[~active, "uplift"].mean() - 0.03
    # credit_risk's repayment history means something at the start: a recent track record
    # (payments in the last 90 days) goes with repaying more often without a call
    track_record = frame["payments_count_90d"].notna()
    assert baseline[track_record].mean() > baseline[~track_record].mean() + 0.04


@pytest.mark.parametrize("learner", ["s_learner", "t_learner"])
def test_true_effect_is_learnable(frame, learner):
    result = recovery(frame, learner)
    assert result["spearman"] > MIN_SPEARMAN[learner]
    assert result["top_30_capture"] > MIN_CAPTURE[learner]


def test_reveal_outcomes_answers_any_call_decision(data):
    scoring = data["scoring_episodes"]
    decisions = scoring[["episode_id"]].assign(called=np.arange(len(scoring)) % 2)
    outcomes = reveal_outcomes(decisions, data["effects"])
    truth = data["effects"].set_index("episode_id").loc[scoring["episode_id"]]
    expected = np.where(
        decisions["called"] == 1, truth["repaid_if_called"], truth["repaid_if_not_called"]
    )
    assert (outcomes["repaid"].to_numpy() == expected).all()
    with pytest.raises(ValueError, match="no effects row"):
        reveal_outcomes(pd.DataFrame({"episode_id": [-1], "called": [1]}), data["effects"])


def test_same_seed_same_data_other_seed_other_data(credit):
    first = generate_collections_data(credit, PARAMS)
    again = generate_collections_data(credit, PARAMS)
    other = generate_collections_data(credit, PARAMS.model_copy(update={"seed": 7}))
    for table in first:
        pd.testing.assert_frame_equal(first[table], again[table])
    assert not first["episodes"]["called"].equals(other["episodes"]["called"])


def test_episode_share_thins_the_queue(credit, data):
    half = generate_collections_data(credit, PARAMS.model_copy(update={"episode_share": 0.5}))
    assert len(half["episodes"]) == pytest.approx(0.5 * len(data["episodes"]), rel=0.1)


def test_params_and_inputs_are_checked(credit):
    with pytest.raises(ValidationError, match="treatment_ration"):
        GeneratorParams.model_validate({"treatment_ration": 0.5})
    with pytest.raises(ValidationError, match="must not exceed max_days_past_due"):
        GeneratorParams(min_days_past_due=5, max_days_past_due=3)
    with pytest.raises(ValidationError, match="treatment_ratio"):
        GeneratorParams(treatment_ratio=1.0)
    with pytest.raises(ValueError, match="lacks the 'repayments' table"):
        generate_collections_data({k: credit[k] for k in ("borrowers", "loans")}, PARAMS)
    with pytest.raises(ValueError, match=r"lacks columns \['due_at'\]"):
        generate_collections_data(
            {**credit, "loans": credit["loans"].drop(columns="due_at")}, PARAMS
        )
