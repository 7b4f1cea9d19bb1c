"""EmoCLIP: a CLIP image encoder applied per frame, a temporal transformer, a CLIP text encoder.

The video embedding is the CLS output of the temporal transformer over the per-frame image
embeddings (after CLIP's visual projection, before normalisation), as in the paper (Sec. III-B)
and the authors' code. The contrastive loss lives in :mod:`emoclip_clinic.train`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import nn

from emoclip_clinic.models.config import EmoCLIPConfig
from emoclip_clinic.models.temporal import TemporalTransformer


class EmoCLIPOutput(NamedTuple):
    """What :meth:`EmoCLIP.forward` returns."""

    video_embeddings: torch.Tensor  # (B, D), L2-normalised
    text_embeddings: torch.Tensor  # (N, D), L2-normalised
    logit_scale: torch.Tensor  # scalar, exp of the clamped learnable log temperature


class EmoCLIP(nn.Module):
    """Video-text model: ``clip`` (open_clip CLIP or CustomTextCLIP) plus ``temporal``.

    Args:
        clip: an open_clip model with ``encode_image`` and ``encode_text``.
        config: the architecture this model was built from (kept for checkpoints).
        embed_dim: width of the joint embedding space (open_clip's ``embed_dim``).
    """

    def __init__(self, clip: nn.Module, config: EmoCLIPConfig, embed_dim: int) -> None:
        super().__init__()
        self.config = config
        self.clip = clip
        self.embed_dim = embed_dim
        # The frame-ensemble baseline (pooling "mean") averages frame embeddings instead.
        self.temporal: TemporalTransformer | None = None
        if config.temporal.pooling == "transformer":
            self.temporal = TemporalTransformer(embed_dim, config.temporal)
        # Own learnable temperature (log scale), initialised like CLIP's; open_clip's own
        # `clip.logit_scale` stays in the state dict for weight compatibility but is unused.
        self.logit_scale = nn.Parameter(torch.tensor(float(config.init_logit_scale)))
        self.backbone_frozen = False
        self.text_frozen = False

    # -- backbone control -------------------------------------------------------------------
    def freeze_backbone(self, frozen: bool = True) -> None:
        """Freeze (or unfreeze) the CLIP image and text towers.

        A frozen backbone gets no gradients and runs in eval mode (no dropout), which also
        saves the memory of its activations during training.
        """
        self.backbone_frozen = frozen
        for param in self.clip.parameters():
            param.requires_grad_(not frozen)
        self.clip.logit_scale.requires_grad_(False)
        if frozen:
            self.clip.eval()

    def freeze_text_tower(self, frozen: bool = True) -> None:
        """Freeze the text encoder but its final projection (a pretrained text tower).

        The frozen part runs in eval mode and builds no autograd graph, so a pretrained text
        encoder (MiniLM in ``emoclip-tiny-minilm``) costs one forward pass per step and keeps
        the meaning of words it never saw in the captions; the projection into the joint space
        still learns.
        """
        self.text_frozen = frozen
        for name, param in self.clip.named_parameters():
            if _is_text(name) and not _is_text_projection(name):
                param.requires_grad_(not frozen)
        if frozen:
            self._text_body_eval()

    def _text_body_eval(self) -> None:
        for name, module in self.clip.named_children():
            if name in ("transformer", "token_embedding", "ln_final"):
                module.eval()
            elif name == "text" and hasattr(module, "transformer"):
                module.transformer.eval()

    def train(self, mode: bool = True) -> EmoCLIP:
        """Set training mode; frozen parts always stay in eval mode."""
        super().train(mode)
        if self.backbone_frozen:
            self.clip.eval()
        if self.text_frozen:
            self._text_body_eval()
        return self

    def backbone_parameters(self, tower: str | None = None) -> Iterator[nn.Parameter]:
        """Parameters of the CLIP towers that are trained (empty when frozen).

        Args:
            tower: "image", "text", or None for both.
        """
        for name, param in self.clip.named_parameters():
            if not param.requires_grad or name == "logit_scale":
                continue
            if tower is None or (tower == "image") == name.startswith("visual."):
                yield param

    def head_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters trained from scratch: the temporal module and the temperature."""
        if self.temporal is not None:
            yield from self.temporal.parameters()
        yield self.logit_scale

    def _backbone_context(self) -> contextlib.AbstractContextManager[None]:
        return torch.no_grad() if self.backbone_frozen else contextlib.nullcontext()

    # -- encoders ---------------------------------------------------------------------------
    def encode_frames(self, images: torch.Tensor) -> torch.Tensor:
        """Embed a batch of preprocessed images (N, C, H, W) -> (N, D), unnormalised."""
        with self._backbone_context():
            return self.clip.encode_image(images)

    def encode_video(
        self,
        video: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        normalize: bool = False,
    ) -> torch.Tensor:
        """Embed preprocessed clips (B, T, C, H, W) -> (B, D).

        Args:
            video: clips of T frames each, already resized and normalised.
            frame_mask: optional (B, T) boolean, False where a frame is padding.
            normalize: return L2-normalised embeddings.
        """
        if video.ndim != 5:
            raise ValueError(f"video must be (B, T, C, H, W), got shape {tuple(video.shape)}")
        batch, frames = video.shape[:2]
        per_frame = self.encode_frames(video.flatten(0, 1)).view(batch, frames, -1)
        if self.temporal is not None:
            embedding = self.temporal.video_embedding(per_frame, frame_mask)
        else:
            embedding = mean_of_frames(nn.functional.normalize(per_frame, dim=-1), frame_mask)
        return nn.functional.normalize(embedding, dim=-1) if normalize else embedding

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Embed tokenised text (N, L) -> (N, D)."""
        with self._backbone_context():
            embedding = self.clip.encode_text(tokens)
        return nn.functional.normalize(embedding, dim=-1) if normalize else embedding

    def scale(self) -> torch.Tensor:
        """The temperature: exp of the log scale clamped to ``config.max_logit_scale``."""
        return self.logit_scale.clamp(max=self.config.max_logit_scale).exp()

    def forward(
        self, video: torch.Tensor, tokens: torch.Tensor, frame_mask: torch.Tensor | None = None
    ) -> EmoCLIPOutput:
        """Embed clips and texts; both normalised, plus the temperature."""
        return EmoCLIPOutput(
            self.encode_video(video, frame_mask, normalize=True),
            self.encode_text(tokens, normalize=True),
            self.scale(),
        )


def _is_text(name: str) -> bool:
    """Whether an open_clip parameter name belongs to the text tower."""
    return not name.startswith("visual.") and name != "logit_scale"


def _is_text_projection(name: str) -> bool:
    """The text tower's final projection (built-in CLIP text tower or an HF one)."""
    return name == "text_projection" or name.startswith("text.proj.")


def mean_of_frames(per_frame: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Average (B, T, D) frame embeddings over the real frames (CLIP's frame ensemble)."""
    if frame_mask is None:
        return per_frame.mean(dim=1)
    weights = frame_mask.to(per_frame.dtype).unsqueeze(-1)
    return (per_frame * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
