"""Hyperparameters of the hybrid recommender, typed so that a misspelt YAML key fails at start-up.

Kept apart from the model and trainer modules so that validating parameters never imports torch.
"""

from __future__ import annotations

from pydantic import Field

from modelworks.params import StrictModel


class RecommenderParams(StrictModel):
    """Architecture, negative sampling, optimiser and early stopping of the hybrid recommender."""

    embedding_dim: int = Field(default=32, gt=0)  # id embeddings of users and items
    hidden_dims: tuple[int, ...] = (128,)  # hidden layers of each tower
    output_dim: int = Field(default=32, gt=0)  # the space where users meet items
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)  # id dropout below regularises enough
    # Share of training rows scored as an unknown user / item: trains the unknown embedding
    # row and makes the content path carry signal, which is all a cold-start row has.
    user_id_dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    item_id_dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    negatives: int = Field(default=4, gt=0)  # sampled per positive, uniformly from the items
    batch_size: int = Field(default=1024, gt=0)
    learning_rate: float = Field(default=3e-3, gt=0.0)
    weight_decay: float = Field(default=1e-5, ge=0.0)
    max_epochs: int = Field(default=30, gt=0)
    patience: int = Field(default=3, gt=0)  # epochs without a better validation NDCG@10
    # The latest days of the training interactions are held out for early stopping (0: train
    # max_epochs without validation); refit then retrains on everything for the best epochs.
    validation_days: int = Field(default=7, ge=0)
    refit: bool = True
    mixed_precision: bool = True  # autocast on CUDA; the CPU always trains in float32
    seed: int = 42
