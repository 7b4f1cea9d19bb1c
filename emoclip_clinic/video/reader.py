"""Stream the clips of a long recording with bounded memory, and read short clips at once.

Decoder choice (measured on a 10-minute 640x480 25 fps H.264 file, 15,000 frames, 2 shared
cores, every 4th frame converted to RGB; ``bench/bench_decode.py`` reproduces it):

=====================================================  ========  ========  ============
method                                                 wall      CPU       peak RSS
=====================================================  ========  ========  ============
PyAV, one sequential pass, shared swscale context      13-15 s   14-15 s   66 MB
decord 0.6.0 ``next()`` + ``skip_frames``              17-27 s   25-27 s   265 MB
decord 0.6.0, the same with ``num_threads=1``          20 s      -         258 MB
PyAV full decode without RGB conversion (lower bound)  12-13 s   12-14 s   62 MB
=====================================================  ========  ========  ============

PyAV single-threaded is the fastest per CPU second, leaves the second core free, and needs a
quarter of decord's memory, so the reader decodes with PyAV (:mod:`.decode`). decord's frames
were pixel-identical to PyAV's in the same test; decord stays the reference in the tests.

Memory: frames are decoded in order and a clip is handed out as soon as its last frame is in;
frames that no later clip uses are dropped at once. At most one clip's frames plus the overlap
with the next clip (stride < T) are held, whatever the recording's length.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from emoclip_clinic.errors import DataError
from emoclip_clinic.video.clips import Clip, ClipPlanConfig, plan_clips
from emoclip_clinic.video.decode import iter_video_frames
from emoclip_clinic.video.folder import iter_folder_frames, list_frame_files
from emoclip_clinic.video.probe import VideoInfo, probe_video


class ClipFrames(NamedTuple):
    """One decoded clip, as the reader yields it."""

    clip_index: int  # position of the clip in the plan
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    start_s: float  # start of the clip's first frame, seconds from the start of the recording
    end_s: float  # end of the last source frame the clip stands for


def iter_frames(
    info: VideoInfo, indices: np.ndarray, size: tuple[int, int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` for sorted unique indices of a probed video or frame folder.

    Args:
        info: The result of :func:`probe_video`.
        indices: Sorted, unique frame indices.
        size: ``(width, height)`` to resize to while decoding, or None.

    Raises:
        DataError: An index is out of range or the source cannot be decoded.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if info.is_frame_folder:
        yield from iter_folder_frames(list_frame_files(info.path), indices, size)
    else:
        yield from iter_video_frames(info, indices, size)


def _drop_unneeded(cache: dict[int, np.ndarray], next_clip: Clip | None) -> None:
    """Forget decoded frames that come before everything the next clip needs."""
    if next_clip is None:
        cache.clear()
        return
    keep_from = int(next_clip.frame_indices.min())
    for index in [i for i in cache if i < keep_from]:
        del cache[index]


class ClipReader:
    """Iterate over the clips of a recording, decoding it once, in order, with bounded memory.

    Example::

        reader = ClipReader("interview.mp4", ClipPlanConfig(downsample=4, clip_len=32))
        for clip_index, frames, start_s, end_s in reader:  # frames: (32, H, W, 3) uint8
            ...

    Args:
        path: Video file or folder of frame images.
        config: How to cut the recording into clips; defaults to ``ClipPlanConfig()``.
        size: ``(width, height)`` to resize frames to while decoding (saves memory), or None.
        folder_fps: Frame rate assumed for a folder of frame images.

    Raises:
        DataError: The recording cannot be read (see :func:`probe_video`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        config: ClipPlanConfig | None = None,
        size: tuple[int, int] | None = None,
        folder_fps: float = 25.0,
    ) -> None:
        self.info = probe_video(path, folder_fps=folder_fps)
        self.config = config or ClipPlanConfig()
        self.size = size
        self.plan: list[Clip] = plan_clips(self.info.n_frames, self.info.timestamps, self.config)
        self.peak_frames_held = 0  # most decoded frames held at once so far (memory check)

    def __len__(self) -> int:
        return len(self.plan)

    def __iter__(self) -> Iterator[ClipFrames]:
        return self.iter_clips()

    def iter_clips(self, start_clip: int = 0) -> Iterator[ClipFrames]:
        """Yield the clips from ``start_clip`` on (to resume an interrupted job).

        Args:
            start_clip: Index of the first clip to yield; earlier ones are not decoded.

        Yields:
            :class:`ClipFrames` in plan order.
        """
        plan = self.plan[start_clip:]
        if not plan:
            return
        wanted = np.unique(np.concatenate([clip.frame_indices for clip in plan]))
        cache: dict[int, np.ndarray] = {}
        next_clip = 0
        # A clip's frames may be looped, so its last frame in time is its largest index.
        last_needed = [int(clip.frame_indices.max()) for clip in plan]
        for index, frame in iter_frames(self.info, wanted, self.size):
            cache[index] = frame
            self.peak_frames_held = max(self.peak_frames_held, len(cache))
            while next_clip < len(plan) and last_needed[next_clip] <= index:
                clip = plan[next_clip]
                frames = np.stack([cache[i] for i in clip.frame_indices.tolist()])
                next_clip += 1
                _drop_unneeded(cache, plan[next_clip] if next_clip < len(plan) else None)
                yield ClipFrames(clip.index, frames, clip.start_s, clip.end_s)


def iter_clips(
    path: str | os.PathLike[str],
    config: ClipPlanConfig | None = None,
    size: tuple[int, int] | None = None,
    start_clip: int = 0,
    folder_fps: float = 25.0,
) -> Iterator[ClipFrames]:
    """Yield ``(clip_index, frames, start_s, end_s)`` for every clip of a recording.

    A shortcut for ``ClipReader(path, config, size, folder_fps).iter_clips(start_clip)``.

    Args:
        path: Video file or folder of frame images.
        config: Clip plan settings; defaults to ``ClipPlanConfig()``.
        size: ``(width, height)`` to resize to while decoding, or None.
        start_clip: First clip to yield.
        folder_fps: Frame rate assumed for a folder of frame images.

    Raises:
        DataError: The recording cannot be read.
    """
    yield from ClipReader(path, config, size, folder_fps).iter_clips(start_clip)


def read_frames(
    path: str | os.PathLike[str] | VideoInfo,
    indices: np.ndarray | list[int],
    size: tuple[int, int] | None = None,
    folder_fps: float = 25.0,
) -> np.ndarray:
    """Read the given frames of a short clip (training data), decoding only what they need.

    Indices may repeat or come in any order (a looped window); each distinct frame is decoded
    once.

    Args:
        path: Video file, folder of frame images, or a :class:`VideoInfo` already probed.
        indices: Frame indices, 0-based.
        size: ``(width, height)`` to resize to, or None for the stored size.
        folder_fps: Frame rate assumed for a folder of frame images.

    Returns:
        ``(len(indices), H, W, 3)`` uint8 RGB array.

    Raises:
        DataError: The file cannot be read or an index is out of range.
    """
    info = path if isinstance(path, VideoInfo) else probe_video(path, folder_fps=folder_fps)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(indices) == 0:
        raise DataError(f"{info.path}: no frame indices given")
    bad = indices[(indices < 0) | (indices >= info.n_frames)]
    if len(bad):
        raise DataError(
            f"{info.path}: frame {int(bad[0])} requested, recording has {info.n_frames} frames"
        )
    unique, inverse = np.unique(indices, return_inverse=True)
    decoded = [frame for _, frame in iter_frames(info, unique, size)]
    return np.stack(decoded)[inverse]
