"""FERV39K (Wang et al., CVPR 2022): 38,935 clips from 22 scenes, seven basic emotions.

The EmoCLIP paper reports the test set. Two layouts are read; when both hold the requested
split, the official one wins::

    ROOT/                                     the official release
      2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/*.jpg
      4_setups/All_scenes/train_All.csv  test_All.csv

    ROOT/                                     as the EmoCLIP authors converted it
      train_image.txt  test_image.txt
      2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/*.jpg

Official lines read ``Action/Sad/0010 Sad``: the clip's path under ``2_ClipsforFaceCrop`` and
its emotion (Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise); a comma or tab may separate
them and a header line is skipped. The authors' lines read ``<path ending in
Scene/Emotion/clip> <n_frames> <label>`` with the label 0-6 in the order of
:data:`FERV39K_ORDER`. The clips folder may be nested once more
(``2_ClipsforFaceCrop/2_ClipsforFaceCrop/``, as its archive unpacks), and a clip may be a video
file ``<clip>.mp4`` instead of a frame folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from emoclip_clinic.data.afew import emotion_class
from emoclip_clinic.data.dfew import annotation_lines
from emoclip_clinic.data.mafw import VIDEO_SUFFIXES
from emoclip_clinic.data.samples import ReadReport, VideoSample, listed_once
from emoclip_clinic.errors import ConfigError, DataError

# The EmoCLIP authors' label order: label k of their ``<split>_image.txt`` is FERV39K_ORDER[k].
FERV39K_ORDER = ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear")
SPLITS = ("train", "test")
CLIPS_FOLDER = "2_ClipsforFaceCrop"
_SEPARATORS = re.compile(r"[,\t ]+")


def annotation_path(root: Path, split: str) -> tuple[Path, bool]:
    """Return the split's list of clips, and whether it is the official CSV.

    Raises:
        ConfigError: bad split.
        DataError: the root is missing or holds neither layout's file for this split.
    """
    if split not in SPLITS:
        raise ConfigError(f"FERV39K split must be 'train' or 'test', got {split!r}")
    if not root.is_dir():
        raise DataError(f"{root}: FERV39K root folder does not exist")
    official = root / "4_setups" / "All_scenes" / f"{split}_All.csv"
    if official.is_file():
        return official, True
    authors = root / f"{split}_image.txt"
    if authors.is_file():
        return authors, False
    raise DataError(
        f"{root}: no FERV39K annotation file for the {split} split "
        f"(looked for {official} and {authors})"
    )


def clips_folder(root: Path) -> Path:
    """Return the folder of ``<Scene>/<Emotion>/<clip>`` clips.

    Raises:
        DataError: there is no ``2_ClipsforFaceCrop`` folder.
    """
    folder = root / CLIPS_FOLDER
    if (folder / CLIPS_FOLDER).is_dir():
        return folder / CLIPS_FOLDER
    if folder.is_dir():
        return folder
    raise DataError(f"{root}: no FERV39K clips folder (looked for {folder})")


def _clip_parts(path: str) -> tuple[str, str, str]:
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if len(parts) < 3:
        raise ValueError(f"path {path!r} does not end in <Scene>/<Emotion>/<clip>")
    scene, emotion, clip = parts[-3:]
    return scene, emotion, clip


def _parse_official(line: str) -> tuple[tuple[str, str, str], str]:
    fields = _SEPARATORS.split(line.strip())
    if len(fields) < 2:
        raise ValueError("expected '<Scene>/<Emotion>/<clip> <Emotion>'")
    label = emotion_class(fields[1])
    if label is None:
        raise ValueError(f"unknown emotion {fields[1]!r}")
    return _clip_parts(fields[0]), label


def _parse_authors(line: str) -> tuple[tuple[str, str, str], str]:
    fields = line.rsplit(maxsplit=2)  # the path may hold spaces, the two numbers cannot
    if len(fields) < 3:
        raise ValueError("expected '<path> <n_frames> <label>'")
    try:
        int(fields[1])
        label = int(fields[2])
    except ValueError:
        raise ValueError(
            f"frame count {fields[1]!r} or label {fields[2]!r} is no integer"
        ) from None
    if not 0 <= label < len(FERV39K_ORDER):
        raise ValueError(f"label {label} is outside 0-6")
    return _clip_parts(fields[0]), FERV39K_ORDER[label]


def _is_header(line: str) -> bool:
    """A first line such as ``video,label``: no path, and no emotion in the second field."""
    fields = _SEPARATORS.split(line.strip())
    return "/" not in fields[0] and (len(fields) < 2 or emotion_class(fields[1]) is None)


def _clip_path(folder: Path, parts: tuple[str, str, str]) -> Path | None:
    clip = folder.joinpath(*parts)
    if clip.is_dir():
        return clip
    for suffix in VIDEO_SUFFIXES:
        if clip.with_name(clip.name + suffix).is_file():
            return clip.with_name(clip.name + suffix)
    return None


def read_ferv39k(root: str | Path, split: str = "test") -> tuple[list[VideoSample], ReadReport]:
    """Read one split of FERV39K (official release or the EmoCLIP authors' layout).

    Args:
        root: the data set folder (see the module docstring for its layouts).
        split: "train" or "test".

    Returns:
        The samples in file order, their ids ``Scene_Emotion_clip`` as the authors key them,
        and a report of the lines that could not be used (broken lines, unknown emotions or
        labels, clips listed twice or missing on disk), each with its line number.

    Raises:
        ConfigError: bad split.
        DataError: the root, the annotation file or the clips folder is missing.
    """
    root = Path(root)
    path, official = annotation_path(root, split)
    folder = clips_folder(root)
    parse = _parse_official if official else _parse_authors
    lines = annotation_lines(path)
    if official and lines and _is_header(lines[0][1]):
        lines = lines[1:]
    report = ReadReport(path)
    samples: list[VideoSample] = []
    for number, (parts, label) in listed_once(lines, parse, lambda row: "/".join(row[0]), report):
        sample_id = "_".join(parts)
        media = _clip_path(folder, parts)
        if media is None:
            report.skip(f"line {number}", f"no frames or video for {'/'.join(parts)} in {folder}")
            continue
        samples.append(VideoSample(sample_id, media, (label,)))
    report.read = len(samples)
    return samples, report
