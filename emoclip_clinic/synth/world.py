"""The demo-sized synthetic world: the one place that says how big the demo's data are.

:data:`DEMO_SIZES` is small enough to be made in about two minutes on two cores and big enough
for a tiny CPU model to learn something (1,500 captioned clips; see docs/benchmarks.md): a
captioned MAFW-layout set, a DFEW-layout set in another style, and a cohort of short
interviews. To save rendering time the demo's clips run at 8 fps (13-19 frames each) and its
interviews at 4 fps and 256x192 for 45 s (180 frames); a tiny model samples frames sparsely
anyway: read them with ``downsample=1`` (8 frames cover 1 s of a clip, 2 s of an interview).
The face is still about 70 pixels tall in the interviews.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from emoclip_clinic.progress import ProgressHook
from emoclip_clinic.synth.expression_sets import (
    ClipSetConfig,
    ClipSetSummary,
    make_dfew,
    make_mafw,
)
from emoclip_clinic.synth.interviews import InterviewConfig, InterviewSetSummary, make_interviews


def _demo_mafw() -> ClipSetConfig:
    return ClipSetConfig(n_identities=150, clips_per_identity=10, fps=8.0, seconds=(1.6, 2.4))


def _demo_dfew() -> ClipSetConfig:
    return ClipSetConfig(
        n_identities=20, clips_per_identity=5, style="dfew", fps=8.0, seconds=(1.6, 2.4),
        compound_fraction=0.0,
    )  # fmt: skip


def _demo_interviews() -> InterviewConfig:
    return InterviewConfig(
        n_patients=24, interviews_per_patient=(1, 2), minutes=0.75, width=256, height=192, fps=4.0
    )


@dataclass(frozen=True)
class DemoSizes:
    """Sizes of the three demo data sets."""

    mafw: ClipSetConfig = field(default_factory=_demo_mafw)  # 1,500 captioned clips
    dfew: ClipSetConfig = field(default_factory=_demo_dfew)  # 100 clips, DFEW's imbalance
    interviews: InterviewConfig = field(default_factory=_demo_interviews)  # ~36 recordings


DEMO_SIZES = DemoSizes()


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`make_world` made."""

    mafw: ClipSetSummary  # ROOT/mafw
    dfew: ClipSetSummary  # ROOT/dfew
    interviews: InterviewSetSummary  # ROOT/interviews


def make_world(
    out_dir: str | Path,
    sizes: DemoSizes = DEMO_SIZES,
    *,
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    progress: ProgressHook | None = None,
) -> WorldSummary:
    """Make the three synthetic data sets under ``out_dir/{mafw,dfew,interviews}``.

    Args:
        out_dir: parent folder (created).
        sizes: data-set sizes; the demo's by default.
        seed: the only source of randomness.
        workers: rendering processes.
        overwrite: replace earlier synthetic sets in the three folders.
        progress: progress hook passed to each writer.

    Raises:
        ConfigError: invalid sizes or non-empty target folders without ``overwrite``.
    """
    root = Path(out_dir)
    common = {"seed": seed, "workers": workers, "overwrite": overwrite, "progress": progress}
    return WorldSummary(
        mafw=make_mafw(root / "mafw", sizes.mafw, **common),
        dfew=make_dfew(root / "dfew", sizes.dfew, **common),
        interviews=make_interviews(root / "interviews", sizes.interviews, **common),
    )
