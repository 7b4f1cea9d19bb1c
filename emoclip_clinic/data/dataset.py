"""A torch Dataset of clips with captions, robust to files that cannot be decoded.

Randomness (window start, augmentation, the neutral caption drawn for an uncaptioned neutral
clip) comes from a generator seeded by (seed, epoch, sample index), so a sample looks the same
whichever worker or process loads it, and a resumed run sees exactly the data an uninterrupted
run would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from emoclip_clinic.data.samples import VideoSample
from emoclip_clinic.data.transforms import ClipTransform
from emoclip_clinic.errors import DataError
from emoclip_clinic.resources import protocols_dir
from emoclip_clinic.video import probe_video, read_frames, window_indices

logger = logging.getLogger(__name__)


def neutral_captions() -> list[str]:
    """The pool of descriptions for neutral clips without a caption (protocols/captions)."""
    data = json.loads((protocols_dir() / "captions" / "neutral.json").read_text(encoding="utf-8"))
    return list(data["captions"])


@dataclass(frozen=True)
class ClipSampling:
    """How frames are taken from a clip."""

    num_frames: int = 16  # T, frames given to the model
    downsample: int = 4  # keep every k-th source frame (paper: 4)


class ClipDataset(Dataset):
    """Clips, captions and labels for training or evaluation.

    Args:
        samples: the data set's samples.
        transform: frame preprocessing (augmenting for training).
        sampling: frames per clip and temporal downsampling.
        train: random window starts (training) or the centred window (evaluation).
        seed: base seed of all randomness.
        caption_pool: captions for neutral clips without one (None: leave them empty).
    """

    def __init__(
        self,
        samples: Sequence[VideoSample],
        transform: ClipTransform,
        sampling: ClipSampling,
        train: bool,
        seed: int = 0,
        caption_pool: Sequence[str] | None = None,
    ) -> None:
        self.samples = list(samples)
        self.transform = transform
        self.sampling = sampling
        self.train = train
        self.seed = seed
        self.caption_pool = list(caption_pool or [])
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random draws ``__getitem__`` makes."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def caption_of(self, index: int, rng: np.random.Generator | None = None) -> str:
        """The sample's caption, or for an uncaptioned neutral clip two different sentences of
        the neutral pool joined, as the paper does (drawn with ``rng``, else fixed by index)."""
        sample = self.samples[index]
        if sample.caption:
            return sample.caption
        pool = self.caption_pool
        if sample.labels == ("neutral",) and pool:
            if len(pool) == 1:
                return pool[0]
            if rng is not None:
                first, second = rng.choice(len(pool), size=2, replace=False)
            else:
                first, second = index % len(pool), (index + 1) % len(pool)
            return f"{pool[first]} {pool[second]}"
        return ""

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        try:
            info = probe_video(sample.path)
            frames = window_indices(
                info.n_frames,
                self.sampling.num_frames,
                self.sampling.downsample,
                rng if self.train else None,
            )
            video = self.transform(read_frames(info, frames), rng if self.train else None)
        except DataError as err:
            return {"index": index, "error": str(err)}
        return {
            "index": index,
            "video": video,
            "caption": self.caption_of(index, rng if self.train else None),
            "label": sample.label,
        }


def collate_clips(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the good items of a batch; report the ones that failed to decode."""
    good = [item for item in items if "error" not in item]
    failed = [(item["index"], item["error"]) for item in items if "error" in item]
    batch: dict[str, Any] = {"failed": failed, "index": torch.tensor([i["index"] for i in good])}
    if good:
        batch["video"] = torch.stack([item["video"] for item in good])
        batch["caption"] = [item["caption"] for item in good]
        batch["label"] = [item["label"] for item in good]
    return batch
