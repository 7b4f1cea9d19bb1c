"""Rating scales as data: a registry of JSON scale files and typed views of them.

A scale file (``protocols/scales/<name>.json``) holds a ``_meta`` block (name, citation, licence
note), its ``items`` (id, name, range, a paraphrased definition, what a video could show, and
human inter-rater figures with sources) and its ``total`` (the sum of the items). The registry
finds the shipped files, folders named in ``EMOCLIP_CLINIC_SCALE_DIRS`` (``os.pathsep``-separated)
and folders or files added with :func:`add_scale_path`; a later entry overrides an earlier one of
the same name, so users can replace a shipped scale.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.resources import protocols_dir

SCALE_DIRS_ENV = "EMOCLIP_CLINIC_SCALE_DIRS"
# Column names of the labels CSV that an item id must not take.
RESERVED_IDS = frozenset({"patient_id", "interview_id", "recording", "line"})
OBSERVABILITY = ("yes", "partly", "no")

_extra_paths: list[Path] = []
Number = TypeVar("Number", float, np.ndarray)

__all__ = [
    "SCALE_DIRS_ENV",
    "ReliabilityFigure",
    "Scale",
    "ScaleItem",
    "ScaleTotal",
    "VideoSignal",
    "add_scale_path",
    "list_scales",
    "load_scale",
]


@dataclass(frozen=True)
class ReliabilityFigure:
    """A published human inter-rater agreement figure for an item or total."""

    statistic: str  # e.g. "ICC", "weighted kappa"
    value: float | None  # the figure; None where the exact number was not verified
    reported_range: tuple[float, float] | None  # a range the source gives instead of one value
    source: str  # full reference of the publication
    note: str  # sample, design and caveats


@dataclass(frozen=True)
class VideoSignal:
    """What a recording of the interview can show of an item."""

    observable: str  # "yes", "partly" or "no"
    signal: str  # the facial or behavioural signal, or why it is not observable


@dataclass(frozen=True)
class ScaleItem:
    """One item of a rating scale."""

    id: str  # column name in labels files, e.g. "N1"
    name: str  # short name, e.g. "Blunted affect"
    min: float  # lowest rating
    max: float  # highest rating
    definition: str  # one-sentence paraphrase (not the official text)
    video_signal: VideoSignal  # what a video could show
    inter_rater: tuple[ReliabilityFigure, ...]  # human agreement figures from the literature


@dataclass(frozen=True)
class ScaleTotal:
    """The total score of a scale: the sum of its items."""

    id: str  # column name in labels files, e.g. "total"
    name: str  # display name
    min: float  # lowest total (sum of item minima)
    max: float  # highest total (sum of item maxima)
    description: str  # how it is computed, in words
    inter_rater: tuple[ReliabilityFigure, ...]  # human agreement figures from the literature


@dataclass(frozen=True)
class Scale:
    """A rating scale loaded from a protocol file."""

    name: str  # registry name (file stem), e.g. "panss_negative"
    title: str  # human-readable name from ``_meta.name``
    items: tuple[ScaleItem, ...]  # items in file order
    total: ScaleTotal  # the summed total
    meta: Mapping[str, Any]  # the ``_meta`` block as written (citation, licence, notes)
    path: Path  # the file it was read from

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item ids in file order."""
        return tuple(item.id for item in self.items)

    def item(self, item_id: str) -> ScaleItem:
        """Return the item with this id.

        Raises:
            ConfigError: If the scale has no such item.
        """
        for item in self.items:
            if item.id == item_id:
                return item
        raise ConfigError(
            f"scale '{self.name}' has no item '{item_id}' ({', '.join(self.item_ids)})"
        )

    @property
    def item_range(self) -> tuple[float, float]:
        """The (min, max) shared by every item.

        Raises:
            ConfigError: If the items do not share one range.
        """
        ranges = {(item.min, item.max) for item in self.items}
        if len(ranges) != 1:
            raise ConfigError(
                f"items of scale '{self.name}' have different ranges: {sorted(ranges)}"
            )
        return ranges.pop()

    def total_to_item_range(self, total: Number) -> Number:
        """Map totals linearly onto the item range (the model is trained on this scale).

        Args:
            total: A total or an array of totals, in the total's range.

        Returns:
            The same values mapped so that total.min -> item min and total.max -> item max.
        """
        low, high = self.item_range
        return low + (total - self.total.min) * (high - low) / (self.total.max - self.total.min)

    def item_range_to_total(self, value: Number) -> Number:
        """Map values on the item range back to the total's range (inverse of the above)."""
        low, high = self.item_range
        return self.total.min + (value - low) * (self.total.max - self.total.min) / (high - low)


def add_scale_path(path: str | Path) -> None:
    """Register a scale file or a folder of scale files for this process.

    Raises:
        ConfigError: If the path does not exist.
    """
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise ConfigError(f"scale file or folder not found: {resolved}")
    if resolved not in _extra_paths:
        _extra_paths.append(resolved)


