"""Shared plumbing of the synthetic data-set writers: seeds, output folders, parallel work.

Every random draw of a synthetic data set comes from a generator seeded by the user's seed and
a fixed path of integers (data set, purpose, index), so each clip or interview can be made in
any process and in any order and still come out the same; the worker count never changes the
output. Text outputs are written under a temporary name and renamed, like the videos.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.provenance import package_versions, sha256_file
from emoclip_clinic.resources import protocols_dir

Job = TypeVar("Job")
Result = TypeVar("Result")

# decord 0.6 decodes frames of these widths with a wrong channel count (its row padding); the
# writers refuse them so that every synthetic file decodes with decord (checked 16-700 px).
DECORD_BAD_WIDTHS = (16, 24, 48, 72)

# Seed streams: the first integer after the user's seed; they keep data sets apart.
STREAM_MAFW, STREAM_DFEW, STREAM_COHORT, STREAM_INTERVIEW = 1, 2, 3, 4


def rng_for(seed: int, *path: int) -> np.random.Generator:
    """A generator for one purpose: ``seed`` plus a path of non-negative integers."""
    return np.random.default_rng([int(seed), *(int(p) for p in path)])


def check_seed(seed: int) -> int:
    """Return the seed as an int.

    Raises:
        ConfigError: the seed is negative or not an integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def prepare_out_dir(out_dir: str | Path, generated: Sequence[str], overwrite: bool) -> Path:
    """Create the output folder; refuse a non-empty one unless ``overwrite``.

    With ``overwrite`` only the entries a previous run made (``generated``, relative names) are
    removed, never other files.

    Raises:
        ConfigError: the folder exists, is not empty, and ``overwrite`` is false; or the path
            is a file.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out} is not empty; choose an empty folder or pass --overwrite")
        for name in generated:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


@contextlib.contextmanager
def atomic_open(path: Path, encoding: str | None = "utf-8", binary: bool = False) -> Iterator:
    """Open ``path`` for writing under a temporary name; rename it on a clean exit."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    mode = "wb" if binary else "w"
    handle = open(tmp, mode) if binary else open(tmp, mode, encoding=encoding, newline="")  # noqa: SIM115
    try:
        yield handle
        handle.close()
        os.replace(tmp, path)
    except BaseException:
        handle.close()
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a text file atomically (``\\n`` line ends on every platform)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, binary=True) as handle:
        handle.write(text.encode(encoding))
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write indented, key-ordered JSON atomically (same data, same bytes)."""
    return write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def provenance() -> dict[str, Any]:
    """Versions of the packages and hashes of the protocol files that shape the output."""
    files = (
        ("emotions", "au_prototypes.json"),
        ("captions", "synth_phrases.json"),
        ("captions", "neutral.json"),
        ("scales", "panss_negative.json"),
        ("scales", "cains_expression.json"),
    )
    hashes = {"/".join(f): sha256_file(protocols_dir().joinpath(*f)) for f in files}
    return {"versions": package_versions(("emoclip-clinic", "numpy", "Pillow", "av")),
            "protocol_sha256": hashes}  # fmt: skip


def parallel_map(
    function: Callable[[Job], Result], jobs: Iterable[Job], workers: int, chunksize: int = 1
) -> Iterator[Result]:
    """Apply ``function`` to each job, in order, in ``workers`` processes (1: in this one).

    ``chunksize`` consecutive jobs go to the same process (so its caches serve them).

    Raises:
        ConfigError: ``workers`` < 1.
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        yield from map(function, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(function, jobs, chunksize=max(1, chunksize))
