"""The expression data sets emoclip-clinic reads, and one entry point to read any of them.

``read_dataset("dfew", root, fold=1)`` checks the name, fold, split and label type against
:data:`DATASETS` and calls the data set's reader. The synthetic sets that
``emoclip-clinic synth mafw|dfew`` writes use the real MAFW and DFEW layouts, so ``mafw`` and
``dfew`` read them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emoclip_clinic.data.afew import read_afew
from emoclip_clinic.data.dfew import read_dfew
from emoclip_clinic.data.ferv39k import read_ferv39k
from emoclip_clinic.data.mafw import MAFW_CLASSES, evaluation_list, mafw_label_set, read_mafw
from emoclip_clinic.data.samples import ReadReport, VideoSample
from emoclip_clinic.errors import ConfigError, DataError

# The common vocabulary of the seven basic emotions, in the order of class indices.
BASIC_CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set offers: its classes, folds and splits."""

    name: str  # registry key, lower case
    title: str  # the data set and its paper
    classes: tuple[str, ...]  # class names, in the order of class indices
    folds: tuple[int, ...]  # cross-validation folds; empty when there is one fixed split
    splits: tuple[str, ...]  # splits that can be read
    eval_split: str  # the split the EmoCLIP paper reports
    label_types: tuple[str, ...] = ("single",)  # "single", and "compound" for MAFW

    def describe(self) -> str:
        """One line: name, classes, folds and the evaluation split."""
        folds = f"folds {self.folds[0]}-{self.folds[-1]}" if self.folds else "no folds"
        return (
            f"{self.name}: {self.title}; {len(self.classes)} classes; {folds}; "
            f"evaluated on {self.eval_split}"
        )


DATASETS: dict[str, DatasetInfo] = {
    "mafw": DatasetInfo(
        "mafw", "MAFW (Liu et al., ACM MM 2022)", MAFW_CLASSES, (1, 2, 3, 4, 5),
        ("train", "test"), "test", ("single", "compound"),
    ),
    "dfew": DatasetInfo(
        "dfew", "DFEW (Jiang et al., ACM MM 2020)", BASIC_CLASSES, (1, 2, 3, 4, 5),
        ("train", "test"), "test",
    ),
    "ferv39k": DatasetInfo(
        "ferv39k", "FERV39K (Wang et al., CVPR 2022)", BASIC_CLASSES, (), ("train", "test"), "test"
    ),
    "afew": DatasetInfo(
        "afew", "AFEW (Dhall et al.); 'test' reads the validation set", BASIC_CLASSES, (),
        ("train", "test"), "test",
    ),
}  # fmt: skip


def get_dataset(name: str) -> DatasetInfo:
    """Return the description of a data set by name (case ignored).

    Raises:
        ConfigError: the name is not a known data set.
    """
    info = DATASETS.get(name.strip().lower())
    if info is None:
        raise ConfigError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return info


def _check_options(info: DatasetInfo, fold: int | None, split: str, label_type: str) -> None:
    if info.folds and fold not in info.folds:
        shown = "none" if fold is None else repr(fold)
        raise ConfigError(
            f"{info.name} fold must be one of {', '.join(map(str, info.folds))}, got {shown}"
        )
    if not info.folds and fold is not None:
        raise ConfigError(f"{info.name} has no folds; got fold {fold!r}, leave it unset")
    if split not in info.splits:
        raise ConfigError(
            f"{info.name} split must be one of {', '.join(info.splits)}, got {split!r}"
        )
    _check_label_type(info, label_type)


def _check_label_type(info: DatasetInfo, label_type: str) -> None:
    if label_type not in info.label_types:
        raise ConfigError(
            f"{info.name} label type must be one of {', '.join(info.label_types)}, "
            f"got {label_type!r}"
        )


def _read_mafw(
    root: Path, fold: int, split: str, label_type: str
) -> tuple[list[VideoSample], ReadReport]:
    """MAFW from the list evaluation reads (:func:`~emoclip_clinic.data.mafw.evaluation_list`)."""
    _, captions = evaluation_list(root, fold, split, label_type)
    return read_mafw(root, fold, split, label_type, captions=captions)


def candidate_classes(name: str, root: str | Path, label_type: str = "single") -> list[str]:
    """The classes a classifier chooses among, the same for every fold and split.

    The data set's classes for single labels; for MAFW's compound labels, every compound that
    its annotation files use (:func:`~emoclip_clinic.data.mafw.mafw_label_set`; 43 in the real
    data set).

    Raises:
        ConfigError: unknown data set or label type.
        DataError: no compound annotation files under ``root``.
    """
    info = get_dataset(name)
    _check_label_type(info, label_type)
    if label_type == "single":
        return list(info.classes)
    return mafw_label_set(root, label_type)


def read_dataset(
    name: str,
    root: str | Path,
    fold: int | None = None,
    split: str = "test",
    label_type: str = "single",
) -> tuple[list[VideoSample], ReadReport]:
    """Read one fold and split of a data set, real or synthetic.

    Args:
        name: "mafw", "dfew", "ferv39k" or "afew" (case ignored).
        root: the data set folder, laid out as its reader's module docstring shows.
        fold: 1-5 for MAFW and DFEW (required); None for FERV39K and AFEW.
        split: "train" or "test" ("test" is AFEW's validation set).
        label_type: "single", or "compound" for MAFW's compound classes.

    Returns:
        The samples, their labels drawn from ``get_dataset(name).classes``, and a report of
        what could not be read.

    Raises:
        ConfigError: unknown data set, or a fold, split or label type it does not have.
        DataError: the root does not exist or lacks the data set's files.
    """
    info = get_dataset(name)
    _check_options(info, fold, split, label_type)
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: {info.name} root folder does not exist")
    match info.name:
        case "mafw" | "dfew" if fold is None:  # pragma: no cover - _check_options refuses it
            raise ConfigError(f"{info.name} needs a fold")
        case "mafw":
            return _read_mafw(root, fold, split, label_type)
        case "dfew":
            return read_dfew(root, fold, split)
        case "ferv39k":
            return read_ferv39k(root, split)
        case _:
            return read_afew(root, split)
