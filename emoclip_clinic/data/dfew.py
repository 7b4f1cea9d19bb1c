"""DFEW (Jiang et al., ACM MM 2020): 16,372 movie clips, seven basic emotions, five folds.

Two layouts are read; when both hold the requested fold, the official one wins::

    ROOT/                                       the official release
      EmoLabel_DataSplit/
        train(single-labeled)/set_1.csv ...     (train/set_<k>.csv also accepted)
        test(single-labeled)/set_1.csv ...
      Clip/
        clip_224x224/00001/*.jpg                face frames, one folder per clip
        clip_224x224_16f/00001/*.jpg            or 16 frames per clip
        clip_224x224_avi/00001.avi              or the clip as a video

    ROOT/                                       as the EmoCLIP authors converted it
      DFEW_set_1_train.txt ... DFEW_set_5_test.txt
      DFEW_Frame_Face/00001/*.jpg

The official CSVs have a ``video_name,label`` header; ``video_name`` is the clip number (its
folder name zero-pads it to 5 digits) and ``label`` is 1-7 in the order of :data:`DFEW_ORDER`;
0 marks a clip with no single label, which is skipped and reported. The authors' files hold
space-separated ``<path ending in the clip id> <n_frames> <label>`` lines, the label 0-6 in the
same order. In any clip folder a clip may also be a video file ``<id>.mp4``/``<id>.avi``; frame
folders are preferred.
"""

from __future__ import annotations

import csv
from pathlib import Path

from emoclip_clinic.data.mafw import VIDEO_SUFFIXES
from emoclip_clinic.data.samples import ReadReport, VideoSample, listed_once
from emoclip_clinic.errors import ConfigError, DataError

# DFEW's label order: official label k (1-7) is DFEW_ORDER[k - 1], the authors' label k is [k].
DFEW_ORDER = ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear")
FOLDS = (1, 2, 3, 4, 5)
SPLITS = ("train", "test")
LABEL_FOLDERS = {
    "train": ("train(single-labeled)", "train"),
    "test": ("test(single-labeled)", "test"),
}
# Folders that may hold the clips, official first; the authors' layout looks in its own first.
OFFICIAL_CLIP_FOLDERS = (
    "Clip/clip_224x224", "Clip/clip_224x224_16f", "Clip/clip_224x16f", "Clip/clip_224x224_avi",
)  # fmt: skip
EMOCLIP_CLIP_FOLDER = "DFEW_Frame_Face"


def annotation_path(root: Path, fold: int, split: str) -> tuple[Path, bool]:
    """Return the annotation file of one fold and split, and whether it is the official CSV.

    Raises:
        ConfigError: bad fold or split.
        DataError: the root is missing or holds neither layout's file for this fold and split.
    """
    if fold not in FOLDS:
        raise ConfigError(f"DFEW fold must be one of 1-5, got {fold!r}")
    if split not in SPLITS:
        raise ConfigError(f"DFEW split must be 'train' or 'test', got {split!r}")
    if not root.is_dir():
        raise DataError(f"{root}: DFEW root folder does not exist")
    official = [root / "EmoLabel_DataSplit" / f / f"set_{fold}.csv" for f in LABEL_FOLDERS[split]]
    for path in official:
        if path.is_file():
            return path, True
    authors = root / f"DFEW_set_{fold}_{split}.txt"
    if authors.is_file():
        return authors, False
    raise DataError(
        f"{root}: no DFEW annotation file for fold {fold} {split} "
        f"(looked for {official[0]} and {authors})"
    )


def _clip_folders(root: Path, official: bool) -> list[Path]:
    names = (*OFFICIAL_CLIP_FOLDERS, EMOCLIP_CLIP_FOLDER)
    if not official:
        names = (EMOCLIP_CLIP_FOLDER, *OFFICIAL_CLIP_FOLDERS)
    folders = [root / name for name in names if (root / name).is_dir()]
    if not folders:
        raise DataError(f"{root}: no DFEW clip folder (looked for {', '.join(names)})")
    return folders


