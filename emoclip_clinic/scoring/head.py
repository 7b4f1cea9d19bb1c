"""The symptom head: a 2-layer MLP on clip embeddings, averaged per interview (paper, Sec. V).

Multi-output regression of every item of a scale plus its total, the total rescaled linearly to
the item range for training (as the paper does) and back for reporting. An interview's
prediction is the mean of its clips' predictions. Each step draws ``clips_per_interview`` clips
(with replacement) of every training interview, so every interview counts equally however long
it is and training cost does not grow with recording length.

What the ratings are fitted to (``HeadSettings.loss``):

- ``"interview"`` (default): the mean of the drawn clips' predictions, that is the quantity
  the head is judged on. Behaviour in an interview shows in some clips and not others (an
  expression, a nod, talking), so the embedding directions that carry it vary far more within
  an interview than between interviews, while the directions of a person's look do not vary
  within an interview at all. A regression of each clip on its interview's ratings shrinks
  the first by their within-interview variance and leaves the second untouched: it learns the
  look of the training patients and predicts every new patient near the cohort mean.
- ``"clip"``: every clip is a training sample labelled with its interview's ratings (the paper
  does not say which it used; this is the reading most implementations take).

What the head sees of each clip (``HeadSettings.inputs``, :func:`head_inputs`): by default
the clip's embedding minus its recording's mean. Behaviour that moves the embedding either
way between clips leaves the interview's mean where it was; only its spread shows it, and a
ReLU unit on centred inputs, averaged over the clips, measures that spread along its
direction. What is constant within a recording (look, room, camera) is removed with the mean.
``"clip"`` is the paper's head (it also sees a level that holds for a whole interview).

``tests/test_scoring.py`` shows both choices on simulated clips against scikit-learn's ridge
regression on interview summaries; docs/benchmarks.md has them on the synthetic cohort.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from emoclip_clinic.devices import resolve_device
from emoclip_clinic.errors import ConfigError, DataError
from emoclip_clinic.heads import MLPHead
from emoclip_clinic.scoring.scales import Scale

HEAD_LOSSES = ("interview", "clip")
HEAD_INPUTS = ("centred", "clip", "clip+centred")
HEAD_PRECISIONS = ("fp32", "bf16")


def head_inputs(clips: np.ndarray, inputs: str) -> np.ndarray:
    """The head's per-clip inputs from one recording's (n, d) usable clip embeddings.

    ``"clip"`` is the embedding itself (the paper's head). ``"centred"`` subtracts the mean of
    the recording's clips, so that what is constant within the recording (the person's look,
    the room, the camera) is gone and each clip says how it differs from the rest of its
    interview; ``"clip+centred"`` gives both, side by side (2d inputs).
    """
    if inputs == "clip":
        return clips
    centred = clips - clips.mean(axis=0, keepdims=True)
    return centred if inputs == "centred" else np.concatenate([clips, centred], axis=1)


def min_usable_clips(inputs: str) -> int:
    """Usable clips an interview needs for a head with these inputs: centred inputs of a single
    clip are zero whatever the video shows, so a prediction from one clip would be a constant."""
    return 2 if inputs == "centred" else 1


@dataclass(frozen=True)
class HeadSettings:
    """Training settings of the symptom head."""

    hidden: int | None = None  # hidden width; None = d/2 as in the paper
    steps: int = 150  # optimisation steps
    clips_per_interview: int = 32  # clips drawn per interview and step
    lr: float = 3e-3  # AdamW learning rate (1e-3 underfits in 150 steps; see fit_symptom_heads)
    weight_decay: float = 1e-2  # AdamW weight decay
    dropout: float = 0.1  # dropout before the output layer
    seed: int = 0  # seed of initialisation and clip sampling
    loss: str = "interview"  # what fits the ratings: the drawn clips' mean, or each "clip"
    inputs: str = "centred"  # per-clip inputs: see head_inputs
    precision: str = "fp32"  # matrix products in training: fp32, or bf16 (see fit_symptom_heads)

    def __post_init__(self) -> None:
        if self.loss not in HEAD_LOSSES:
            raise ConfigError(
                f"head loss must be one of {', '.join(HEAD_LOSSES)}, not {self.loss!r}"
            )
        if self.inputs not in HEAD_INPUTS:
            raise ConfigError(
                f"head inputs must be one of {', '.join(HEAD_INPUTS)}, not {self.inputs!r}"
            )
        if self.precision not in HEAD_PRECISIONS:
            raise ConfigError(
                f"head precision must be one of {', '.join(HEAD_PRECISIONS)}, "
                f"not {self.precision!r}"
            )
        if self.steps < 1 or self.clips_per_interview < 1:
            raise ConfigError("head steps and clips per interview must be at least 1")


@dataclass
class FittedHead:
    """A trained head with the normalisation of its inputs and targets."""

    model: MLPHead  # the MLP (eval mode)
    feature_mean: np.ndarray  # (d_in,) mean of the training clips' inputs (head_inputs)
    feature_std: np.ndarray  # (d_in,) their standard deviation
    target_columns: tuple[str, ...]  # item ids then the total id
    inputs: str = "clip"  # how clip embeddings become inputs (HeadSettings.inputs)

    def predict_clips(self, clips: np.ndarray) -> np.ndarray:
        """(N, k) predictions on the item range (the total rescaled).

        Args:
            clips: (N, d) embeddings of all the usable clips of one recording (centred inputs
                are taken relative to their mean).
        """
        features = head_inputs(np.asarray(clips, np.float64), self.inputs)
        x = torch.from_numpy((features - self.feature_mean) / self.feature_std).float()
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


def _padded(clips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, max_clips, d) zero-padded embeddings and (n,) clip counts."""
    lengths = torch.tensor([len(c) for c in clips])
    padded = torch.zeros(len(clips), int(lengths.max()), clips[0].shape[1])
    for i, c in enumerate(clips):
        padded[i, : len(c)] = torch.from_numpy(np.asarray(c, np.float32))
    return padded, lengths


