"""AFEW (Dhall et al.): Acted Facial Expressions in the Wild, seven basic emotions, movie clips.

The EmoCLIP paper reports the validation set, since the labels of the test set are not public;
``split="test"`` therefore reads the validation folder, as the EmoCLIP authors' loader does.
AFEW has no annotation file: the emotion is the name of the folder a clip sits in. Two layouts
are read; when both are present the face frames win::

    ROOT/AFEW_Face/                      face-cropped frames (the EmoCLIP authors' layout)
      train/ | validation/
        <Emotion>/<clip>/*.png           one folder of frames per clip

    ROOT/                                the EmotiW release
      Train/ | Val/                      (also train/, validation/, Train_AFEW/, Val_AFEW/)
        <Emotion>/<clip>.avi

Emotion folders are named Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise in the EmotiW
release and Anger, ..., Happiness, Sadness in other copies; both are accepted, ignoring case.
FERV39K uses the same names, so :func:`emotion_class` serves its reader too.
"""

from __future__ import annotations

from pathlib import Path

from emoclip_clinic.data.mafw import VIDEO_SUFFIXES
from emoclip_clinic.data.samples import ReadReport, VideoSample
from emoclip_clinic.errors import ConfigError, DataError

EMOTION_NAMES = {
    "angry": "anger", "anger": "anger",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear",
    "happy": "happiness", "happiness": "happiness",
    "neutral": "neutral",
    "sad": "sadness", "sadness": "sadness",
    "surprise": "surprise", "surprised": "surprise",
}  # fmt: skip
# Lower-cased folder names of each split, frame layout first.
SPLIT_FOLDERS = {
    "train": ("train", "train_afew"),
    "test": ("validation", "val", "val_afew"),
}
SPLIT_ALIASES = {"train": "train", "test": "test", "validation": "test", "val": "test"}
FRAME_FOLDER = "AFEW_Face"


def emotion_class(name: str) -> str | None:
    """Return the class name of an emotion as data sets write it (``Happy`` -> ``happiness``).

    Args:
        name: an emotion folder or label name, in any case.

    Returns:
        One of the seven basic class names, or None when the name is not an emotion.
    """
    return EMOTION_NAMES.get(name.strip().lower())


def split_folder(root: Path, split: str) -> Path:
    """Return the folder holding one split's emotion folders, face frames first.

    Args:
        root: the AFEW folder.
        split: "train", or "test" (also "validation"/"val") for the validation set.

    Raises:
        ConfigError: unknown split.
        DataError: the root is missing or holds no folder for the split.
    """
    if split not in SPLIT_ALIASES:
        raise ConfigError(
            f"AFEW split must be one of {', '.join(map(repr, SPLIT_ALIASES))}, got {split!r}"
        )
    names = SPLIT_FOLDERS[SPLIT_ALIASES[split]]
    if not root.is_dir():
        raise DataError(f"{root}: AFEW root folder does not exist")
    for parent in (root / FRAME_FOLDER, root):
        if not parent.is_dir():
            continue
        by_name = {child.name.lower(): child for child in parent.iterdir() if child.is_dir()}
        for name in names:
            if name in by_name:
                return by_name[name]
    choices = "|".join(names)
    raise DataError(
        f"{root}: no AFEW {split} folder (looked for {FRAME_FOLDER}/<{choices}>/ and "
        f"<{choices}>/, ignoring case)"
    )


def _clips_of(emotion_dir: Path, report: ReadReport) -> dict[str, Path]:
    """Frame folders and video files of one emotion folder, by clip name (folders win)."""
    clips: dict[str, Path] = {}
    for entry in sorted(emotion_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            clips[entry.name] = entry
        elif entry.suffix.lower() in VIDEO_SUFFIXES:
            clips.setdefault(entry.stem, entry)
        else:
            report.skip(f"{emotion_dir.name}/{entry.name}", "neither a frame folder nor a video")
    return clips


def read_afew(root: str | Path, split: str = "test") -> tuple[list[VideoSample], ReadReport]:
    """Read one split of AFEW from its folder tree.

    Args:
        root: the data set folder (see the module docstring for its layouts).
        split: "train", or "test" for the validation set ("validation"/"val" also accepted).

    Returns:
        The samples in folder order, and a report of what could not be used (folders that
        are no emotion, files that are no clip, a clip name found under two emotions).

    Raises:
        ConfigError: unknown split.
        DataError: the root or the split's folder is missing, or it holds no emotion folder.
    """
    folder = split_folder(Path(root), split)
    report = ReadReport(folder)
    samples: list[VideoSample] = []
    emotion_of: dict[str, str] = {}
    emotion_dirs = 0
    for emotion_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        label = emotion_class(emotion_dir.name)
        if label is None:
            report.skip(f"{emotion_dir.name}/", "not one of the seven emotion folders")
            continue
        emotion_dirs += 1
        for name, path in _clips_of(emotion_dir, report).items():
            if name in emotion_of:
                report.skip(f"{emotion_dir.name}/{name}", f"clip also in {emotion_of[name]}/")
                continue
            emotion_of[name] = emotion_dir.name
            samples.append(VideoSample(name, path, (label,)))
    if emotion_dirs == 0:
        raise DataError(
            f"{folder}: no emotion folder (expected Angry/, Disgust/, Fear/, Happy/, Neutral/, "
            "Sad/, Surprise/)"
        )
    report.read = len(samples)
    return samples, report
