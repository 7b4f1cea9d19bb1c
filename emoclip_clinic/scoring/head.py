"""The symptom head: a 2-layer MLP on clip embeddings, averaged per interview (paper, Sec. V).

Multi-output regression of every item of a scale plus its total, the total rescaled linearly to
the item range for training (as the paper does) and back for reporting. Every clip is a
training sample labelled with its interview's ratings; each step draws ``clips_per_interview``
clips (with replacement) of every training interview, so every interview counts equally however
long it is and training cost does not grow with recording length. An interview's prediction is
the mean of its clips' predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from emoclip_clinic.errors import DataError
from emoclip_clinic.heads import MLPHead
from emoclip_clinic.scoring.scales import Scale


@dataclass(frozen=True)
class HeadSettings:
    """Training settings of the symptom head."""

    hidden: int | None = None  # hidden width; None = d/2 as in the paper
    steps: int = 300  # optimisation steps
    clips_per_interview: int = 32  # clips drawn per interview and step
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW weight decay
    dropout: float = 0.1  # dropout before the output layer
    seed: int = 0  # seed of initialisation and clip sampling


@dataclass
class FittedHead:
    """A trained head with the normalisation of its inputs and targets."""

    model: MLPHead  # the MLP (eval mode)
    feature_mean: np.ndarray  # (d,) mean of training clip embeddings
    feature_std: np.ndarray  # (d,) standard deviation of training clip embeddings
    target_columns: tuple[str, ...]  # item ids then the total id

    def predict_clips(self, clips: np.ndarray) -> np.ndarray:
        """(N, k) predictions on the item range (the total rescaled) for (N, d) clips."""
        x = torch.from_numpy((clips - self.feature_mean) / self.feature_std).float()
        with torch.no_grad():
            return self.model(x).numpy()

    def predict_interview(self, clips: np.ndarray, ranges: Ranges) -> np.ndarray:
        """(k,) interview prediction in scale units: mean over clips, clipped to the ranges."""
        if len(clips) == 0:
            raise DataError("the recording has no usable clip to score")
        return to_scale_units(self.predict_clips(clips).mean(axis=0), ranges)


@dataclass(frozen=True)
class Ranges:
    """Ranges of a scale's items (shared) and of its total."""

    item: tuple[float, float]  # (min, max) of every item
    total: tuple[float, float]  # (min, max) of the total

    @classmethod
    def of(cls, scale: Scale) -> Ranges:
        """The ranges of a scale."""
        return cls(scale.item_range, (scale.total.min, scale.total.max))

    def total_to_item(self, total: np.ndarray) -> np.ndarray:
        """Map totals linearly onto the item range."""
        (lo, hi), (t_lo, t_hi) = self.item, self.total
        return lo + (total - t_lo) * (hi - lo) / (t_hi - t_lo)

    def item_to_total(self, value: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`total_to_item`."""
        (lo, hi), (t_lo, t_hi) = self.item, self.total
        return t_lo + (value - lo) * (t_hi - t_lo) / (hi - lo)


def targets_on_item_range(scores: np.ndarray, ranges: Ranges) -> np.ndarray:
    """(n, items + 1) targets: items as rated, the total mapped onto the item range."""
    out = scores.astype(float).copy()
    out[:, -1] = ranges.total_to_item(out[:, -1])
    return out


def to_scale_units(values: np.ndarray, ranges: Ranges) -> np.ndarray:
    """Inverse of :func:`targets_on_item_range`, clipped to each range."""
    values = np.asarray(values, float).copy()
    values[..., :-1] = np.clip(values[..., :-1], *ranges.item)
    values[..., -1] = np.clip(ranges.item_to_total(values[..., -1]), *ranges.total)
    return values


def fit_symptom_head(
    clips: list[np.ndarray], targets: np.ndarray, settings: HeadSettings = HeadSettings()
) -> tuple[MLPHead, np.ndarray, np.ndarray]:
    """Train the MLP on the clips of several interviews.

    Args:
        clips: per interview, its (n_i, d) usable clip embeddings.
        targets: (interviews, k) targets on the item range.
        settings: training settings.

    Returns:
        The head and the feature mean and std used to standardise inputs.
    """
    rng = np.random.default_rng(settings.seed)
    stacked = np.concatenate(clips)
    mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    data = [torch.from_numpy((c - mean) / std).float() for c in clips]
    y = torch.from_numpy(targets).float()
    with torch.random.fork_rng():
        torch.manual_seed(settings.seed)
        head = MLPHead(stacked.shape[1], targets.shape[1], settings.hidden, settings.dropout)
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.lr,
                                  weight_decay=settings.weight_decay)  # fmt: skip
    head.train()
    per = settings.clips_per_interview
    with torch.random.fork_rng():
        torch.manual_seed(settings.seed)
        for _ in range(settings.steps):
            picks = [d[rng.integers(0, len(d), per)] for d in data]
            # Clip-level regression: every clip is labelled with its interview's ratings.
            out = head(torch.cat(picks)).view(len(data), per, -1)
            loss = nn.functional.mse_loss(out, y[:, None, :].expand_as(out))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return head.eval(), mean, std
