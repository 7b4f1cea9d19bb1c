"""Plan the clips that a model sees: which frames, and which stretch of time each clip covers.

EmoCLIP encodes a clip of ``T`` frames (32 by default) taken every ``downsample``-th frame of
the recording. Over a long recording the clips tile the time axis (stride = ``T`` sampled frames)
or overlap (stride < ``T``); over a short training clip one window is drawn, at random while
training and centred for evaluation.

Times come from the decoder's own per-frame timestamps (``VideoInfo``/``frame_timestamps``), not
from ``index / fps``: with a variable frame rate that conversion was up to 9 frames off in our
measurements (shared/notes/ecosystem.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from emoclip_clinic.errors import DataError


class ShortClipFill(StrEnum):
    """How a window with fewer than ``T`` real frames is brought to ``T`` frames."""

    LOOP = "loop"  # repeat the clip's own frames from its start: 0 1 2 0 1 2 0 ...
    PAD = "pad"  # repeat the last real frame: 0 1 2 2 2 2 2 ...
    DROP = "drop"  # leave the short tail of a recording out of the plan


@dataclass(frozen=True)
class ClipPlanConfig:
    """How a recording is cut into clips."""

    downsample: int = 4  # keep every n-th decoded frame (25 fps -> 6.25 fps)
    clip_len: int = 32  # frames per clip after downsampling (T)
    stride: int | None = None  # sampled frames between clip starts; None = clip_len (no overlap)
    fill: ShortClipFill = ShortClipFill.LOOP  # what to do with a clip shorter than clip_len

    def __post_init__(self) -> None:
        if self.downsample < 1 or self.clip_len < 1:
            raise ValueError(
                f"downsample and clip_len must be >= 1, got {self.downsample}, {self.clip_len}"
            )
        if self.stride is not None and self.stride < 1:
            raise ValueError(f"stride must be >= 1 or None, got {self.stride}")
        object.__setattr__(self, "fill", ShortClipFill(self.fill))

    @property
    def step(self) -> int:
        """Sampled frames between the starts of consecutive clips."""
        return self.clip_len if self.stride is None else self.stride


@dataclass(frozen=True)
class Clip:
    """One clip of a plan."""

    index: int  # position in the plan, 0-based
    frame_indices: np.ndarray = field(repr=False)  # (clip_len,) int64 indices into the recording
    n_real: int  # distinct real frames before looping/padding (== clip_len unless short)
    start_s: float  # presentation time at which the clip's first frame starts
    end_s: float  # time at which the last source frame the clip stands for ends


def normalise_timestamps(timestamps: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Return per-frame ``(start, end)`` times in seconds as an ``(n, 2)`` float64 array.

    Args:
        timestamps: ``(n, 2)`` start/end times (decord's ``get_frame_timestamp``) or ``(n,)``
            start times; for the latter each frame ends where the next starts and the last one
            lasts ``1 / fps`` (or the previous frame's duration when ``fps`` is None).
        fps: Average frame rate, used only for the last frame of ``(n,)`` input.

    Returns:
        ``(n, 2)`` float64 array.

    Raises:
        ValueError: The array has another shape or times go backwards.
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.ndim == 1 and len(ts):
        # Without a rate the last frame lasts as long as the one before it.
        previous = float(ts[-1] - ts[-2]) if len(ts) > 1 else 0.0
        last = 1.0 / fps if fps else previous
        ts = np.stack([ts, np.append(ts[1:], ts[-1] + last)], axis=1)
    if ts.ndim != 2 or (len(ts) and ts.shape[1] != 2):
        raise ValueError(f"timestamps must have shape (n,) or (n, 2), got {ts.shape}")
    if len(ts) > 1 and np.any(np.diff(ts[:, 0]) < 0):
        raise ValueError("frame start times must not decrease")
    return ts.reshape(-1, 2)


def fill_to_length(indices: np.ndarray, length: int, fill: ShortClipFill) -> np.ndarray:
    """Bring a non-empty run of frame indices to ``length`` by looping or padding.

    Args:
        indices: The real frame indices, at most ``length`` of them.
        length: Target length.
        fill: ``LOOP`` repeats the run from its start, ``PAD`` repeats its last index.

    Returns:
        ``(length,)`` int64 array.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) >= length:
        return indices[:length]
    if fill is ShortClipFill.PAD:
        return np.concatenate([indices, np.full(length - len(indices), indices[-1])])
    return np.resize(indices, length)  # np.resize repeats the input cyclically


