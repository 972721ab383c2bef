"""The hybrid recommender network: a user tower and an item tower meeting in a dot product.

Each tower reads an id embedding next to content features, through an MLP with GELU
activations::

    user:  [user id embedding | user features] -> MLP -> u
    item:  [item id embedding | item features] -> MLP -> v        score = u . v + item bias

Row 0 of each embedding table (and of the item bias) is the *unknown* id. Training replaces
a share of ids with it (id dropout), so that row learns what an average newcomer looks like
and the towers learn to rank from content; a cold-start user or item is then scored through
exactly that path. Two towers rather than one joint MLP: a catalogue's item vectors are
computed once, and ranking it for a user is one matrix-vector product.
"""

from __future__ import annotations

import torch
from torch import nn


def tower(in_dim: int, hidden_dims: tuple[int, ...], out_dim: int, dropout: float) -> nn.Module:
    """An MLP: Linear + GELU (+ Dropout) per hidden layer, then a linear output layer."""
    layers: list[nn.Module] = []
    for width in hidden_dims:
        layers += [nn.Linear(in_dim, width), nn.GELU()]
        # Left out at 0 rather than kept as a no-op: drawing its mask is a quarter of a CPU step.
        layers += [nn.Dropout(dropout)] if dropout > 0 else []
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class HybridNet(nn.Module):
    """Scores (user, item) pairs from ids and content features; see the module docstring."""

    def __init__(
        self,
        *,
        n_users: int,
        n_items: int,
        user_features: int,
        item_features: int,
        embedding_dim: int,
        hidden_dims: tuple[int, ...],
        output_dim: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(n_users + 1, embedding_dim)
        self.item_embedding = nn.Embedding(n_items + 1, embedding_dim)
        self.item_bias = nn.Embedding(n_items + 1, 1)
        self.user_tower = tower(embedding_dim + user_features, hidden_dims, output_dim, dropout)
        self.item_tower = tower(embedding_dim + item_features, hidden_dims, output_dim, dropout)
        # Small embeddings at the start: content features, standardised to unit scale,
        # dominate the first epochs and ids add what content cannot explain.
        nn.init.normal_(self.user_embedding.weight, std=0.05)
        nn.init.normal_(self.item_embedding.weight, std=0.05)
        nn.init.zeros_(self.item_bias.weight)

    def user_vectors(self, ids: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """(batch, output_dim) user representations; id UNKNOWN means content only."""
        return self.user_tower(torch.cat([self.user_embedding(ids), features], dim=-1))

    def item_vectors(
        self, ids: torch.Tensor, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, output_dim) item representations and (batch,) item biases."""
        vectors = self.item_tower(torch.cat([self.item_embedding(ids), features], dim=-1))
        return vectors, self.item_bias(ids).squeeze(-1)

    def forward(
        self,
        user_ids: torch.Tensor,
        user_features: torch.Tensor,
        item_ids: torch.Tensor,
        item_features: torch.Tensor,
    ) -> torch.Tensor:
        """Scores of shape ``item_ids.shape``: items (batch, n) for users (batch,), or (batch,).

        Item ids and features may carry an extra dimension of n candidates per user (a
        positive and its sampled negatives); each user's vector is computed once for all.
        """
        users = self.user_vectors(user_ids, user_features)
        items, bias = self.item_vectors(item_ids.reshape(-1), item_features.flatten(0, -2))
        items = items.reshape(*item_ids.shape, -1)
        if item_ids.dim() == 2:
            users = users.unsqueeze(1)
        return (users * items).sum(dim=-1) + bias.reshape(item_ids.shape)
