"""Read what a recording contains (frames, rate, size, per-frame times) without decoding it all.

The frame index is built from the container's packets (one demuxing pass, no decoding: about
2 s per hour of 640x480 H.264 here): every video packet's presentation timestamp, sorted, is one
frame. These are the timestamps that the decoder stamps on the frames it returns, so the reader
can tell exactly which frame it holds, also with a variable frame rate, where ``t * avg_fps``
was up to 9 frames off (shared/notes/ecosystem.md).

decord, PyAV and FFmpeg raise errors such as ``Invalid data found when processing input`` or
``av_read_frame failed with 1094995529``; :func:`probe_video` turns every such failure into one
:class:`~emoclip_clinic.errors.DataError` that names the file and the problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from emoclip_clinic.errors import DataError
from emoclip_clinic.video.folder import list_frame_files, probe_frame_folder_size


@dataclass(frozen=True)
class VideoInfo:
    """What a recording or a folder of frame images contains."""

    path: Path  # the file or folder probed
    n_frames: int  # frames that decode (packets in the file, images in the folder)
    fps: float  # average frame rate (frames per second)
    duration_s: float  # end time of the last frame, seconds from the start of the file
    width: int  # frame width in pixels, as stored
    height: int  # frame height in pixels, as stored
    codec: str | None  # FFmpeg codec name ("h264", "mpeg1video"); "images" for a frame folder
    timestamps: np.ndarray = field(repr=False, compare=False)  # (n_frames, 2) start/end, seconds
    pts: np.ndarray | None = field(default=None, repr=False, compare=False)  # sorted stream pts
    time_base: Fraction | None = None  # seconds per pts unit; None for a frame folder
    keyframes: np.ndarray | None = field(default=None, repr=False, compare=False)  # frame indices
    is_frame_folder: bool = False  # True for a folder of numbered images (MAFW style)


def probe_video(path: str | os.PathLike[str], folder_fps: float = 25.0) -> VideoInfo:
    """Describe a video file or a folder of frame images.

    Args:
        path: A video file any FFmpeg build reads (mp4, mkv, avi, mpg, ...) or a folder of
            ``.jpg``/``.png`` frames named in order (``00001.jpg``, ``2.png``, ...).
        folder_fps: Frame rate to assume for a frame folder, which stores none.

    Returns:
        The recording's :class:`VideoInfo`, with per-frame times.

    Raises:
        DataError: The path is missing, empty, a still image, not a video, has no video
            stream or no frames, is truncated, or its first frame cannot be decoded.
    """
    path = Path(path)
    if path.is_dir():
        return _probe_folder(path, folder_fps)
    if not path.exists():
        raise DataError(f"{path}: video file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: video file is empty (0 bytes)")
    try:
        with av.open(str(path)) as container:
            info = _probe_container(path, container)
        _check_first_frame(path, info)
    except av.error.FFmpegError as err:
        raise DataError(f"{path}: not a readable video ({_ffmpeg_reason(err)})") from err
    return info


def _ffmpeg_reason(err: Exception) -> str:
    """FFmpeg's message without the errno and file name it repeats."""
    return getattr(err, "strerror", None) or str(err)


def _probe_container(path: Path, container: av.container.InputContainer) -> VideoInfo:
    fmt = container.format.name
    if fmt == "image2" or fmt.endswith("_pipe"):
        raise DataError(
            f"{path}: is a still image ({fmt}), not a video; put frames in a folder instead"
        )
    if not container.streams.video:
        raise DataError(f"{path}: has no video stream")
    stream = container.streams.video[0]
    if stream.width <= 0 or stream.height <= 0:
        raise DataError(f"{path}: video stream has no frame size (corrupt header)")
    pts, last_duration, key_pts = _packet_pts(path, container, stream)
    if len(pts) == 0:
        raise DataError(f"{path}: contains no video frames")
    declared = stream.frames
    if fmt.startswith("mov") and declared > len(pts):
        raise DataError(
            f"{path}: file is truncated (header lists {declared} frames, only {len(pts)} present)"
        )
    time_base = stream.time_base or Fraction(1, 90000)
    offset = container.start_time / av.time_base if container.start_time else 0.0
    starts = pts.astype(np.float64) * float(time_base) - offset
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else _fps_from_times(starts)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = starts[-1] + (last_duration * float(time_base) if last_duration else 1.0 / fps)
    return VideoInfo(
        path=path,
        n_frames=len(pts),
        fps=fps,
        duration_s=float(ends[-1]),
        width=stream.width,
        height=stream.height,
        codec=stream.codec_context.name,
        timestamps=np.stack([starts, ends], axis=1),
        pts=pts,
        time_base=time_base,
        keyframes=np.searchsorted(pts, key_pts),
    )


def _packet_pts(
    path: Path, container: av.container.InputContainer, stream: av.VideoStream
) -> tuple[np.ndarray, int, np.ndarray]:
    """Sorted presentation timestamps of the frames, the last frame's duration, keyframe pts.

    Packets flagged ``discard`` (frames an mp4 edit list cuts away) never come out of the
    decoder, so they are not frames. A packet without pts falls back to its dts.
    """
    stamps: list[int] = []
    durations: list[int] = []
    key_stamps: list[int] = []
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None:
            raise DataError(f"{path}: video packets carry no timestamps")
        stamps.append(stamp)
        durations.append(packet.duration or 0)
        if packet.is_keyframe:
            key_stamps.append(stamp)
    if not stamps:
        return np.zeros(0, dtype=np.int64), 0, np.zeros(0, dtype=np.int64)
    last_duration = durations[int(np.argmax(stamps))]
    pts = np.unique(np.asarray(stamps, dtype=np.int64))  # sorted; duplicate pts are one frame
    return pts, last_duration, np.unique(np.asarray(key_stamps, dtype=np.int64))


def _fps_from_times(starts: np.ndarray) -> float:
    if len(starts) < 2 or starts[-1] <= starts[0]:
        return 25.0  # a single frame has no rate; any positive value keeps the times sane
    return float((len(starts) - 1) / (starts[-1] - starts[0]))


def _check_first_frame(path: Path, info: VideoInfo) -> None:
    """Decode the first frame, so that an unsupported or garbled stream fails at probe time."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        for _frame in container.decode(stream):
            return
    raise DataError(f"{path}: no frame of its {info.codec} stream can be decoded")


def _probe_folder(path: Path, fps: float) -> VideoInfo:
    files = list_frame_files(path)
    width, height = probe_frame_folder_size(files[0])
    starts = np.arange(len(files), dtype=np.float64) / fps
    return VideoInfo(
        path=path,
        n_frames=len(files),
        fps=float(fps),
        duration_s=len(files) / fps,
        width=width,
        height=height,
        codec="images",
        timestamps=np.stack([starts, starts + 1.0 / fps], axis=1),
        is_frame_folder=True,
    )
