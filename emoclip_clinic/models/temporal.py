"""The temporal transformer of EmoCLIP's video encoder (paper, Sec. III-B).

Per-frame CLIP image embeddings ``(B, T, D)`` are prefixed with a learnable CLS token, given
learned positional embeddings, and passed through ``depth`` pre-norm transformer blocks. The
output state of the CLS token is the video embedding; no projection or normalisation follows,
as in the authors' code. The computation matches the authors' module exactly (checked against
their golden tensors in ``tests/test_models.py``); parameter names are our own and
:mod:`emoclip_clinic.models.checkpoints` maps the authors' names onto them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from emoclip_clinic.models.config import TemporalConfig


class FrameAttention(nn.Module):
    """Multi-head self-attention over [CLS; frames] with a bias-free fused QKV projection."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        inner = heads * dim_head
        self.qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.proj = nn.Linear(inner, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attend over the sequence ``x`` (B, N, D); ``key_padding_mask`` is True at padding."""
        batch, length, _ = x.shape
        q, k, v = (
            t.view(batch, length, self.heads, self.dim_head).transpose(1, 2)
            for t in self.qkv(x).chunk(3, dim=-1)
        )
        mask = None
        if key_padding_mask is not None:
            mask = ~key_padding_mask[:, None, None, :]  # True where attention is allowed
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # scale = dim_head**-0.5
        out = out.transpose(1, 2).reshape(batch, length, self.heads * self.dim_head)
        return self.dropout(self.proj(out))


class FeedForward(nn.Module):
    """Two linear layers with a GELU between them."""

    def __init__(self, dim: int, hidden: int, dropout: float, gelu_approximate: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate=gelu_approximate)
        self.fc2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the feed-forward layer position-wise."""
        return self.dropout(self.fc2(self.dropout(self.act(self.fc1(x)))))


class TemporalBlock(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, cfg: TemporalConfig) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = FrameAttention(dim, cfg.heads, cfg.dim_head, cfg.dropout)
        self.mlp_norm = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, cfg.mlp_dim, cfg.dropout, cfg.gelu_approximate)

    def forward(
        self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Run the block on ``x`` (B, N, D)."""
        x = x + self.attn(self.attn_norm(x), key_padding_mask)
        return x + self.mlp(self.mlp_norm(x))


class TemporalTransformer(nn.Module):
    """CLS token + learned positions + pre-norm transformer blocks over frame embeddings."""

    def __init__(self, dim: int, cfg: TemporalConfig) -> None:
        super().__init__()
        self.dim = dim
        self.max_frames = cfg.max_frames
        # Normal initialisation; the authors use std 1 (randn), which suits pretrained CLIP's
        # large frame embeddings but drowns the small ones of a random tiny backbone, whose
        # configs therefore use a small std (``TemporalConfig.init_std``).
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * cfg.init_std)
        self.pos_embedding = nn.Parameter(torch.randn(1, cfg.max_frames, dim) * cfg.init_std)
        self.blocks = nn.ModuleList(TemporalBlock(dim, cfg) for _ in range(cfg.depth))

    def forward(
        self, frame_embeddings: torch.Tensor, frame_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the output states of all tokens, CLS first.

        Args:
            frame_embeddings: (B, T, D) per-frame image embeddings.
            frame_mask: optional (B, T) boolean, True for real frames, False for padding.

        Returns:
            (B, T + 1, D) output states; index 0 is the video embedding.
        """
        batch, length, dim = frame_embeddings.shape
        if dim != self.dim:
            raise ValueError(f"frame embeddings have width {dim}, the module expects {self.dim}")
        if length + 1 > self.max_frames:
            raise ValueError(
                f"{length} frames exceed the positional table (at most {self.max_frames - 1})"
            )
        cls = self.cls_token.expand(batch, -1, -1).to(frame_embeddings.dtype)
        x = torch.cat([cls, frame_embeddings], dim=1) + self.pos_embedding[:, : length + 1]
        padding = None
        if frame_mask is not None:
            keep_cls = torch.ones(batch, 1, dtype=torch.bool, device=frame_mask.device)
            padding = ~torch.cat([keep_cls, frame_mask.bool()], dim=1)
        for block in self.blocks:
            x = block(x, padding)
        return x

    def video_embedding(
        self, frame_embeddings: torch.Tensor, frame_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the CLS output state (B, D): the video embedding."""
        return self.forward(frame_embeddings, frame_mask)[:, 0]
