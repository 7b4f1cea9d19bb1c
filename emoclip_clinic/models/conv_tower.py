"""A compact convolutional image tower for small models trained from scratch.

EmoCLIP's real backbones are pretrained CLIP vision transformers. The tiny models that the tests
and the synthetic world train from random initialisation on a two-core CPU cannot use one: a
vision transformer from scratch needs far more images than a CPU run sees. Measured on 960
synthetic MAFW clips (64x64, held-out identities, supervised 11-way emotion classification, 8
epochs): the tiny ViT stayed near chance (training loss at ln 11), while this four-layer
convolutional tower reached 0.41 UAR in five epochs (docs/benchmarks.md). Its convolutions keep
the fine detail that expressions live in (a brow or a lip corner is two or three pixels at 64
pixels).

It uses BatchNorm, deliberately: contrastive training from random initialisation collapses
when every clip starts with nearly the same embedding (the loss then sits at ln(batch size));
the same tower with GroupNorm (per-image statistics) stayed collapsed in the same test. The
pooled features, being averages of ReLU outputs, share a large positive common component; a
LayerNorm before the projection removes it, so that the frame embeddings of different images
start nearly orthogonal (mean pairwise cosine 0.05 instead of 0.84; bench/bench_towers.py). In
evaluation (and with a frozen backbone) the running statistics are used, so an embedding
does not depend on the other clips of a batch. Under DDP on GPUs the trainer converts the
layers to SyncBatchNorm so that statistics span the global batch; on CPU (gloo), where
SyncBatchNorm is unavailable, each process normalises over its own part of the batch.

The tower replaces open_clip's vision tower inside the open_clip CLIP model (``clip.visual``),
so everything else (text tower, temperature, checkpoints, preprocessing) stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ConvImageTower(nn.Module):
    """Stride-2 3x3 convolutions with BatchNorm and ReLU, average pool, LayerNorm, projection.

    Args:
        output_dim: width of the joint embedding space (open_clip's ``embed_dim``).
        image_size: side of the square input image.
        widths: channels of the successive stride-2 layers.
    """

    def __init__(self, output_dim: int, image_size: int, widths: Sequence[int]) -> None:
        super().__init__()
        if not widths or any(int(w) < 1 for w in widths):
            raise ValueError(f"conv tower widths must be positive integers, got {widths}")
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:
            layers += [
                nn.Conv2d(channels, int(width), 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(int(width)),
                nn.ReLU(inplace=True),
            ]
            channels = int(width)
        self.features = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(channels)
        self.proj = nn.Linear(channels, output_dim)
        self.image_size = (int(image_size), int(image_size))  # read by open_clip's preprocess cfg

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Embed preprocessed images (N, 3, H, W) -> (N, output_dim)."""
        return self.proj(self.norm(self.features(images).mean(dim=(2, 3))))
