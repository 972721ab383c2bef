"""Replay weeks of a use case's history through the closed loop, under several policies side by
side: monitor, decide, retrain, gate, shadow, judge on live labels, promote.

The rows are every labelled event of a simulated world, with point-in-time features already
retrieved from Feast (a feature value is as of the row's own time, so one retrieval serves
every week) and the time each label becomes known. Week by week, from ``warmup_days`` after
the first event, each policy: judges its shadow challengers on the labels that have arrived
(``registry.live``); monitors its champion on the week's batch and runs the retrain decision on
the data's clock; retrains on the labelled rows known by then (a retrain asked for by two
policies with the same setup is trained once) and registers the winner under the policy's own
model (``<model>_simulation_<policy>``), where its gate decides; then scores the batch with its
champion and challengers. The project's real registry is untouched, and every policy-week is
a run of the use case's experiment (role ``replay``) to browse in the MLflow UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from modelworks.monitoring import DriftParams, monitor_batch
from modelworks.pipelines.training import RegistryParams, TrainingParams
from modelworks.registry import challengers, tracking
from modelworks.registry.challengers import ShadowPolicy
from modelworks.registry.gate import GatePolicy
from modelworks.registry.live import LiveEvidence, judge_live, live_order
from modelworks.registry.promotion import CHAMPION, PREVIOUS_CHAMPION, trained_as_of
from modelworks.scheduling.decision import RetrainPolicy
from modelworks.serving.datasets import RegisteredModelDataset, ServedModel
from modelworks.simulation.params import ReplayPolicy, SimulationParams
from modelworks.simulation.retrainer import Retrainer
from modelworks.tasks import Task, get_task

SUFFIX = "_simulation"


@dataclass(frozen=True)
class World:
    """The replayed rows on the data's clock: when each happened and when its label arrived."""

    rows: pd.DataFrame
    times: pd.Series
    known: pd.Series
    start: pd.Timestamp

    @classmethod
    def of(cls, rows: pd.DataFrame, training: TrainingParams, sim: SimulationParams) -> World:
        rows = rows.sort_values(training.time_column, kind="stable").reset_index(drop=True)
        times = pd.to_datetime(rows[training.time_column], utc=True)
        known = pd.to_datetime(rows[sim.label_available_column], utc=True)
        start = (times.min() + pd.Timedelta(days=sim.warmup_days)).normalize()
        return cls(rows, times, known, start)

    def week(self, week: int) -> tuple[pd.Timestamp, pd.DataFrame]:
        as_of = self.start + pd.Timedelta(weeks=week)
        batch = self.rows[(self.times >= as_of) & (self.times < as_of + pd.Timedelta(weeks=1))]
        return as_of, batch

    def labelled(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """The rows before ``as_of`` whose labels are known by then."""
        return self.rows[(self.times < as_of) & (self.known <= as_of)]


class Losses:
    """Each model's loss on every replayed row (the world's labels are all known; the replay
    only reads those that have arrived), computed once per logged model."""

    def __init__(self, world: World, task: Task, training: TrainingParams) -> None:
        self._world, self._task, self._training = world, task, training
        self._by_run: dict[str, np.ndarray] = {}
        self._scores: dict[str, np.ndarray] = {}

    def of(self, model: ServedModel) -> np.ndarray:
        if model.run_id not in self._by_run:
            rows = self._world.rows
            predictions = model.predict(rows)
            losses = self._task.live_losses(rows, predictions, self._training)
            if losses is None:
                raise ValueError(f"task {self._task.name!r} has no per-row loss to replay with")
            self._by_run[model.run_id] = np.asarray(losses, dtype=float)
            self._scores[model.run_id] = self._task.monitored_scores(predictions)
        return self._by_run[model.run_id]

    def of_run(self, run_id: str) -> np.ndarray:
        """The losses of a logged model already seen (by its run)."""
        return self._by_run[run_id]

    def scores(self, model: ServedModel) -> np.ndarray:
        self.of(model)
        return self._scores[model.run_id]


@dataclass
class PolicyReplay:
    """One policy's state through the weeks: its registered model, champion and challengers."""

    name: str
    policy: ReplayPolicy
    training: TrainingParams
    registry: RegistryParams
    retrain: RetrainPolicy
    monitoring: DriftParams
    task: Task
    champion: ServedModel | None = None
    last_retrain: pd.Timestamp | None = None
    _models: dict[str, ServedModel] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        name: str,
        policy: ReplayPolicy,
        training: TrainingParams,
        registry: RegistryParams,
        retrain: RetrainPolicy,
        monitoring: DriftParams,
    ) -> PolicyReplay:
        model_name = f"{registry.model_name}{SUFFIX}_{name}"
        shadow = registry.shadow if policy.shadow else ShadowPolicy()
        if policy.shadow and shadow.max_challengers == 0:
            raise ValueError(
                f"simulation policy {name!r} shadows challengers, but registry.shadow."
                "max_challengers is 0: give the use case challenger slots"
            )
        gate = GatePolicy(max_drift="critical") if policy.promote == "always" else registry.gate
        if policy.live_only:
            gate = gate.model_copy(update={"require_live_evidence": True})
        registry = registry.model_copy(
            update={"model_name": model_name, "shadow": shadow, "gate": gate}
        )
        if policy.on_drift is not None:
            training = training.model_copy(update={"on_drift": policy.on_drift})
        _clear_aliases(model_name)
        return cls(name, policy, training, registry, retrain, monitoring, get_task(training.task))

    def week(
        self,
        week: int,
        world: World,
        losses: Losses,
        retrainer: Retrainer,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One replayed week: the timeline record and the rows scored."""
        as_of, batch = world.week(week)
        record: dict[str, Any] = {"policy": self.name, "week": week, "as_of": as_of}
        record["rows"] = len(batch)
        tags = {"modelworks.role": "replay", "modelworks.policy": self.name}
        with tracking.candidate_run(f"{self.name}/week-{week:02d}", tags=tags):
            if self.policy.shadow and self.champion is not None:
                record |= self._judge(world, losses, as_of)
            decision = self._decide(as_of, batch, record)
            record |= {"retrain": decision["retrain"], "reasons": "; ".join(decision["reasons"])}
            tracking.log_dict(decision, "retrain_decision.json")
            if decision["retrain"]:
                self.last_retrain = as_of
                trained = retrainer.train(world.labelled(as_of), batch, self.training, decision)
                outcome = retrainer.register(trained, self.registry)
                record |= {
                    "trained_version": (outcome.get("refit") or {}).get("version")
                    or outcome.get("version"),
                    "action": "shadowed" if outcome.get("shadow") else outcome["action"],
                }
                self._reload_champion()
            if self.champion is None:
                raise RuntimeError(f"week {week}: no champion: {record.get('action')}")
            scored = self._scored(week, batch.index, losses)
        record["champion_version"] = self.champion.version
        record["challengers"] = ",".join(self._challenger_versions())
        return record, scored

    # --- steps ------------------------------------------------------------------------------

    def _decide(
        self, as_of: pd.Timestamp, batch: pd.DataFrame, record: dict[str, Any]
    ) -> dict[str, Any]:
        if self.champion is None:
            return {"retrain": True, "reasons": ["no champion yet"], "triggers": [],
                    "as_of": as_of.isoformat()}  # fmt: skip
        if self.policy.promote == "never":
            return {"retrain": False, "reasons": ["never retrains (baseline)"], "triggers": []}
        assert self.champion.reference_profile is not None
        summary = monitor_batch(
            self.champion.reference_profile,
            batch,
            self.monitoring,
            scores=self.champion.predict(batch),
        )
        record |= _monitoring_fields(summary)
        tracking.log_dict(summary, "monitoring_summary.json")
        return self.task.decide_retrain(
            summary,
            self.champion,
            as_of=as_of.to_pydatetime(),
            policy=self.retrain,
            last_retrain_at=None
            if self.last_retrain is None
            else self.last_retrain.to_pydatetime(),
        )

    def _judge(self, world: World, losses: Losses, as_of: pd.Timestamp) -> dict[str, Any]:
        """The live test of every challenger against the champion on the labels arrived by
        ``as_of``; the strongest passing one is promoted."""
        assert self.champion is not None
        shadow = self.registry.shadow
        results: list[LiveEvidence] = []
        for version in self._challenger_versions():
            challenger = self._model(version)
            rows = _shared_rows(
                world, as_of, self._trained_as_of(self.champion), self._trained_as_of(challenger)
            )
            results.append(
                judge_live(
                    losses.of(self.champion)[rows],
                    losses.of(challenger)[rows],
                    shadow.live_test,
                    champion_version=self.champion.version,
                    challenger_version=version,
                    n_challengers=shadow.max_challengers,
                )
            )
        tracking.log_dict({"live_evidence": [r.to_dict() for r in results]}, "live_evidence.json")
        text = "; ".join(
            f"v{r.challenger_version}: {r.n_rows} rows, e={r.e_value:.3g}" for r in results
        )
        passed = [r for r in results if r.passed]
        if not passed:
            return {"live_evidence": text}
        best = max(passed, key=lambda r: r.mean_advantage or 0.0)
        challengers.promote_live(
            self.registry.model_name, best, shadow, triggered_by=tracking.active_run_id()
        )
        self._reload_champion()
        return {"live_evidence": text, "live_promoted": best.challenger_version}

    def _scored(self, week: int, index: pd.Index, losses: Losses) -> list[dict[str, Any]]:
        """The batch's scores by the champion and each challenger, for the scores table."""
        assert self.champion is not None
        versions = self._challenger_versions()
        models = [("champion", self.champion)] + [
            (alias, self._model(v))
            for alias, v in zip(_aliases(len(versions)), versions, strict=True)
        ]
        out = []
        for role, model in models:
            scores = losses.scores(model)[index]
            out.append(
                {
                    "policy": self.name,
                    "week": week,
                    "role": role,
                    "version": model.version,
                    "run_id": model.run_id,
                    "row": index.to_numpy(),
                    "score": scores,
                    "loss": losses.of(model)[index],
                }
            )
        return out

    # --- registry ---------------------------------------------------------------------------

    def _reload_champion(self) -> None:
        self.champion = RegisteredModelDataset(self.registry.model_name).load()
        self._models[self.champion.version] = self.champion

    def _challenger_versions(self) -> list[str]:
        if not self.policy.shadow:
            return []
        return challengers.challengers(self.registry.model_name)

    def _model(self, version: str) -> ServedModel:
        if version not in self._models:
            alias = _aliases(9)[self._challenger_versions().index(version)]
            self._models[version] = RegisteredModelDataset(self.registry.model_name, alias).load()
        return self._models[version]

    def _trained_as_of(self, model: ServedModel) -> pd.Timestamp:
        stamp = trained_as_of(self.registry.model_name, model.version)
        if stamp is None:
            raise RuntimeError(f"{self.registry.model_name} v{model.version} has no training time")
        return stamp


def _aliases(n: int) -> list[str]:
    return [challengers.challenger_alias(slot) for slot in range(n)]


def _shared_rows(world: World, as_of: pd.Timestamp, *trained_as_of: pd.Timestamp) -> np.ndarray:
    """The replayed rows whose labels arrived by ``as_of`` but after both models were trained,
    in label-arrival order (``registry.live.live_order``): rows both scored, or would have
    scored had the batches still waiting for labels been rescored when the challenger came."""
    arrived = world.known.where((world.known <= as_of) & (world.times >= world.start))
    return live_order(world.times, arrived, after=max(trained_as_of))


def _clear_aliases(model_name: str) -> None:
    """A replay starts with no champion or challengers; earlier replays' versions and trail
    stay."""
    client = MlflowClient()
    try:
        aliases = list(client.get_registered_model(model_name).aliases)
    except MlflowException:
        return
    for alias in aliases:
        if alias in (CHAMPION, PREVIOUS_CHAMPION) or alias.startswith(challengers.CHALLENGER):
            client.delete_registered_model_alias(model_name, alias)


def _monitoring_fields(summary: dict[str, Any]) -> dict[str, Any]:
    features = summary.get("features", [])
    critical = [f["feature"] for f in features if f["verdict"] == "critical"]
    if (summary.get("prediction_drift") or {}).get("verdict") == "critical":
        critical.append("(model score)")
    return {
        "drift_verdict": summary["verdict"],
        "n_critical": summary["n_critical"],
        "critical": ", ".join(critical),
        "max_psi": max((f["psi"] for f in features if f["psi"] is not None), default=None),
    }
