"""The hybrid recommender: determinism, exclusions, cold start, save and load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from modelworks.recommenders import HybridRecommender, RecommenderParams, fit_recommender
from modelworks.recommenders.data import preference_profiles
from modelworks.recommenders.trainer import Validation

FAST = RecommenderParams(max_epochs=3, validation_days=5, batch_size=256, seed=7)
NEW_USER = 10_000


def toy_data(seed: int = 0) -> dict[str, pd.DataFrame]:
    """Users of segment a or b prefer items of their own kind, more popular ones first."""
    rng = np.random.default_rng(seed)
    n_users, n_items, per_user = 300, 40, 8
    segment = rng.choice(["a", "b"], size=n_users)
    kind = np.where(np.arange(n_items) % 2 == 0, "a", "b")
    popularity = rng.lognormal(0.0, 0.7, size=n_items)
    weights = popularity * np.where(segment[:, None] == kind[None, :], 6.0, 1.0)
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((n_users, per_user))
    items = (draws[:, :, None] > cum[:, None, :]).sum(axis=2).ravel()
    start = pd.Timestamp("2024-01-01", tz="UTC")
    return {
        "interactions": pd.DataFrame(
            {
                "user_id": np.repeat(np.arange(n_users), per_user),
                "item_id": items,
                "timestamp": start + pd.to_timedelta(rng.uniform(0, 20, items.size), unit="D"),
            }
        ),
        "users": pd.DataFrame({"user_id": np.arange(n_users), "segment": segment}),
        "items": pd.DataFrame(
            {"item_id": np.arange(n_items), "kind": kind, "price": rng.uniform(50, 200, n_items)}
        ),
    }


def fit(data: dict[str, pd.DataFrame], params: RecommenderParams = FAST) -> HybridRecommender:
    return fit_recommender(
        data["interactions"], users=data["users"], items=data["items"], params=params, device="cpu"
    )


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return toy_data()


@pytest.fixture(scope="module")
def model(data: dict[str, pd.DataFrame]) -> HybridRecommender:
    return fit(data)


def test_training_is_deterministic_for_a_seed(data, model):
    again = fit(data)
    for name, weights in model.net.state_dict().items():
        assert torch.equal(weights, again.net.state_dict()[name]), name

    def outcome(m: HybridRecommender) -> list[tuple[object, ...]]:
        return [(r.phase, r.epoch, r.loss, r.valid_ndcg_at_10) for r in m.history.epochs]

    assert outcome(model) == outcome(again)
    other = fit(data, FAST.model_copy(update={"seed": 8}))
    assert not torch.equal(model.net.user_embedding.weight, other.net.user_embedding.weight)


def test_history_records_each_phase_and_the_throughput(model):
    history = model.history
    assert history is not None
    phases = [record.phase for record in history.epochs]
    assert phases[0] == "validate"
    assert phases.count("refit") == history.best_epoch
    validated = [r for r in history.epochs if r.phase == "validate"]
    assert all(0 <= r.valid_ndcg_at_10 <= 1 for r in validated)
    assert history.best_valid_ndcg_at_10 == max(r.valid_ndcg_at_10 for r in validated)
    assert validated[-1].loss < validated[0].loss
    assert history.samples_per_second > 0


def test_top_k_never_returns_excluded_items(model):
    best = model.top_k(0, k=5)
    assert len(best) == 5
    again = model.top_k(0, k=5, exclude=best[:3])
    assert not set(again) & set(best[:3])
    assert list(again[:2]) == list(best[3:])  # the order of the rest is kept
    keep = model.item_ids[:2]
    assert set(model.top_k(0, k=10, exclude=model.item_ids[2:])) == set(keep)
    frame = model.recommend([0, 1], k=3, exclude={0: best[:3]})
    assert frame.columns.tolist() == ["user_id", "rank", "item_id", "score"]
    assert not set(frame.loc[frame["user_id"] == 0, "item_id"]) & set(best[:3])
    assert frame.groupby("user_id")["rank"].apply(list).tolist() == [[1, 2, 3]] * 2


def test_an_unseen_user_is_ranked_from_content_alone(model, data):
    kinds = data["items"].set_index("item_id")["kind"]
    for segment in ("a", "b"):
        features = pd.DataFrame({"segment": [segment]}, index=[NEW_USER])
        top = model.top_k(NEW_USER, k=10, user_features=features)
        assert (kinds[top] == segment).mean() >= 0.8, segment
    # Without any features the user still gets a ranking (the average newcomer's).
    assert np.isfinite(model.score_matrix([NEW_USER])).all()


def test_pairwise_scores_match_the_score_matrix(model):
    matrix = model.score_matrix([3, 5])
    items = model.item_ids.to_numpy()[[0, 7]]
    np.testing.assert_allclose(model.score([3, 5], items), [matrix[0, 0], matrix[1, 7]])
    with pytest.raises(ValueError, match="not in the catalogue"):
        model.score([3], [999])


def test_a_new_item_in_the_catalogue_is_ranked_from_its_features(model, data):
    items = pd.concat(
        [data["items"], pd.DataFrame({"item_id": [100], "kind": ["a"], "price": [100.0]})]
    )
    extended = model.with_catalogue(items)
    scores = extended.score_matrix([0])[0]
    assert len(scores) == len(items) and np.isfinite(scores).all()
    np.testing.assert_allclose(scores[:-1], model.score_matrix([0])[0], rtol=1e-5)


def test_save_and_load_give_the_same_rankings_without_pickles(model, tmp_path: Path):
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "items.parquet",
        "model.pt",
        "recommender.json",
        "users.parquet",
    ]
    metadata = json.loads((tmp_path / "recommender.json").read_text())
    assert metadata["item_ids"] == model.items.ids.tolist()
    assert metadata["user_features"] == ["segment=a", "segment=b"]
    assert metadata["params"]["seed"] == FAST.seed
    loaded = HybridRecommender.load(tmp_path, device="cpu")
    features = pd.DataFrame({"segment": ["b"]}, index=[NEW_USER])
    users = [0, 1, NEW_USER]
    np.testing.assert_allclose(
        loaded.score_matrix(users, features), model.score_matrix(users, features), rtol=1e-6
    )
    assert loaded.history == model.history
    with pytest.raises(FileNotFoundError, match=r"recommender\.json"):
        HybridRecommender.load(tmp_path / "missing")


def test_history_features_are_checked_and_train(data):
    with pytest.raises(ValueError, match=r"\['typo'\] are not columns"):
        fit_recommender(
            data["interactions"],
            users=data["users"],
            items=data["items"],
            history_features=["typo"],
        )
    profiles = preference_profiles(data["interactions"], data["items"])
    users = data["users"].merge(profiles, on="user_id", how="left")
    model = fit_recommender(
        data["interactions"],
        users=users,
        items=data["items"],
        params=FAST.model_copy(update={"validation_days": 0, "max_epochs": 2}),
        history_features=[c for c in profiles.columns if c != "user_id"],
        device="cpu",
    )
    assert [r.phase for r in model.history.epochs] == ["train", "train"]


def test_request_features_and_validation_tables_are_what_training_reads(data, model):
    interactions = data["interactions"]
    request_users = (
        data["users"]
        .set_index("user_id")
        .loc[interactions["user_id"]]
        .set_index(interactions.index)
    )
    start = interactions["timestamp"].max() - pd.Timedelta(days=FAST.validation_days)
    same = Validation(start=start, users=data["users"], items=data["items"])
    explicit = fit_recommender(
        interactions,
        users=data["users"],
        items=data["items"],
        params=FAST,
        device="cpu",
        request_users=request_users,
        validation=same,
    )
    # The same values through the per-request path and the explicit period: the same model.
    for name, weights in model.net.state_dict().items():
        assert torch.equal(weights, explicit.net.state_dict()[name]), name

    # Trained on the true segments, validated with the other one: the ranking gets worse.
    flipped = data["users"].assign(segment=data["users"]["segment"].map({"a": "b", "b": "a"}))
    misled = fit_recommender(
        interactions,
        users=data["users"],
        items=data["items"],
        params=FAST,
        device="cpu",
        request_users=request_users,
        validation=Validation(start=start, users=flipped, items=data["items"]),
    )
    assert misled.history.best_valid_ndcg_at_10 < model.history.best_valid_ndcg_at_10
    with pytest.raises(ValueError, match="and 0 to validate with"):
        fit_recommender(
            interactions,
            users=data["users"],
            items=data["items"],
            params=FAST,
            validation=Validation(
                start=interactions["timestamp"].max(), users=data["users"], items=data["items"]
            ),
        )


def test_every_interacted_item_must_be_in_the_catalogue(data):
    with pytest.raises(ValueError, match="missing from the item table"):
        fit_recommender(data["interactions"], users=data["users"], items=data["items"].iloc[:5])


def test_params_reject_unknown_keys():
    with pytest.raises(ValueError, match="embeding_dim"):
        RecommenderParams.model_validate({"embeding_dim": 8})


def test_importing_the_package_leaves_torch_unimported():
    code = (
        "import sys, modelworks, modelworks.recommenders; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
