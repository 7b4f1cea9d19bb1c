"""Records of labelled, captioned video samples, shared by every data-set reader."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

Parsed = TypeVar("Parsed")


@dataclass(frozen=True)
class VideoSample:
    """One face clip of an expression data set."""

    sample_id: str  # the data set's name for the clip (e.g. "00001")
    path: Path  # video file or folder of frame images
    labels: tuple[str, ...]  # emotion class names; two or more for a compound emotion
    caption: str | None = None  # sample-level description of the face; None if absent
    group: str | None = None  # identity / subject, when known (keeps splits subject-disjoint)

    @property
    def label(self) -> str:
        """The class name; compound labels are joined with ``_`` as MAFW writes them."""
        return "_".join(self.labels)


@dataclass
class ReadReport:
    """What a reader could not use, so that no sample is dropped silently."""

    source: Path  # the annotation file or folder read
    read: int = 0  # samples returned
    skipped: list[str] = field(default_factory=list)  # "line 12: reason" for each sample left out

    def skip(self, where: str, reason: str) -> None:
        """Record a sample that was left out."""
        self.skipped.append(f"{where}: {reason}")

    def summary(self) -> str:
        """One line: how many samples were read and skipped, with the first reasons."""
        text = f"{self.source}: {self.read} samples read, {len(self.skipped)} skipped"
        if self.skipped:
            text += (
                " ("
                + "; ".join(self.skipped[:3])
                + ("; ..." if len(self.skipped) > 3 else "")
                + ")"
            )
        return text


def listed_once(
    lines: Iterable[tuple[int, str]],
    parse: Callable[[str], Parsed],
    clip_name: Callable[[Parsed], str],
    report: ReadReport,
) -> Iterator[tuple[int, Parsed]]:
    """Numbered annotation lines, parsed, each clip once; the rest recorded in ``report``.

    Args:
        lines: (line number, text) pairs.
        parse: a line's fields; raises ValueError, with the reason, for a broken line.
        clip_name: the clip a parsed line names, as error messages show it.
        report: gets a skip for every broken line and every clip listed a second time.
    """
    first_seen: dict[str, int] = {}
    for number, line in lines:
        try:
            parsed = parse(line)
        except ValueError as err:
            report.skip(f"line {number}", str(err))
            continue
        name = clip_name(parsed)
        if name in first_seen:
            report.skip(f"line {number}", f"clip {name} already listed on line {first_seen[name]}")
            continue
        first_seen[name] = number
        yield number, parsed
