"""Image preprocessing of clips: the same random augmentation for every frame of a clip.

Training (paper, Sec. IV "Training details"): horizontal flip with p=0.5, rotation within
±6 degrees and a random crop, drawn once per clip and applied to all its frames so that the
motion between frames is untouched. Then, as in evaluation, the resize and normalisation of the
backbone's own open_clip preprocessing config (size, mean, std, interpolation, resize mode),
never hard-coded values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from open_clip.transform import PreprocessCfg
from torchvision.transforms import InterpolationMode


@dataclass(frozen=True)
class AugmentConfig:
    """Spatial augmentation applied identically to every frame of a training clip."""

    flip_p: float = 0.5  # probability of a horizontal flip
    max_rotation_deg: float = 6.0  # rotation drawn uniformly in [-max, max]
    crop_scale: tuple[float, float] = (0.8, 1.0)  # side of the random crop, fraction of the frame


class ClipTransform:
    """Turn uint8 frames (T, H, W, 3) into a normalised float tensor (T, 3, S, S).

    Args:
        preprocess: the backbone's preprocessing config (``get_preprocess_cfg(model)``).
        augment: augmentation for training; None for evaluation (deterministic).
    """

    def __init__(self, preprocess: PreprocessCfg, augment: AugmentConfig | None = None) -> None:
        size = preprocess.size
        self.size = [size, size] if isinstance(size, int) else list(size)
        self.mean = torch.tensor(preprocess.mean).view(1, 3, 1, 1)
        self.std = torch.tensor(preprocess.std).view(1, 3, 1, 1)
        self.interpolation = InterpolationMode(preprocess.interpolation)
        if preprocess.resize_mode not in ("shortest", "squash"):
            raise ValueError(f"resize mode {preprocess.resize_mode!r} is not supported")
        self.resize_mode = preprocess.resize_mode
        self.augment = augment

    def __call__(self, frames: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        """Transform one clip; ``rng`` draws the augmentation (required when augmenting)."""
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        if self.augment is not None:
            if rng is None:
                raise ValueError("an augmenting transform needs a random generator")
            video = self._augment(video, rng)
        else:
            video = self._resize(video)
        return (video.float() / 255.0 - self.mean) / self.std

    def _resize(self, video: torch.Tensor) -> torch.Tensor:
        if self.resize_mode == "squash":
            return TF.resize(video, self.size, self.interpolation, antialias=True)
        video = TF.resize(video, [min(self.size)], self.interpolation, antialias=True)
        return TF.center_crop(video, self.size)

    def _augment(self, video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        aug = self.augment
        assert aug is not None
        if rng.random() < aug.flip_p:
            video = TF.horizontal_flip(video)
        angle = float(rng.uniform(-aug.max_rotation_deg, aug.max_rotation_deg))
        video = TF.rotate(video, angle, InterpolationMode.BILINEAR)
        height, width = video.shape[-2:]
        side = float(rng.uniform(*aug.crop_scale))
        crop_h, crop_w = max(1, round(height * side)), max(1, round(width * side))
        top = int(rng.integers(0, height - crop_h + 1))
        left = int(rng.integers(0, width - crop_w + 1))
        video = TF.crop(video, top, left, crop_h, crop_w)
        return self._resize(video)
