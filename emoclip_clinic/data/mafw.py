"""MAFW (Liu et al., ACM MM 2022): multi-modal compound affective data in the wild.

The real data set and ``emoclip-clinic synth mafw`` share this layout, so one reader serves
both::

    ROOT/
      Train & Test Set/            (or Train_Test_Set/, as the EmoCLIP authors renamed it)
        single/ | compound/
          with_caption/ | no_caption/     (an optional _new suffix is accepted)
            set_1/ ... set_5/
              train.txt  test.txt
      data/
        faces/00001/00001.jpg ...   face-cropped frames, one folder per clip (preferred)
        clips/00001.mp4             or the clip as a video file

Annotation files are tab-separated and GBK-encoded. Each line holds the clip file name, the
label (compound labels join two classes with ``_``), and in the ``with_caption`` files a
Chinese and an English caption; the English caption (the last column) is used, and a line
whose last column is Chinese has no English caption.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from emoclip_clinic.data.samples import ReadReport, VideoSample
from emoclip_clinic.errors import DataError

logger = logging.getLogger(__name__)

MAFW_CLASSES = (
    "anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "contempt",
    "anxiety", "helplessness", "disappointment",
)  # fmt: skip
SPLIT_FOLDERS = ("Train & Test Set", "Train_Test_Set")
CAPTION_FOLDERS = {
    True: ("with_caption", "with_caption_new"),
    False: ("no_caption", "no_caption_new"),
}
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg")
_NO_CAPTION = {"", "-", "none", "null"}
_IDEOGRAPH = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def annotation_path(root: Path, fold: int, split: str, label_type: str, captions: bool) -> Path:
    """Return the annotation file of one fold and split, trying the known folder names.

    Raises:
        DataError: bad fold/split/label type, or no annotation file where MAFW keeps it.
    """
    if fold not in range(1, 6):
        raise DataError(f"MAFW fold must be 1-5, got {fold}")
    if split not in ("train", "test"):
        raise DataError(f"MAFW split must be 'train' or 'test', got {split!r}")
    if label_type not in ("single", "compound"):
        raise DataError(f"MAFW label type must be 'single' or 'compound', got {label_type!r}")
    tried = []
    for top in SPLIT_FOLDERS:
        for caption_folder in CAPTION_FOLDERS[captions]:
            path = root / top / label_type / caption_folder / f"set_{fold}" / f"{split}.txt"
            if path.is_file():
                return path
            tried.append(path)
    raise DataError(
        f"{root}: no MAFW annotation file for fold {fold} {split} (looked for {tried[0]})"
    )


def _media_path(root: Path, name: str) -> Path | None:
    stem = Path(name).stem
    frames = root / "data" / "faces" / stem
    if frames.is_dir():
        return frames
    clips = root / "data" / "clips"
    if (clips / name).is_file():
        return clips / name
    for suffix in VIDEO_SUFFIXES:
        if (clips / f"{stem}{suffix}").is_file():
            return clips / f"{stem}{suffix}"
    return None


def evaluation_list(root: Path, fold: int, split: str, label_type: str) -> tuple[Path, bool]:
    """The annotation file that evaluation reads, and whether it holds captions: the
    ``no_caption`` list (every labelled clip, what the EmoCLIP authors evaluate on), or the
    ``with_caption`` one where only that exists.

    Raises:
        DataError: neither exists.
    """
    try:
        return annotation_path(root, fold, split, label_type, captions=False), False
    except DataError:
        return annotation_path(root, fold, split, label_type, captions=True), True


def _parse_line(line: str, captions: bool) -> tuple[str, tuple[str, ...], str | None]:
    columns = [c.strip() for c in line.rstrip("\r\n").split("\t")]
    if len(columns) < 2 or not columns[0] or not columns[1]:
        raise ValueError("expected at least a file name and a label separated by a tab")
    labels = tuple(columns[1].lower().split("_"))
    unknown = [lab for lab in labels if lab not in MAFW_CLASSES]
    if unknown:
        raise ValueError(f"unknown class {unknown[0]!r}")
    caption = columns[-1] if captions and len(columns) >= 3 else None
    if caption is not None and (caption.lower() in _NO_CAPTION or not _is_english(caption)):
        caption = None  # a line whose English caption is missing ends with the Chinese one
    return columns[0], labels, caption


def _is_english(text: str) -> bool:
    """Latin letters, and no more Chinese characters than them (an English caption may hold
    a stray one)."""
    latin = len(_LATIN.findall(text))
    return latin > 0 and len(_IDEOGRAPH.findall(text)) <= latin


def mafw_label_set(root: str | Path, label_type: str) -> list[str]:
    """Every label that the annotation files of ``label_type`` use, over all folds and both
    splits (for compound labels, MAFW's 43 classes), sorted.

    This is the fixed candidate set of compound zero-shot classification: the labels present
    in one fold's test split would change the task from fold to fold. Lines that cannot be
    parsed are left out here; the split's own reader reports them.

    Raises:
        DataError: no annotation file of ``label_type`` at all.
    """
    root, labels, found = Path(root), set(), set()
    for fold in range(1, 6):
        for split in ("train", "test"):
            try:
                path, _ = evaluation_list(root, fold, split, label_type)
            except DataError:
                continue
            found.add((fold, split))
            for line in _decode(path):
                try:
                    labels.add("_".join(_parse_line(line, False)[1]))
                except ValueError:
                    continue
    if not found:
        raise DataError(f"{root}: no MAFW {label_type} annotation files")
    if len(found) < 10:
        logger.warning("%s: MAFW %s lists of %d of the 10 fold splits found; the candidate "
                       "classes are the %d labels they use, which may miss some",
                       root, label_type, len(found), len(labels))  # fmt: skip
    return sorted(labels)


def _decode(path: Path) -> list[str]:
    raw = path.read_bytes()
    for encoding in ("gbk", "utf-8"):
        try:
            return raw.decode(encoding).splitlines()
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path}: annotation file is neither GBK nor UTF-8 text")


def read_mafw(
    root: str | Path,
    fold: int = 1,
    split: str = "train",
    label_type: str = "single",
    captions: bool = True,
) -> tuple[list[VideoSample], ReadReport]:
    """Read one fold and split of MAFW (real or synthetic).

    Args:
        root: the data set folder (see the module docstring for its layout).
        fold: 1-5.
        split: "train" or "test".
        label_type: "single" (11 classes) or "compound" (pairs of classes).
        captions: read the ``with_caption`` files (needed for pretraining).

    Returns:
        The samples, and a report of the lines that could not be used (broken lines, unknown
        classes, clips missing on disk), each with its line number.

    Raises:
        DataError: the annotation file is missing or not text.
    """
    root = Path(root)
    path = annotation_path(root, fold, split, label_type, captions)
    groups = _read_groups(root)
    report = ReadReport(path)
    samples = []
    for number, line in enumerate(_decode(path), start=1):
        if not line.strip():
            continue
        try:
            name, labels, caption = _parse_line(line, captions)
        except ValueError as err:
            report.skip(f"line {number}", str(err))
            continue
        media = _media_path(root, name)
        if media is None:
            report.skip(f"line {number}", f"no frames or video for {name} under {root / 'data'}")
            continue
        stem = Path(name).stem
        samples.append(VideoSample(stem, media, labels, caption, groups.get(stem)))
    report.read = len(samples)
    return samples, report


def _read_groups(root: Path) -> dict[str, str]:
    """Identities of the clips, when the data set provides them (the synthetic set does).

    ``ROOT/identities.txt``: one ``clip<TAB>identity`` per line. Real MAFW has none; its folds
    are used as published.
    """
    path = root / "identities.txt"
    if not path.is_file():
        return {}
    pairs = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {clip.strip(): identity.strip() for clip, identity in pairs}
