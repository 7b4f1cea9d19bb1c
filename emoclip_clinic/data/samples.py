"""Records of labelled, captioned video samples, shared by every data-set reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