def _fold_stats(clips: list[np.ndarray], masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per fold, mean and std of the training clips' embeddings (F, d)."""
    sums = np.stack([c.sum(axis=0) for c in clips]).astype(np.float64)
    squares = np.stack([(c.astype(np.float64) ** 2).sum(axis=0) for c in clips])
    counts = np.array([len(c) for c in clips], np.float64)
    n = masks @ counts
    mean = (masks @ sums) / n[:, None]
    std = np.sqrt(np.maximum((masks @ squares) / n[:, None] - mean**2, 0)) + 1e-6
    return mean, std


def _fold_target_stats(targets: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per fold, mean and std (F, k) of the training interviews' targets (each counts once)."""
    weight = masks / masks.sum(axis=1, keepdims=True)
    mean = weight @ targets
    var = weight @ targets**2 - mean**2
    std = np.sqrt(np.maximum(var, 0))
    return mean, np.where(std > 1e-6, std, 1.0)  # a constant target: leave its scale alone


class _FoldMLPs(nn.Module):
    """F independent MLPs (one per fold) evaluated together.

    The first layers of all folds form one (d, F*h) matrix, so that a step is one large matrix
    product over the shared clip draws rather than F small ones; the second layers are a batched
    product. Dropout draws one mask per clip and hidden unit and applies it to every fold: each
    fold still sees ordinary dropout (folds never interact, as with the shared clip draws), and
    F times fewer random numbers are drawn. Timings in docs/benchmarks.md (``bench_loocv.py``).
    """

    def __init__(self, template: MLPHead, folds: int) -> None:
        super().__init__()
        first, last = template.net[0], template.net[3]
        self.w1 = nn.Parameter(first.weight.detach().T[:, None].repeat(1, folds, 1))  # (d, F, h)
        self.b1 = nn.Parameter(first.bias.detach().repeat(folds, 1))  # (F, h)
        self.w2 = nn.Parameter(last.weight.detach().T.repeat(folds, 1, 1))  # (F, h, k)
        self.b2 = nn.Parameter(last.bias.detach().repeat(folds, 1))  # (F, k)
        self.p = float(template.net[2].p)

    def forward(
        self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """(N, d) raw inputs -> (F, N, k); each fold standardises with its own statistics."""
        d, folds, h = self.w1.shape
        w1 = self.w1 / std.T[:, :, None]  # folding (x - mean) / std into the first layer
        b1 = self.b1 - torch.einsum("fd,dfh->fh", mean / std, self.w1)
        hidden = torch.addmm(b1.reshape(-1), x, w1.reshape(d, folds * h)).relu_()
        hidden = hidden.view(len(x), folds, h)
        if self.training and self.p > 0:  # drawn on the generator's device (the CPU): the
            # same masks on every device
            keep = (torch.rand(len(x), 1, h, generator=generator) >= self.p).to(x.device)
            hidden = hidden * (keep / (1 - self.p)).to(hidden.dtype)
        by_fold = hidden.transpose(0, 1)
        if by_fold.dtype != torch.float32:  # bf16 bmm's backward copies a strided batch slowly
            by_fold = by_fold.contiguous()
        return torch.baddbmm(self.b2[:, None], by_fold, self.w2)

    def head(
        self, fold: int, template: MLPHead, target_mean: np.ndarray, target_std: np.ndarray
    ) -> MLPHead:
        """Fold ``fold``'s weights as a plain :class:`MLPHead` that outputs target units.

        Training fits standardised targets; scaling the last layer by the fold's target std and
        adding its mean makes the saved MLP predict on the item range directly.
        """
        head = copy.deepcopy(template)
        scale = torch.from_numpy(target_std).float()
        with torch.no_grad():
            head.net[0].weight.copy_(self.w1[:, fold].T)
            head.net[0].bias.copy_(self.b1[fold])
            head.net[3].weight.copy_(self.w2[fold].T * scale[:, None])
            head.net[3].bias.copy_(self.b2[fold] * scale + torch.from_numpy(target_mean).float())
        return head.eval()


def fit_symptom_heads(
    clips: list[np.ndarray],
    targets: np.ndarray,
    train_masks: np.ndarray,
    settings: HeadSettings | None = None,
    device: str | torch.device = "cpu",
) -> list[FittedHead]:
    """Train one head per row of ``train_masks``, all at once.

    Leave-one-patient-out needs a model per patient; training them as one batched model
    (independent weights, shared clip draws) costs about as much as a single model when the
    MLP is small. Each fold standardises inputs with its own training clips' statistics, and
    targets with its own training interviews' mean and std: AdamW moves each weight by about
    ``lr`` per step, so unstandardised ratings (a 1-7 item has mean ~3) would leave the output
    bias far from the ratings after a few hundred steps, and items with a larger spread would
    dominate the loss. When the embeddings encode the ratings linearly, the default settings
    come within 0.08 mean PCC of scikit-learn's ridge regression on interview means
    (``tests/test_scoring.py``); the old defaults (raw targets, lr 1e-3) did not.

    ``settings.precision = "bf16"`` runs the matrix products in bfloat16 (autocast on the
    device; the weights, optimiser and loss stay fp32). On CPUs with bf16 units (AMX,
    AVX512-BF16) this cuts the time of a step; elsewhere bf16 is emulated and slower. Inputs are
    first centred on the cohort's mean clip, so that standardisation folded into the first layer
    does not subtract two large bf16 numbers. That centre includes every fold's held-out
    patient: it cancels exactly in fp32, but in bf16 the rounding of the centred inputs lets the
    held-out patient touch its own fold's model at rounding level. Agreement against fp32 is
    tested in ``tests/test_scoring.py``; timings are in docs/benchmarks.md.

    Args:
        clips: per interview, its (n_i, d) usable clip embeddings (turned into the head's
            inputs by :func:`head_inputs`).
        targets: (n, k) targets on the item range.
        train_masks: (F, n) 0/1: which interviews each fold trains on.
        settings: training settings.
        device: where the products run (meant for ViT-B/32's d = 512, whose first layer
            takes minutes on 2 CPU cores; the GPU time is not measured yet). Clip draws and
            dropout masks come from a CPU generator, so every device trains on the same
            draws; the heads come back on the CPU.

    Returns:
        F fitted heads, in the order of ``train_masks``.
    """
    settings = settings or HeadSettings()
    clips = [head_inputs(np.asarray(c, np.float32), settings.inputs) for c in clips]
    masks = np.asarray(train_masks, np.float64)
    mean, std = _fold_stats(clips, masks)
    padded, lengths = _padded(clips)
    bf16 = settings.precision == "bf16"
    centre = mean.mean(axis=0) if bf16 else np.zeros_like(mean[0])
    if bf16:  # products of raw inputs lose their small deviations from a large mean in bf16
        padded -= torch.from_numpy(centre).float()
    target_mean, target_std = _fold_target_stats(np.asarray(targets, np.float64), masks)
    y = torch.from_numpy((targets[None] - target_mean[:, None]) / target_std[:, None]).float()
    weight = torch.from_numpy(masks / masks.sum(axis=1, keepdims=True)).float()  # (F, n)
    generator = torch.Generator().manual_seed(settings.seed)
    device = torch.device(resolve_device(str(device)))
    padded, y, weight = padded.to(device), y.to(device), weight.to(device)
    with torch.random.fork_rng():
        torch.manual_seed(settings.seed)
        template = MLPHead(padded.shape[2], targets.shape[1], settings.hidden, settings.dropout)
        model = _FoldMLPs(template, len(masks)).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr,
                                      weight_decay=settings.weight_decay)  # fmt: skip
        mean_t = torch.from_numpy(mean - centre).float().to(device)
        std_t = torch.from_numpy(std).float().to(device)
        rows, per = torch.arange(len(clips), device=device)[:, None], settings.clips_per_interview
        for _ in range(settings.steps):
            draw = torch.rand(len(clips), per, generator=generator)
            picks = padded[rows, (draw * lengths[:, None]).long().to(device)]
            picks = picks.reshape(-1, padded.shape[2])
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out = model(picks, mean_t, std_t, generator)
            out = out.float().view(len(masks), len(clips), per, -1)
            if settings.loss == "interview":  # the drawn clips' mean prediction fits the ratings
                errors = ((out.mean(dim=2) - y) ** 2).mean(dim=2)  # (F, n)
            else:  # clip-level regression: every clip is labelled with its interview's ratings
                errors = ((out - y[:, :, None, :]) ** 2).mean(dim=(2, 3))  # (F, n)
            loss = (errors * weight).sum()  # folds are independent: their losses just add up
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.cpu()
    columns = tuple(str(i) for i in range(targets.shape[1]))
    return [
        FittedHead(model.head(f, template, target_mean[f], target_std[f]), mean[f], std[f],
                   columns, settings.inputs)
        for f in range(len(masks))
    ]  # fmt: skip
