"""Synthetic data source for repayment_uplift: collection calls to the lender's past-due borrowers.

The mobile lender of ``pipelines.credit_risk.generator`` phones borrowers whose loans are past
due. A call costs an agent's time and only some borrowers repay *because* they were called, so
the lender ran a randomised experiment: every past-due loan that entered the collections queue
was called or not at random. ``generate_collections_data`` takes the loan book that
``generate_credit_data`` returns (``borrowers``, ``loans``, ``repayments``) and returns:

- ``episodes``: one collections episode per queued past-due loan (``episode_id``,
  ``borrower_id``, ``loan_id``, ``due_at``, ``started_at``, ``days_past_due``, ``loan_amount``,
  ``outstanding_amount``, ``outcome_at`` = start + ``outcome_days``) with its random treatment
  (``called``) and outcome (``repaid``: the outstanding balance paid by ``outcome_at``;
  ``amount_repaid``);
- ``scoring_episodes``: the episodes of the last ``scoring_days``, without treatment or outcome:
  the batch a targeting policy decides on;
- ``call_log``: every call the lender placed (reminders before due dates, collection calls of
  called episodes) with its outcome, stamped ``called_at``;
- ``app_events``: the borrowers' app sessions, stamped ``occurred_at``;
- ``effects``: the true per-episode effect of a call and both potential outcomes. It is for
  tests and simulations only and must never be a model input.

Generative story
----------------
1. **Past due, queued.** The collections queue picks a loan up ``days_past_due`` days after its
   due date (``min_days_past_due`` + Binomial(max - min, 0.25): 1-10, mean ~3), at 08:00: the
   episode start. A loan enters when the book's repayments made before then do not cover its
   amount (``outstanding_amount`` is the rest), with probability ``episode_share``. Loans
   cleared before the pick-up never become episodes. At credit_risk's defaults ~20 % of loans
   do, and ~60 % of those default in the book.
2. **Two traits nobody observes**, per borrower: *receptiveness* ``r ~ N(0, 1)`` (answers the
   phone, listens) and *engagement* ``e ~ N(0, 0.6)`` (opens the app).
3. **App sessions** while a loan is open: Poisson at ``0.22 * exp(e)`` a day from application
   to the due date; then, while it stays unpaid (at most 60 days), ``x exp(0.7 * intent -
   0.2)`` with ``intent = +-1 + N(0, 0.7)``, +1 when the book clears the loan after all and -1
   when it defaults: payers keep looking, defaulters go quiet. 15 % of sessions are
   ``repayment_page_view`` (45 % for a payer past due), the rest ``app_open``. Recent sessions
   are thus a noisy sign of intent.
4. **Reminder calls**: a random ``reminder_share`` of loans still open the day before their due
   date get a courtesy call that day (09:00-17:00), answered (``acknowledged``, else
   ``no_answer``) with probability ``a = sigmoid(0.6 + 0.7 r - 0.6 entry_phone + 0.02 (age -
   35))``. They change nothing in the book (its repayments already happened); what they do is
   reveal receptiveness to later episodes.
5. **Baseline** (not called) logit of repaying the outstanding balance within ``outcome_days``:
   ``b = -1.3 + verdict + 0.45 log1p(s7) - 0.35 min(late / 5, 2) + 0.3 steady - 0.4 precarious
   - 0.35 log(outstanding / monthly_income / 0.1) - 0.08 (days_past_due - 3) + 0.15 high_end``.
   ``verdict`` is the book's own fate for this loan, unknown at the start: +0.9 if its payments
   clear it within the window, -0.6 if it defaults, else 0; so loans the book has defaulting
   rarely get repaid here. ``s7`` counts sessions in the 7 days before the start; ``late`` is
   credit_risk's ``days_late_mean_90d`` at the start (0 without payments); steady = teacher,
   civil servant, salaried; precarious = unemployed, student, casual labourer; high_end =
   android_high or ios.
6. **A call** is answered with probability ``a``. Answered, it adds ``g = 1.7 - 0.9 log1p(s7)
   - 0.5 min(late / 5, 2) + 0.6 steady - 0.9 precarious + 0.35 r - 0.1 (days_past_due - 3)
   - 0.35 log(outstanding / income / 0.1)`` to the logit: people who are not looking at the app
   and can pay are the persuadable ones; a call cannot make money appear, and for some ``g < 0``
   (the sleeping dogs). Unanswered, the missed call still nudges: +0.15. So
   ``p_called = a sigmoid(b + g) + (1 - a) sigmoid(b + 0.15)``, ``p_not_called = sigmoid(b)``
   and the true ``uplift`` is their difference, exactly.
7. **Outcomes** from common random numbers, so both potential outcomes exist for every episode:
   one uniform ``u`` decides repayment in either arm (``u < p``; for the called arm ``p`` given
   whether the call was answered), and ``called`` ~ Bernoulli(``treatment_ratio``) picks the one
   observed. Repaid means the outstanding balance is paid (``amount_repaid``); otherwise a part
   (10-80 %) is paid with probability ``q = 0.5 sigmoid(b + 1)``, the same in both arms, so
   ``amount_uplift = uplift * outstanding * (1 - 0.45 q)``; ``net_gain_of_call`` subtracts
   ``call_cost``. An answered collection call logs ``promise_to_pay`` when ``u < sigmoid(b + g +
   0.8)`` (promises are mostly, not always, kept) and ``refused`` otherwise.

Everything an episode's features may use is stamped before its start (reminders, sessions, the
book's payments, earlier episodes' calls); its own collection call comes 1-9 hours after it,
and feature code must filter every table by its timestamp. Sessions and the book's payments go
on after the start regardless of the call: a simplification, as is the episode outcome being
drawn here rather than read from the book's later payments (which stay the credit_risk world's
business-as-usual path). Like credit_risk, outcomes whose window ends after the book does are
returned anyway; with ``scoring_days`` >= ``outcome_days`` every experiment outcome is mature.

Measured at the defaults on ``generate_credit_data``'s defaults (seed 42 for both; seed 1 in
brackets): 9,985 experiment episodes (10,047) and 592 scoring episodes (638); repaid within 14
days 33 % when not called and 44 % when called; true uplift +10.8 pp on average (5th-95th
percentile -1.6 to +30 pp); a call is worth its cost (``net_gain_of_call > 0``) for 44 %.
LightGBM on point-in-time features (profile, credit_risk's 90-day history, sessions over 7/30
days, past calls, episode fields), trained on 70 % and scored on the other 30 %: the S-learner's
uplift has Spearman 0.65 (0.73) with the true uplift, and calling its top 30 % gains 82 % (82 %)
of what the best 30 % would, 53 % of what calling everybody gains; the T-learner 0.54 (0.63)
and 75 % (77 %). Generation takes ~0.3 s on one core. Measured with the helper in the generator
tests::

    .venv/bin/python -c "from tests.pipelines.repayment_uplift.test_generator import measure; \
print(measure())"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from modelworks.params import StrictModel

__all__ = ["GeneratorParams", "generate_collections_data", "reveal_outcomes"]


class GeneratorParams(StrictModel):
    """Randomisation, timing and size of the collections experiment."""

    seed: int = 42
    treatment_ratio: float = Field(default=0.5, gt=0.0, lt=1.0)  # share of episodes called
    episode_share: float = Field(default=1.0, gt=0.0, le=1.0)  # past-due loans that are queued
    min_days_past_due: int = Field(default=1, ge=1)
    max_days_past_due: int = Field(default=10, ge=1)
    outcome_days: int = Field(default=14, gt=0)
    reminder_share: float = Field(default=0.3, ge=0.0, le=1.0)
    scoring_days: int = Field(default=28, ge=0)  # the last days' episodes form the scoring batch
    call_cost: float = Field(default=100.0, ge=0.0)  # per collection call, same currency as loans

    @model_validator(mode="after")
    def _days_past_due_in_order(self) -> GeneratorParams:
        if self.min_days_past_due > self.max_days_past_due:
            raise ValueError(
                f"min_days_past_due ({self.min_days_past_due}) must not exceed "
                f"max_days_past_due ({self.max_days_past_due})"
            )
        return self


# ---------------------------------------------------------------------------------------------
# Effects on the baseline logit and on an answered call's logit (see the module docstring).
# ---------------------------------------------------------------------------------------------
_STEADY = ("teacher", "civil_servant", "salaried_private")
_PRECARIOUS = ("unemployed", "student", "casual_labourer")
_HIGH_END = ("android_high", "ios")
_ENTRY = "android_entry"

_BASE_INTERCEPT = -1.3  # calibrated: ~33 % of episodes repaid within 14 days when not called
_BOOK_CLEARS, _BOOK_DEFAULTS = 0.9, -0.6
_CALL_INTERCEPT = 1.7
_MISSED_CALL = 0.15
_PROMISE_MARGIN = 0.8
_QUEUE_HOUR = 8 / 24
_OPEN_AFTER_DUE_DAYS = 60.0  # unpaid loans stop being "open" for app usage after this
_SESSION_RATE = 0.22
_REPAYMENT_VIEW = (0.15, 0.45)  # share of sessions on the repayment page: usual, payer past due
_PARTIAL_FRACTION = (0.1, 0.8)
_UNPAID = 0.01  # balances below this count as cleared (amounts have cents)

REMINDER, COLLECTION = "reminder", "collection"
NO_ANSWER, ACKNOWLEDGED, PROMISE, REFUSED = "no_answer", "acknowledged", "promise_to_pay", "refused"
APP_OPEN, REPAYMENT_VIEW = "app_open", "repayment_page_view"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class _Book:
    """The loan book as arrays on one clock (days since ``origin``), borrowers by position."""

    origin: pd.Timestamp
    end: float  # the lender's data end: the last application in the book
    # per borrower (position in ``borrowers``)
    borrower_id: np.ndarray
    occupation: np.ndarray
    device: np.ndarray
    age: np.ndarray
    income: np.ndarray
    # per loan (position in ``loans``)
    loan_id: np.ndarray
    loan_borrower: np.ndarray
    applied: np.ndarray
    due: np.ndarray
    amount: np.ndarray
    defaulted: np.ndarray
    cleared_at: np.ndarray  # when payments reached the amount; inf if never
    # per payment, sorted by (borrower, time)
    pay_loan: np.ndarray
    pay_borrower: np.ndarray
    paid: np.ndarray
    pay_amount: np.ndarray


def _days(origin: pd.Timestamp, stamps: pd.Series) -> np.ndarray:
    return ((stamps - origin) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64)


def _to_timestamps(origin: pd.Timestamp, days: np.ndarray) -> pd.Series:
    seconds = np.rint(days * 86_400).astype(np.int64)
    return pd.Series(origin + pd.to_timedelta(seconds, unit="s"))


def _read_book(credit: Mapping[str, pd.DataFrame]) -> _Book:
    """Check the credit tables and put them on one clock."""
    needed = {
        "borrowers": [
            "borrower_id",
            "signup_at",
            "occupation",
            "device_os",
            "age",
            "monthly_income",
        ],
        "loans": ["loan_id", "borrower_id", "applied_at", "due_at", "amount"],
        "repayments": ["loan_id", "paid_at", "amount"],
    }
    for table, columns in needed.items():
        if table not in credit:
            raise ValueError(
                f"credit data lacks the {table!r} table; pass the dict that "
                "pipelines.credit_risk.generator.generate_credit_data returns"
            )
        missing = sorted(set(columns) - set(credit[table].columns))
        if missing:
            raise ValueError(f"credit table {table!r} lacks columns {missing}")
    borrowers, loans, repayments = credit["borrowers"], credit["loans"], credit["repayments"]
    if loans.empty:
        raise ValueError("credit table 'loans' is empty: there is nothing to fall past due")

    origin = min(borrowers["signup_at"].min(), loans["applied_at"].min()).floor("D")
    borrower_pos = pd.Index(borrowers["borrower_id"]).get_indexer(loans["borrower_id"])
    if (borrower_pos < 0).any():
        raise ValueError("credit table 'loans' has borrower_id values missing from 'borrowers'")
    loan_pos = pd.Index(loans["loan_id"]).get_indexer(repayments["loan_id"])
    if (loan_pos < 0).any():
        raise ValueError("credit table 'repayments' has loan_id values missing from 'loans'")

    amount = loans["amount"].to_numpy(dtype=np.float64)
    paid = _days(origin, repayments["paid_at"])
    pay_amount = repayments["amount"].to_numpy(dtype=np.float64)
    # The instant a loan's payments first cover its amount: cumulative sums in time order.
    order = np.lexsort((paid, loan_pos))
    cumulative = pd.Series(pay_amount[order]).groupby(loan_pos[order]).cumsum().to_numpy()
    covers = cumulative >= amount[loan_pos[order]] - _UNPAID
    cleared_at = np.full(len(loans), np.inf)
    np.minimum.at(cleared_at, loan_pos[order][covers], paid[order][covers])

    by_borrower = np.lexsort((paid, borrower_pos[loan_pos]))
    defaulted = (
        loans["defaulted"].to_numpy(dtype=bool)
        if "defaulted" in loans
        else ~np.isfinite(cleared_at)
    )
    return _Book(
        origin=origin,
        end=float(_days(origin, loans["applied_at"]).max()),
        borrower_id=borrowers["borrower_id"].to_numpy(dtype=np.int64),
        occupation=borrowers["occupation"].to_numpy(dtype=object),
        device=borrowers["device_os"].to_numpy(dtype=object),
        age=borrowers["age"].to_numpy(dtype=np.float64),
        income=borrowers["monthly_income"].to_numpy(dtype=np.float64),
        loan_id=loans["loan_id"].to_numpy(dtype=np.int64),
        loan_borrower=borrower_pos,
        applied=_days(origin, loans["applied_at"]),
        due=_days(origin, loans["due_at"]),
        amount=amount,
        defaulted=defaulted,
        cleared_at=cleared_at,
        pay_loan=loan_pos[by_borrower],
        pay_borrower=borrower_pos[loan_pos][by_borrower],
        paid=paid[by_borrower],
        pay_amount=pay_amount[by_borrower],
    )


class _Timeline:
    """Events per borrower sorted by time, answering "how many / how much in (lo, hi]".

    One sorted key per event, ``borrower * span + time``: with every time in ``[0, span - 2)``
    a borrower's keys never reach the next borrower's, so one ``searchsorted`` answers all.
    """

    def __init__(self, borrower: np.ndarray, time: np.ndarray, span: float) -> None:
        if len(time) and (time.min() < 0 or time.max() >= span - 2):
            raise ValueError("event times must lie in [0, span - 2) on the book's clock")
        self._span = span
        keys = borrower * span + time
        self.order = np.argsort(keys, kind="stable")
        self._keys = keys[self.order]

    def _bounds(
        self, borrower: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        base = borrower * self._span
        lo = np.maximum(lo, -1.0)  # before the clock's origin there are no events
        return (
            np.searchsorted(self._keys, base + lo, side="right"),
            np.searchsorted(self._keys, base + hi, side="right"),
        )

    def count(self, borrower: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Events of each ``borrower`` in ``(lo, hi]``."""
        start, stop = self._bounds(borrower, lo, hi)
        return stop - start

    def total(
        self, values: np.ndarray, borrower: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> np.ndarray:
        """Sum of ``values`` (given in event order) over each ``borrower``'s ``(lo, hi]``."""
        running = np.concatenate([[0.0], np.cumsum(values[self.order])])
        start, stop = self._bounds(borrower, lo, hi)
        return running[stop] - running[start]


def _app_sessions(
    rng: np.random.Generator, book: _Book, engagement: np.ndarray
) -> dict[str, np.ndarray]:
    """Sessions while each loan is open; past the due date, intent to pay moves the rate."""
    n = len(book.loan_id)
    settled = np.minimum(book.cleared_at, book.due + _OPEN_AFTER_DUE_DAYS)
    # Intent is what the book will do (clear the loan or default), seen through noise.
    intent = np.where(book.defaulted, -1.0, 1.0) + 0.7 * rng.standard_normal(n)
    rate = _SESSION_RATE * np.exp(engagement[book.loan_borrower])
    start = np.concatenate([book.applied, book.due])
    length = np.concatenate(
        [
            np.maximum(np.minimum(book.due, settled) - book.applied, 0.0),
            np.maximum(settled - book.due, 0.0),
        ]
    )
    rates = np.concatenate([rate, rate * np.exp(0.7 * intent - 0.2)])
    view_share = np.concatenate(
        [np.full(n, _REPAYMENT_VIEW[0]), np.where(intent > 0, *_REPAYMENT_VIEW[::-1])]
    )
    segment = np.repeat(np.arange(2 * n), rng.poisson(rates * length))
    return {
        "borrower": np.tile(book.loan_borrower, 2)[segment],
        "time": start[segment] + length[segment] * rng.random(len(segment)),
        "repayment_view": rng.random(len(segment)) < view_share[segment],
    }


def _reminder_calls(
    rng: np.random.Generator, book: _Book, answer_p: np.ndarray, share: float
) -> dict[str, np.ndarray]:
    """Courtesy calls the day before the due date to a random share of loans still open."""
    n = len(book.loan_id)
    at = np.floor(book.due) - 1.0 + (9 + 8 * rng.random(n)) / 24
    chosen = (book.applied < at) & (book.cleared_at > at) & (rng.random(n) < share)
    loan = np.flatnonzero(chosen)
    answered = rng.random(len(loan)) < answer_p[book.loan_borrower[loan]]
    return {
        "loan": loan,
        "time": at[loan],
        "kind": np.full(len(loan), REMINDER, dtype=object),
        "outcome": np.where(answered, ACKNOWLEDGED, NO_ANSWER).astype(object),
    }


def _queue(rng: np.random.Generator, book: _Book, params: GeneratorParams) -> dict[str, np.ndarray]:
    """Past-due loans the collections queue picks up: when, how late, and what is still owed."""
    n = len(book.loan_id)
    spread = params.max_days_past_due - params.min_days_past_due
    days_past_due = params.min_days_past_due + rng.binomial(spread, 0.25, size=n)
    start = np.floor(book.due) + days_past_due + _QUEUE_HOUR
    before = book.paid < start[book.pay_loan]
    paid = np.bincount(book.pay_loan[before], weights=book.pay_amount[before], minlength=n)
    outstanding = np.round(book.amount - paid, 2)
    queued = (outstanding > _UNPAID) & (start < book.end) & (rng.random(n) < params.episode_share)
    loan = np.flatnonzero(queued)
    loan = loan[np.argsort(start[loan], kind="stable")]  # episode ids follow time
    return {
        "loan": loan,
        "borrower": book.loan_borrower[loan],
        "start": start[loan],
        "days_past_due": days_past_due[loan],
        "outstanding": outstanding[loan],
    }


def _answer_probability(book: _Book, receptiveness: np.ndarray) -> np.ndarray:
    """Per borrower: the chance a call is answered (entry-level phones are often off)."""
    entry_phone = book.device == _ENTRY
    return _sigmoid(0.6 + 0.7 * receptiveness - 0.6 * entry_phone + 0.02 * (book.age - 35))


def _logits(
    book: _Book,
    episode: dict[str, np.ndarray],
    sessions_7d: np.ndarray,
    days_late_90d: np.ndarray,
    receptiveness: np.ndarray,
    outcome_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline repayment logit and the logit effect of an answered call, per episode."""
    loan, borrower = episode["loan"], episode["borrower"]
    occupation = book.occupation[borrower]
    steady = np.isin(occupation, _STEADY)
    precarious = np.isin(occupation, _PRECARIOUS)
    activity = np.log1p(sessions_7d)
    lateness = np.minimum(days_late_90d / 5.0, 2.0)
    burden = np.log(episode["outstanding"] / book.income[borrower] / 0.1)
    overdue = episode["days_past_due"] - 3.0
    clears = book.cleared_at[loan] < episode["start"] + outcome_days
    verdict = np.where(clears, _BOOK_CLEARS, np.where(book.defaulted[loan], _BOOK_DEFAULTS, 0.0))
    baseline = (
        _BASE_INTERCEPT
        + verdict
        + 0.45 * activity
        - 0.35 * lateness
        + 0.3 * steady
        - 0.4 * precarious
        - 0.35 * burden
        - 0.08 * overdue
        + 0.15 * np.isin(book.device[borrower], _HIGH_END)
    )
    call = (
        _CALL_INTERCEPT
        - 0.9 * activity
        - 0.5 * lateness
        + 0.6 * steady
        - 0.9 * precarious
        + 0.35 * receptiveness[borrower]
        - 0.1 * overdue
        - 0.35 * burden
    )
    return baseline, call


def _potential_outcomes(
    rng: np.random.Generator,
    episode: dict[str, np.ndarray],
    baseline: np.ndarray,
    call: np.ndarray,
    answer_p: np.ndarray,
) -> dict[str, np.ndarray]:
    """Both arms' repayment and amount from common random numbers, and their expectations."""
    n = len(baseline)
    owed = episode["outstanding"]
    p_not_called = _sigmoid(baseline)
    p_answered = _sigmoid(baseline + call)
    p_missed = _sigmoid(baseline + _MISSED_CALL)
    p_called = answer_p * p_answered + (1 - answer_p) * p_missed

    u = rng.random(n)
    answered = rng.random(n) < answer_p
    repaid_not_called = u < p_not_called
    repaid_called = u < np.where(answered, p_answered, p_missed)
    partial_p = 0.5 * _sigmoid(baseline + 1.0)
    partial = rng.random(n) < partial_p
    part = np.round(owed * rng.uniform(*_PARTIAL_FRACTION, size=n), 2)
    unpaid_amount = np.where(partial, part, 0.0)
    mean_part = np.mean(_PARTIAL_FRACTION)

    def expected_amount(p: np.ndarray) -> np.ndarray:
        return owed * (p + (1 - p) * partial_p * mean_part)

    return {
        "p_called": p_called,
        "p_not_called": p_not_called,
        "expected_called": expected_amount(p_called),
        "expected_not_called": expected_amount(p_not_called),
        "repaid_called": repaid_called,
        "repaid_not_called": repaid_not_called,
        "amount_called": np.where(repaid_called, owed, unpaid_amount),
        "amount_not_called": np.where(repaid_not_called, owed, unpaid_amount),
        "answered": answered,
        "promised": answered & (u < _sigmoid(baseline + call + _PROMISE_MARGIN)),
    }


def _collection_calls(
    rng: np.random.Generator,
    episode: dict[str, np.ndarray],
    outcomes: dict[str, np.ndarray],
    called: np.ndarray,
) -> dict[str, np.ndarray]:
    """One call per called episode, placed 1-9 hours after the queue picks the loan up."""
    index = np.flatnonzero(called)
    outcome = np.where(
        outcomes["answered"][index],
        np.where(outcomes["promised"][index], PROMISE, REFUSED),
        NO_ANSWER,
    )
    return {
        "loan": episode["loan"][index],
        "time": episode["start"][index] + (1 + 8 * rng.random(len(index))) / 24,
        "kind": np.full(len(index), COLLECTION, dtype=object),
        "outcome": outcome.astype(object),
    }


def _tables(
    book: _Book,
    params: GeneratorParams,
    episode: dict[str, np.ndarray],
    outcomes: dict[str, np.ndarray],
    called: np.ndarray,
    in_experiment: np.ndarray,
    sessions: dict[str, np.ndarray],
    reminders: dict[str, np.ndarray],
    calls: dict[str, np.ndarray],
) -> dict[str, pd.DataFrame]:
    """The returned tables; every id follows the time its row became known."""
    origin, loan = book.origin, episode["loan"]
    n = len(loan)
    started_at = _to_timestamps(origin, episode["start"])
    entity = pd.DataFrame(
        {
            "episode_id": np.arange(1, n + 1, dtype=np.int64),
            "borrower_id": book.borrower_id[episode["borrower"]],
            "loan_id": book.loan_id[loan],
            "due_at": _to_timestamps(origin, book.due[loan]),
            "started_at": started_at,
            "days_past_due": episode["days_past_due"].astype(np.int64),
            "loan_amount": book.amount[loan],
            "outstanding_amount": episode["outstanding"],
            "outcome_at": started_at + pd.Timedelta(days=params.outcome_days),
        }
    )
    episodes = entity[in_experiment].reset_index(drop=True)
    episodes["called"] = called[in_experiment].astype(np.int64)
    observed = {
        "repaid": np.where(called, outcomes["repaid_called"], outcomes["repaid_not_called"]),
        "amount_repaid": np.where(called, outcomes["amount_called"], outcomes["amount_not_called"]),
    }
    episodes["repaid"] = observed["repaid"][in_experiment].astype(np.int64)
    episodes["amount_repaid"] = observed["amount_repaid"][in_experiment]

    amount_uplift = outcomes["expected_called"] - outcomes["expected_not_called"]
    effects = pd.DataFrame(
        {
            "episode_id": entity["episode_id"],
            "p_repaid_if_called": outcomes["p_called"],
            "p_repaid_if_not_called": outcomes["p_not_called"],
            "uplift": outcomes["p_called"] - outcomes["p_not_called"],
            "expected_amount_if_called": outcomes["expected_called"],
            "expected_amount_if_not_called": outcomes["expected_not_called"],
            "amount_uplift": amount_uplift,
            "net_gain_of_call": amount_uplift - params.call_cost,
            "repaid_if_called": outcomes["repaid_called"].astype(np.int64),
            "repaid_if_not_called": outcomes["repaid_not_called"].astype(np.int64),
            "amount_if_called": outcomes["amount_called"],
            "amount_if_not_called": outcomes["amount_not_called"],
        }
    )

    call_rows = {k: np.concatenate([reminders[k], calls[k]]) for k in reminders}
    order = np.argsort(call_rows["time"], kind="stable")
    call_loan = call_rows["loan"][order]
    call_log = pd.DataFrame(
        {
            "call_id": np.arange(1, len(order) + 1, dtype=np.int64),
            "borrower_id": book.borrower_id[book.loan_borrower[call_loan]],
            "loan_id": book.loan_id[call_loan],
            "call_type": call_rows["kind"][order],
            "called_at": _to_timestamps(origin, call_rows["time"][order]),
            "outcome": call_rows["outcome"][order],
        }
    )

    order = np.argsort(sessions["time"], kind="stable")
    app_events = pd.DataFrame(
        {
            "event_id": np.arange(1, len(order) + 1, dtype=np.int64),
            "borrower_id": book.borrower_id[sessions["borrower"][order]],
            "occurred_at": _to_timestamps(origin, sessions["time"][order]),
            "event_type": np.where(
                sessions["repayment_view"][order], REPAYMENT_VIEW, APP_OPEN
            ).astype(object),
        }
    )
    return {
        "episodes": episodes,
        "scoring_episodes": entity[~in_experiment].reset_index(drop=True),
        "call_log": call_log,
        "app_events": app_events,
        "effects": effects,
    }


def generate_collections_data(
    credit: Mapping[str, pd.DataFrame], params: GeneratorParams
) -> dict[str, pd.DataFrame]:
    """Collections episodes of the credit book's past-due loans, with calls, app use and truth."""
    book = _read_book(credit)
    rng = np.random.default_rng(params.seed)
    n_borrowers = len(book.borrower_id)
    receptiveness = rng.standard_normal(n_borrowers)
    engagement = 0.6 * rng.standard_normal(n_borrowers)
    answer_p = _answer_probability(book, receptiveness)

    sessions = _app_sessions(rng, book, engagement)
    reminders = _reminder_calls(rng, book, answer_p, params.reminder_share)
    episode = _queue(rng, book, params)
    borrower, start = episode["borrower"], episode["start"]

    # Point-in-time drivers, exactly as a feature view stamped at each event would see them.
    latest = max(book.end, sessions["time"].max(initial=0.0), book.paid.max(initial=0.0))
    span = float(np.ceil(latest)) + 3.0
    app = _Timeline(sessions["borrower"], sessions["time"], span)
    sessions_7d = app.count(borrower, start - 7.0, start)
    payments = _Timeline(book.pay_borrower, book.paid, span)
    days_late = np.maximum(book.paid - book.due[book.pay_loan], 0.0)
    n_paid = payments.count(borrower, start - 90.0, start)
    late_total = payments.total(days_late, borrower, start - 90.0, start)
    days_late_90d = np.divide(late_total, n_paid, out=np.zeros(len(start)), where=n_paid > 0)

    baseline, call = _logits(
        book, episode, sessions_7d, days_late_90d, receptiveness, params.outcome_days
    )
    outcomes = _potential_outcomes(rng, episode, baseline, call, answer_p[borrower])

    n = len(start)
    in_experiment = start < book.end - params.scoring_days
    called = in_experiment & (rng.random(n) < params.treatment_ratio)
    calls = _collection_calls(rng, episode, outcomes, called)
    return _tables(
        book, params, episode, outcomes, called, in_experiment, sessions, reminders, calls
    )


def reveal_outcomes(
    decisions: pd.DataFrame, effects: pd.DataFrame, *, treated: str = "called"
) -> pd.DataFrame:
    """What the world answers to a set of call decisions: ``episode_id``, ``repaid``, amount.

    ``decisions`` holds ``episode_id`` and a 0/1 column ``treated``; this is how outcomes
    "arrive" for a scoring batch that a targeting policy decided on.
    """
    missing = sorted({"episode_id", treated} - set(decisions.columns))
    if missing:
        raise ValueError(f"decisions lack columns {missing}")
    truth = effects.set_index("episode_id")
    unknown = ~decisions["episode_id"].isin(truth.index)
    if unknown.any():
        sample = decisions.loc[unknown, "episode_id"].head(5).tolist()
        raise ValueError(
            f"{int(unknown.sum())} episode_id values have no effects row, e.g. {sample}"
        )
    rows = truth.loc[decisions["episode_id"]]
    call = decisions[treated].to_numpy().astype(bool)
    return pd.DataFrame(
        {
            "episode_id": decisions["episode_id"].to_numpy(),
            "repaid": np.where(call, rows["repaid_if_called"], rows["repaid_if_not_called"]),
            "amount_repaid": np.where(call, rows["amount_if_called"], rows["amount_if_not_called"]),
        }
    )