def _clip_path(folders: list[Path], clip_id: str) -> Path | None:
    """The clip's frame folder, or else its video file, in the first folder that has one."""
    for folder in folders:
        if (folder / clip_id).is_dir():
            return folder / clip_id
    for folder in folders:
        for suffix in VIDEO_SUFFIXES:
            if (folder / f"{clip_id}{suffix}").is_file():
                return folder / f"{clip_id}{suffix}"
    return None


def _clip_id(text: str) -> str:
    """``7`` / ``00007`` / ``00007.mp4`` / ``/any/path/00007`` -> ``00007``."""
    name = Path(text.strip().replace("\\", "/").rstrip("/"))
    stem = name.stem if name.suffix.lower() in VIDEO_SUFFIXES else name.name
    if not stem.isdigit():
        raise ValueError(f"{text.strip()!r} is not a DFEW clip number")
    return stem.zfill(5)


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text.strip()!r} is not an integer") from None


def _parse_official(line: str) -> tuple[str, str]:
    row = next(csv.reader([line]))
    if len(row) < 2 or not row[0].strip() or not row[1].strip():
        raise ValueError("expected 'video_name,label'")
    clip_id, label = _clip_id(row[0]), _integer(row[1], "label")
    if label == 0:
        raise ValueError(f"clip {clip_id} has label 0 (not single-labelled)")
    if not 1 <= label <= len(DFEW_ORDER):
        raise ValueError(f"label {label} is outside 1-7")
    return clip_id, DFEW_ORDER[label - 1]


def _parse_authors(line: str) -> tuple[str, str]:
    fields = line.rsplit(maxsplit=2)  # the path may hold spaces, the two numbers cannot
    if len(fields) < 3:
        raise ValueError("expected '<path> <n_frames> <label>'")
    clip_id = _clip_id(fields[0])
    _integer(fields[1], "frame count")
    label = _integer(fields[2], "label")
    if not 0 <= label < len(DFEW_ORDER):
        raise ValueError(f"label {label} is outside 0-6")
    return clip_id, DFEW_ORDER[label]


def _is_header(line: str) -> bool:
    """``video_name,label``: a first line whose first two fields hold no digit."""
    row = next(csv.reader([line]))
    return len(row) >= 2 and not any(char.isdigit() for char in row[0] + row[1])


def annotation_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines of a text annotation file with their 1-based numbers (CRLF accepted).

    Raises:
        DataError: the file is not UTF-8 text.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: annotation file is not UTF-8 text ({err.reason})") from None
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def read_dfew(
    root: str | Path, fold: int = 1, split: str = "test"
) -> tuple[list[VideoSample], ReadReport]:
    """Read one fold and split of DFEW (official release or the EmoCLIP authors' layout).

    Args:
        root: the data set folder (see the module docstring for its layouts).
        fold: 1-5.
        split: "train" or "test".

    Returns:
        The samples in file order, and a report of the lines that could not be used (broken
        lines, label 0 or out of range, clips listed twice or missing on disk), each with its
        line number.

    Raises:
        ConfigError: bad fold or split.
        DataError: the root, the annotation file or every clip folder is missing.
    """
    root = Path(root)
    path, official = annotation_path(root, fold, split)
    folders = _clip_folders(root, official)
    parse = _parse_official if official else _parse_authors
    lines = annotation_lines(path)
    if official and lines and _is_header(lines[0][1]):
        lines = lines[1:]
    report = ReadReport(path)
    samples: list[VideoSample] = []
    for number, (clip_id, label) in listed_once(lines, parse, lambda row: row[0], report):
        media = _clip_path(folders, clip_id)
        if media is None:
            where = ", ".join(str(f.relative_to(root)) for f in folders)
            report.skip(f"line {number}", f"no frames or video for clip {clip_id} in {where}")
            continue
        samples.append(VideoSample(clip_id, media, (label,)))
    report.read = len(samples)
    return samples, report
