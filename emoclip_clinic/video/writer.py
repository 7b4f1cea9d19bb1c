"""Write uint8 RGB frames to an H.264 mp4, one frame at a time.

The writer is used to build synthetic interview recordings of up to two hours, so it streams:
each frame is converted to yuv420p and handed to libx264 at once, and memory stays constant
whatever the length. The file is written under a temporary name in the destination folder and
renamed on a clean close, so an interrupted run never leaves a truncated file under the final
name (a rename within one folder is atomic on POSIX and Windows).

Determinism: the same frames with the same settings give byte-identical files. libx264 is
deterministic for a fixed thread count (only ``--non-deterministic`` opts out), so the thread
count is fixed instead of the default "auto", which depends on the machine's cores; the muxer
runs with ``fflags=+bitexact`` so no library version string or creation time enters the file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.codec.context import Flags

from emoclip_clinic.errors import DataError
from emoclip_clinic.fileio import reserve_hidden


@dataclass(frozen=True)
class EncoderSettings:
    """libx264 settings of :class:`VideoWriter`."""

    crf: int = 23  # constant rate factor: 0 lossless, 18 visually lossless, 28 small files
    # x264 speed preset. 640x480 on 2 cores: ultrafast 190-280 fps, veryfast 80-130 fps
    # with files about half the size.
    preset: str = "ultrafast"
    # Fixed (not "auto") so output is byte-identical on every machine; each count is
    # deterministic, 2 is 10-15 % faster on 2 free cores.
    threads: int = 1
    gop: int = 250  # maximum frames between keyframes (10 s at 25 fps): bounds seek cost


def _as_rate(fps: float | Fraction) -> Fraction:
    """Turn a frame rate into the exact fraction the container stores (29.97 -> 30000/1001)."""
    rate = Fraction(fps).limit_denominator(1001)
    for ntsc in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)):
        if abs(float(rate) - float(ntsc)) < 1e-3:
            return ntsc
    return rate


class VideoWriter:
    """Stream uint8 RGB frames into an H.264 (yuv420p) mp4 file.

    Use it as a context manager; the file appears under ``path`` only when the block ends
    without an exception::

        with VideoWriter(out, fps=25, width=640, height=480) as writer:
            for frame in frames:  # (480, 640, 3) uint8
                writer.write(frame)

    Args:
        path: Destination ``.mp4`` file. Its folder must exist; an existing file is replaced.
        fps: Frame rate; ``23.976`` and ``29.97`` are stored as the NTSC fractions.
        width: Frame width in pixels, even (yuv420p halves the chroma planes).
        height: Frame height in pixels, even.
        settings: Encoder settings; defaults to :class:`EncoderSettings()`.
        variable_rate: Let :meth:`write` take each frame's time (a variable-frame-rate file,
            clock 1/90000 s, as phone recordings are); otherwise frame ``i`` is at ``i / fps``.

    Raises:
        DataError: The folder does not exist or the size is not positive and even.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float | Fraction,
        width: int,
        height: int,
        settings: EncoderSettings | None = None,
        variable_rate: bool = False,
    ) -> None:
        self.path = Path(path)
        self.width = int(width)
        self.height = int(height)
        self.settings = settings or EncoderSettings()
        self.frames_written = 0
        self._last_pts = -1
        self._time_base = Fraction(1, 90000) if variable_rate else None
        if not self.path.parent.is_dir():
            raise DataError(
                f"{self.path}: cannot write video, folder {self.path.parent} is missing"
            )
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise DataError(
                f"{self.path}: frame size {self.width}x{self.height} must be positive and even "
                "for H.264 yuv420p"
            )
        if fps <= 0:
            raise DataError(f"{self.path}: frame rate must be positive, got {fps}")
        self._tmp_path = reserve_hidden(self.path, ".part")
        try:
            self._container = av.open(
                str(self._tmp_path), mode="w", format="mp4", options={"fflags": "+bitexact"}
            )
            self._stream = self._open_stream(_as_rate(fps))
        except Exception:
            self._tmp_path.unlink(missing_ok=True)
            raise
        self._closed = False

    def _open_stream(self, rate: Fraction) -> av.VideoStream:
        s = self.settings
        stream = self._container.add_stream("libx264", rate=rate)
        stream.width = self.width
        stream.height = self.height
        stream.pix_fmt = "yuv420p"
        if self._time_base is not None:
            stream.codec_context.time_base = self._time_base
            stream.time_base = self._time_base
        stream.codec_context.flags |= Flags.bitexact
        stream.codec_context.gop_size = s.gop
        stream.codec_context.thread_type = "NONE" if s.threads == 1 else "AUTO"
        stream.codec_context.thread_count = s.threads
        stream.options = {
            "crf": str(s.crf),
            "preset": s.preset,
            "threads": str(s.threads),
            # Without a fixed lookahead thread count x264 derives one from the threads
            # option on some builds; pin it so output never depends on the machine.
            "x264-params": f"lookahead-threads=1:keyint={s.gop}",
        }
        return stream

    def write(self, frame: np.ndarray, time_s: float | None = None) -> None:
        """Append one frame.

        Args:
            frame: ``(height, width, 3)`` uint8 RGB array.
            time_s: Presentation time in seconds, only for a ``variable_rate`` writer; times
                must increase.

        Raises:
            DataError: The frame has the wrong shape or dtype, the time does not increase,
                or the writer is closed.
        """
        if self._closed:
            raise DataError(f"{self.path}: write after close")
        expected = (self.height, self.width, 3)
        if frame.shape != expected or frame.dtype != np.uint8:
            raise DataError(
                f"{self.path}: frame {self.frames_written} is {frame.dtype}{frame.shape}, "
                f"expected uint8{expected} RGB"
            )
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        video_frame.pts = self._next_pts(time_s)
        if self._time_base is not None:
            video_frame.time_base = self._time_base
        self._container.mux(self._stream.encode(video_frame))
        self.frames_written += 1

    def _next_pts(self, time_s: float | None) -> int:
        if time_s is None:
            pts = self._last_pts + 1 if self._time_base is None else None
        elif self._time_base is None:
            raise DataError(f"{self.path}: frame times need VideoWriter(..., variable_rate=True)")
        else:
            pts = round(time_s / self._time_base)
        if pts is None:
            raise DataError(f"{self.path}: a variable_rate writer needs the time of every frame")
        if pts <= self._last_pts:
            raise DataError(
                f"{self.path}: frame {self.frames_written} at {time_s} s does not come after "
                "the previous frame"
            )
        self._last_pts = pts
        return pts

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it to its final name.

        Returns:
            The path of the finished file.

        Raises:
            DataError: No frame was written (an mp4 without frames is not a video).
        """
        if self._closed:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise DataError(f"{self.path}: no frames were written, file not created")
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
        except Exception:
            self.abort()
            raise
        self._closed = True
        os.replace(self._tmp_path, self.path)
        return self.path

    def abort(self) -> None:
        """Stop writing and delete the temporary file; the final path is left untouched."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._container.close()
        self._tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray | list[np.ndarray],
    fps: float | Fraction,
    settings: EncoderSettings | None = None,
) -> Path:
    """Write a whole sequence of frames at once (convenience for short clips and tests).

    Args:
        path: Destination ``.mp4`` file.
        frames: ``(N, H, W, 3)`` uint8 array or a non-empty list of ``(H, W, 3)`` arrays.
        fps: Frame rate.
        settings: Encoder settings.

    Returns:
        The path of the finished file.

    Raises:
        DataError: No frames, or frames of the wrong shape or dtype.
    """
    if len(frames) == 0:
        raise DataError(f"{path}: no frames to write")
    height, width = frames[0].shape[:2]
    with VideoWriter(path, fps, width, height, settings) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path