def _scan() -> dict[str, Path]:
    """Map scale names to files; later locations override earlier ones (user over shipped)."""
    env = [Path(p) for p in os.environ.get(SCALE_DIRS_ENV, "").split(os.pathsep) if p]
    found: dict[str, Path] = {}
    for location in [protocols_dir() / "scales", *env, *_extra_paths]:
        if location.is_file():
            found[location.stem] = location
        elif location.is_dir():
            found.update({path.stem: path for path in sorted(location.glob("*.json"))})
    return found


def list_scales() -> list[str]:
    """Return the names of every registered scale, sorted."""
    return sorted(_scan())


def load_scale(name_or_path: str | Path) -> Scale:
    """Return a registered scale by name, or read one from a JSON file path.

    Raises:
        ConfigError: If the name is unknown or the file is unreadable or invalid.
    """
    path = Path(name_or_path).expanduser()
    if path.suffix == ".json":
        if not path.is_file():
            raise ConfigError(f"scale file not found: {path}")
        return _read_scale_file(path)
    registry = _scan()
    if str(name_or_path) not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise ConfigError(f"unknown scale '{name_or_path}' (known: {known})")
    return _read_scale_file(registry[str(name_or_path)])


def _read_scale_file(path: Path) -> Scale:
    """Parse and validate one scale file; every error names the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot read scale file {path}: {error}") from None
    try:
        return _scale_from_dict(data, path)
    except ConfigError as error:
        raise ConfigError(f"scale file {path}: {error}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"scale file {path}: missing or malformed field ({error!r})") from None


def _figures(entries: Any, where: str) -> tuple[ReliabilityFigure, ...]:
    figures = []
    for entry in entries or ():
        value, reported = entry.get("value"), entry.get("reported_range")
        if value is not None and not (isinstance(value, int | float) and -1 <= value <= 1):
            raise ConfigError(f"{where}: inter-rater value {value!r} is not a number in [-1, 1]")
        if not entry.get("source"):
            raise ConfigError(f"{where}: every inter-rater figure needs a source")
        figures.append(
            ReliabilityFigure(
                statistic=str(entry["statistic"]),
                value=None if value is None else float(value),
                reported_range=None
                if reported is None
                else (float(reported[0]), float(reported[1])),
                source=str(entry["source"]),
                note=str(entry.get("note", "")),
            )
        )
    return tuple(figures)


def _range(block: Mapping[str, Any], where: str) -> tuple[float, float]:
    low, high = float(block["range"]["min"]), float(block["range"]["max"])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(f"{where}: range min {low} must be below max {high}")
    return low, high


def _item_from_dict(entry: Mapping[str, Any]) -> ScaleItem:
    item_id = str(entry["id"]).strip()
    if not item_id or item_id in RESERVED_IDS:
        raise ConfigError(
            f"item id {item_id!r} is empty or reserved ({', '.join(sorted(RESERVED_IDS))})"
        )
    low, high = _range(entry, f"item {item_id}")
    signal = entry["video_signal"]
    if signal["observable"] not in OBSERVABILITY:
        raise ConfigError(f"item {item_id}: video_signal.observable must be one of {OBSERVABILITY}")
    return ScaleItem(
        id=item_id,
        name=str(entry["name"]),
        min=low,
        max=high,
        definition=str(entry["definition"]),
        video_signal=VideoSignal(observable=signal["observable"], signal=str(signal["signal"])),
        inter_rater=_figures(entry.get("inter_rater"), f"item {item_id}"),
    )


def _scale_from_dict(data: Mapping[str, Any], path: Path) -> Scale:
    meta = data["_meta"]
    items = tuple(_item_from_dict(entry) for entry in data["items"])
    if not items:
        raise ConfigError("the scale has no items")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"duplicate item ids in {ids}")
    block = data["total"]
    total_id = str(block["id"]).strip()
    if total_id in ids or total_id in RESERVED_IDS:
        raise ConfigError(f"total id '{total_id}' clashes with an item id or a reserved column")
    if block.get("computation", "sum") != "sum":
        raise ConfigError(
            f"total computation '{block['computation']}' is not supported (only 'sum')"
        )
    low, high = _range(block, "total")
    expected = (sum(i.min for i in items), sum(i.max for i in items))
    if (low, high) != expected:
        raise ConfigError(
            f"total range {low:g}-{high:g} is not the sum of the item ranges "
            f"{expected[0]:g}-{expected[1]:g}"
        )
    total = ScaleTotal(
        id=total_id,
        name=str(block.get("name", total_id)),
        min=low,
        max=high,
        description=str(block.get("description", "sum of the items")),
        inter_rater=_figures(block.get("inter_rater"), "total"),
    )
    title = str(meta.get("name", path.stem))
    return Scale(path.stem, title, items, total, MappingProxyType(dict(meta)), path)
