"""Image preprocessing of clips: the same random augmentation for every frame of a clip.

Training (paper, Sec. IV "Training details"): horizontal flip with p=0.5, rotation within
±6 degrees and a random crop, drawn once per clip and applied to all its frames so that the
motion between frames is untouched. Then, as in evaluation, the resize and normalisation of the
backbone's own open_clip preprocessing config (size, mean, std, interpolation, resize mode),
never hard-coded values.

An optional appearance augmentation (:class:`AppearanceConfig`) changes how a clip *looks*
without touching what the face does: zoom out (the face smaller in the frame), colour cast,
brightness, contrast, saturation and gamma, then, at the model's input size, loss of resolution,
blur, sensor noise and JPEG compression. A CLIP tower pretrained on web images has seen such
variety; an encoder trained from scratch on one data set has not, and without it learns the
data set's look along with the expressions (docs/benchmarks.md, "Zero-shot recognition").
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from open_clip.transform import PreprocessCfg
from PIL import Image
from torchvision.transforms import InterpolationMode


@dataclass(frozen=True)
class AugmentConfig:
    """Spatial augmentation applied identically to every frame of a training clip."""

    flip_p: float = 0.5  # probability of a horizontal flip
    max_rotation_deg: float = 6.0  # rotation drawn uniformly in [-max, max]
    crop_scale: tuple[float, float] = (0.8, 1.0)  # side of the random crop, fraction of the frame
    appearance: AppearanceConfig | None = None  # look of the clip; None leaves it unchanged


@dataclass(frozen=True)
class AppearanceConfig:
    """Ranges of the appearance changes, drawn once per clip (generic, not fitted to any style).

    Each factor is drawn uniformly from its range; a range of (1, 1) (or (0, 0) for the
    additive ones) switches that change off.
    """

    zoom_out: tuple[float, float] = (1.0, 1.4)  # frame side / content side; borders replicated
    brightness: tuple[float, float] = (0.6, 1.4)  # overall gain
    contrast: tuple[float, float] = (0.6, 1.4)  # around the clip's mean grey
    saturation: tuple[float, float] = (0.0, 1.5)  # 0 = grey
    channel_gain: float = 0.15  # each colour channel times 1 +- this (colour cast)
    gamma: tuple[float, float] = (0.7, 1.4)
    degrade_p: float = 0.5  # probability of the degradations below (all drawn together)
    resolution: tuple[float, float] = (0.4, 1.0)  # render at this fraction of the size, upscale
    blur_sigma: tuple[float, float] = (0.0, 1.0)  # Gaussian blur, pixels of the model input
    noise_std: tuple[float, float] = (0.0, 8.0)  # sensor noise, 0..255 units
    jpeg_quality: tuple[int, int] = (25, 90)  # JPEG round trip at this quality


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
            if self.augment.appearance is not None:
                video = _appearance(video, self.augment.appearance, rng)
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
        if aug.appearance is not None:
            video = _zoom_out(video, float(rng.uniform(*aug.appearance.zoom_out)))
        return self._resize(video)


def _zoom_out(video: torch.Tensor, factor: float) -> torch.Tensor:
    """Shrink the content by ``factor`` inside a frame of the same size (edges replicated)."""
    if factor <= 1.0:
        return video
    height, width = video.shape[-2:]
    inner_h, inner_w = max(1, round(height / factor)), max(1, round(width / factor))
    small = TF.resize(video, [inner_h, inner_w], InterpolationMode.BILINEAR, antialias=True)
    top, left = (height - inner_h) // 2, (width - inner_w) // 2
    padding = [left, top, width - inner_w - left, height - inner_h - top]
    return TF.pad(small, padding, padding_mode="edge")


def _appearance(
    video: torch.Tensor, cfg: AppearanceConfig, rng: np.random.Generator
) -> torch.Tensor:
    """Colour and degradation changes of one uint8 clip (T, 3, H, W), the same for every frame."""
    x = video.float() / 255.0
    gain = 1.0 + cfg.channel_gain * rng.uniform(-1, 1, 3)
    x = x * torch.tensor(gain, dtype=x.dtype).view(1, 3, 1, 1) * float(rng.uniform(*cfg.brightness))
    grey = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    x = grey + float(rng.uniform(*cfg.saturation)) * (x - grey)
    mean = grey.mean()
    x = mean + float(rng.uniform(*cfg.contrast)) * (x - mean)
    x = x.clamp(0, 1) ** float(rng.uniform(*cfg.gamma))
    if rng.random() < cfg.degrade_p:
        height, width = x.shape[-2:]
        scale = float(rng.uniform(*cfg.resolution))
        if scale < 1.0:
            low = [max(4, round(height * scale)), max(4, round(width * scale))]
            x = TF.resize(x, low, InterpolationMode.BILINEAR, antialias=True)
            x = TF.resize(x, [height, width], InterpolationMode.BILINEAR, antialias=False)
        sigma = float(rng.uniform(*cfg.blur_sigma))
        if sigma > 0.05:
            x = TF.gaussian_blur(x, [5, 5], [sigma, sigma])
        noise = float(rng.uniform(*cfg.noise_std)) / 255.0
        if noise > 0:
            generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
            x = x + noise * torch.randn(x.shape, generator=generator)
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        return _jpeg((x.clamp(0, 1) * 255).round().to(torch.uint8), quality)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def _jpeg(video: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of each uint8 frame (T, 3, H, W) with Pillow."""
    frames = []
    for frame in video.permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        frames.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()