def plan_clips(
    n_frames: int,
    timestamps: np.ndarray,
    config: ClipPlanConfig | None = None,
) -> list[Clip]:
    """Cut a recording into clips that together cover all of it.

    With the default stride the clips tile the recording: clip ``k`` stands for source frames
    ``[k*T*ds, (k+1)*T*ds)`` and its ``end_s`` is the ``start_s`` of clip ``k+1``. The last clip
    may be short; it is looped or padded to ``T`` (``fill``), or dropped.

    Args:
        n_frames: Frames in the recording (``VideoInfo.n_frames``).
        timestamps: Per-frame times, ``(n_frames, 2)`` or ``(n_frames,)``, from the decoder.
        config: Downsampling, clip length, stride and fill; defaults to ``ClipPlanConfig()``.

    Returns:
        The clips in time order; empty only for a recording with no frames.

    Raises:
        ValueError: ``timestamps`` does not have ``n_frames`` rows.
    """
    config = config or ClipPlanConfig()
    ts = normalise_timestamps(timestamps)
    if len(ts) != n_frames:
        raise ValueError(f"got {len(ts)} timestamps for {n_frames} frames")
    sampled = np.arange(0, n_frames, config.downsample, dtype=np.int64)
    clips: list[Clip] = []
    for start in range(0, len(sampled), config.step):
        real = sampled[start : start + config.clip_len]
        if len(real) < config.clip_len and config.fill is ShortClipFill.DROP:
            break
        last_source = min(int(real[-1]) + config.downsample, n_frames) - 1
        clips.append(
            Clip(
                index=len(clips),
                frame_indices=fill_to_length(real, config.clip_len, config.fill),
                n_real=len(real),
                start_s=float(ts[real[0], 0]),
                end_s=float(ts[last_source, 1]),
            )
        )
        if start + config.clip_len >= len(sampled):
            break  # this clip reached the end; later starts would only repeat its frames
    return clips


def window_indices(
    n_frames: int,
    clip_len: int = 32,
    downsample: int = 4,
    rng: np.random.Generator | None = None,
    fill: ShortClipFill = ShortClipFill.LOOP,
) -> np.ndarray:
    """Pick the frames of one window of a short clip (training and evaluation sampling).

    The window spans ``clip_len * downsample`` source frames. While training (``rng`` given) it
    starts at a uniformly random frame; for evaluation (``rng`` None) it is centred, so the
    same clip always gives the same frames. A clip shorter than the window uses all of its
    sampled frames, looped or padded to ``clip_len``.

    Args:
        n_frames: Frames in the clip.
        clip_len: Frames to return (T).
        downsample: Source frames between two returned frames.
        rng: Random generator for a random start; None for the centred window.
        fill: ``LOOP`` or ``PAD`` for clips shorter than the window (``DROP`` acts as ``LOOP``).

    Returns:
        ``(clip_len,)`` int64 frame indices, non-decreasing unless looped.

    Raises:
        DataError: The clip has no frames.
    """
    if n_frames < 1:
        raise DataError("cannot sample a window from a clip with no frames")
    span = (clip_len - 1) * downsample + 1  # source frames from first to last sampled frame
    slack = n_frames - span
    if slack <= 0:
        start = 0
    elif rng is None:
        start = slack // 2
    else:
        start = int(rng.integers(0, slack + 1))
    real = np.arange(start, n_frames, downsample, dtype=np.int64)[:clip_len]
    fill = ShortClipFill.PAD if ShortClipFill(fill) is ShortClipFill.PAD else ShortClipFill.LOOP
    return fill_to_length(real, clip_len, fill)
