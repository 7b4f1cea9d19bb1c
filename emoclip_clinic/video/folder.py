"""Folders of frame images, as MAFW and DFEW ship their clips (``clip_0001/00001.jpg`` ...).

A folder is read like a video whose frames are its images in natural order (``2.png`` before
``10.png``) at a frame rate the caller states, since images carry none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from emoclip_clinic.errors import DataError

FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})  # read as frames

_DIGITS = re.compile(r"(\d+)")


def _natural_key(name: str) -> list[int | str]:
    """Sort key that orders embedded numbers by value: frame2 < frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(name)]


def list_frame_files(folder: Path) -> list[Path]:
    """Return the frame images of a folder in natural order.

    Args:
        folder: Folder holding ``.jpg``/``.jpeg``/``.png``/``.bmp``/``.webp`` frames.

    Returns:
        The image paths, first frame first.

    Raises:
        DataError: The folder holds no frame images.
    """
    files = [
        p
        for p in folder.iterdir()
        if p.suffix.lower() in FRAME_SUFFIXES and p.is_file() and not p.name.startswith(".")
    ]
    if not files:
        raise DataError(
            f"{folder}: folder holds no frame images ({', '.join(sorted(FRAME_SUFFIXES))})"
        )
    return sorted(files, key=lambda p: _natural_key(p.name))


def probe_frame_folder_size(first_frame: Path) -> tuple[int, int]:
    """Read the ``(width, height)`` of a frame from its header only.

    Raises:
        DataError: The image cannot be read.
    """
    try:
        with Image.open(first_frame) as image:
            return image.size
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(f"{first_frame}: cannot read frame image ({err})") from err


def load_frame(file: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Load one frame image as ``(H, W, 3)`` uint8 RGB.

    Args:
        file: Image file.
        size: ``(width, height)`` to resize to (area averaging), or None for the stored size.

    Raises:
        DataError: The image is missing, truncated or not an image.
    """
    try:
        with Image.open(file) as image:
            rgb = image.convert("RGB")
            if size is not None and rgb.size != tuple(size):
                rgb = rgb.resize(tuple(size), Image.Resampling.BOX)
            return np.asarray(rgb, dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(f"{file}: cannot read frame image ({err})") from err


def iter_folder_frames(
    files: Sequence[Path], wanted: np.ndarray, size: tuple[int, int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` for each wanted index, loading only those images.

    Args:
        files: The folder's frames, from :func:`list_frame_files`.
        wanted: Sorted, unique frame indices.
        size: Optional ``(width, height)`` to resize to.

    Raises:
        DataError: An index is out of range or an image cannot be read.
    """
    for index in wanted.tolist():
        if not 0 <= index < len(files):
            folder = files[0].parent if files else "frame folder"
            raise DataError(f"{folder}: frame {index} requested, folder has {len(files)} frames")
        yield index, load_frame(files[index], size)
