"""One decoding pass per video gives every view the zero-shot table compares.

For each video: the model's video embedding (temporal transformer, or mean pooling for a
frame-ensemble CLIP), the image tower's frame ensemble (mean of the normalised embeddings of the
distinct frames the windows sampled: a short clip's looped frames count once) and the clip's own
middle frame (frame ``n // 2`` of its ``n``). Every distinct frame is decoded and encoded once,
however often the windows use it. With ``num_windows > 1`` (multi-clip evaluation) the video
embedding is the mean over evenly spaced windows; deterministic either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from emoclip_clinic.data.dataset import ClipSampling
from emoclip_clinic.data.samples import VideoSample
from emoclip_clinic.data.transforms import ClipTransform
from emoclip_clinic.errors import DataError
from emoclip_clinic.models.emoclip import EmoCLIP, mean_of_frames
from emoclip_clinic.progress import NO_PROGRESS, ProgressHook
from emoclip_clinic.train.evaluate import autocast_for
from emoclip_clinic.video import fill_to_length, probe_video, read_frames
from emoclip_clinic.video.clips import ShortClipFill

VIEWS = ("video", "frame_ensemble", "middle_frame")


def evenly_spaced_windows(n_frames: int, sampling: ClipSampling, num_windows: int) -> np.ndarray:
    """(num_windows, T) frame indices of windows spread evenly over the clip (centred if 1)."""
    span = (sampling.num_frames - 1) * sampling.downsample + 1
    slack = max(0, n_frames - span)
    if num_windows == 1:
        starts = [slack // 2]
    else:
        starts = np.linspace(0, slack, num_windows).round().astype(int).tolist()
    rows = []
    for start in starts:
        real = np.arange(start, n_frames, sampling.downsample)[: sampling.num_frames]
        rows.append(fill_to_length(real, sampling.num_frames, ShortClipFill.LOOP))
    return np.stack(rows)


class WindowedClips(Dataset):
    """Evaluation clips as their distinct frames (N, C, H, W), the (K, T) windows over them
    and the clip's middle frame; failures are reported, not raised."""

    def __init__(
        self,
        samples: list[VideoSample],
        transform: ClipTransform,
        sampling: ClipSampling,
        num_windows: int = 1,
    ) -> None:
        self.samples, self.transform = samples, transform
        self.sampling, self.num_windows = sampling, num_windows

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            info = probe_video(self.samples[index].path)
            windows = evenly_spaced_windows(info.n_frames, self.sampling, self.num_windows)
            middle = info.n_frames // 2
            # Each distinct frame once: a short clip's window loops a few frames many times.
            distinct = np.unique(np.append(windows, middle))
            frames = self.transform(read_frames(info, distinct))
        except DataError as err:
            return {"index": index, "error": str(err)}
        return {"index": index, "frames": frames,
                "windows": np.searchsorted(distinct, windows),  # (K, T) rows of ``frames``
                "middle": int(np.searchsorted(distinct, middle))}  # fmt: skip


def _collate(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return items


@dataclass
class VideoViews:
    """Normalised embeddings of every view, row-aligned with ``indices``."""

    embeddings: dict[str, torch.Tensor]  # view -> (N, D)
    indices: list[int]  # sample indices that were embedded
    failed: list[tuple[int, str]]  # (sample index, reason) of clips that could not be read


@torch.no_grad()
def embed_views(
    model: EmoCLIP,
    dataset: WindowedClips,
    workers: int = 0,
    progress: ProgressHook = NO_PROGRESS,
    task: str = "embed",
) -> VideoViews:
    """Embed every clip of ``dataset`` in every view (see the module docstring)."""
    device = next(model.parameters()).device
    model.eval()
    loader = DataLoader(dataset, batch_size=1, num_workers=workers, collate_fn=_collate)
    rows: dict[str, list[torch.Tensor]] = {v: [] for v in VIEWS}
    indices, failed = [], []
    progress.start(task, total=len(dataset), unit="video")
    for (item,) in loader:
        progress.advance(task)
        if "error" in item:
            failed.append((item["index"], item["error"]))
            continue
        windows = torch.from_numpy(item["windows"]).to(device)
        with autocast_for(device):
            embedded = model.encode_frames(item["frames"].to(device)).float()
            clip_embeddings = _video_from_frames(model, embedded[windows])  # (K, T, D) in
        frames = F.normalize(embedded, dim=-1)
        rows["video"].append(F.normalize(clip_embeddings.mean(dim=0), dim=-1))
        sampled = frames[windows.unique()]  # each frame the windows sampled, once
        rows["frame_ensemble"].append(F.normalize(sampled.mean(dim=0), dim=-1))
        rows["middle_frame"].append(frames[item["middle"]])
        indices.append(item["index"])
    progress.end(task)
    dim = model.embed_dim
    stacked = {v: torch.stack(r).cpu() if r else torch.empty(0, dim) for v, r in rows.items()}
    return VideoViews(stacked, indices, failed)


def _video_from_frames(model: EmoCLIP, per_frame: torch.Tensor) -> torch.Tensor:
    """Normalised video embeddings (K, D) of K windows from their frame embeddings."""
    if model.temporal is None:  # the same pooling as EmoCLIP.encode_video
        return F.normalize(mean_of_frames(F.normalize(per_frame, dim=-1)), dim=-1)
    return F.normalize(model.temporal.video_embedding(per_frame), dim=-1)
