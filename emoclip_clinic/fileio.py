"""Safe file writing: outputs appear complete under their final name or not at all.

Every output of emoclip-clinic (checkpoints, caches, tables, reports) is written to a temporary
name in the destination folder and renamed into place, so a crash or a bad input never leaves a
truncated file behind or destroys a good earlier output.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

from emoclip_clinic.errors import ConfigError


def reserve_hidden(final: Path, suffix: str, directory: bool = False) -> Path:
    """Create an empty, uniquely named hidden file (or folder) beside ``final``; return it.

    ``tempfile`` would create it with mode 0600 (0700), which the rename would carry over to
    the output, unreadable to colleagues; here the umask decides, as for any new file.
    """
    while True:
        candidate = final.with_name(f".{final.name}.{secrets.token_hex(4)}{suffix}")
        try:
            if directory:
                os.mkdir(candidate, 0o777)
            else:
                os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path that replaces ``path`` only if the block succeeds.

    Args:
        path: final file name; its folder is created if needed.
        suffix: suffix for the temporary name (some writers pick a format from it).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = reserve_hidden(final, suffix + ".tmp")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 text to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (NaN written as null) to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")


def json_safe(value: Any) -> Any:
    """Plain JSON types, recursively: numpy and torch values to Python, paths to strings,
    NaN and infinities (not valid JSON) to None."""
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays/scalars, tensors
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    return value


def check_replaceable(path: str | Path, marker: str) -> None:
    """Refuse a folder that :func:`atomic_dir` would replace but that is not ours to replace.

    A folder is replaced as a whole, so it must be absent, empty, or an earlier output of the
    same kind (one that holds ``marker``): a results or data folder named by mistake is left
    alone.

    Raises:
        ConfigError: ``path`` is a file, or a folder with other contents.
    """
    final = Path(path)
    if final.exists() and not final.is_dir():
        raise ConfigError(f"{final} is a file; the output needs a folder of that name")
    if final.is_dir() and not (final / marker).is_file() and any(final.iterdir()):
        raise ConfigError(
            f"{final} already holds files but no {marker}, so it is not an earlier output of "
            f"this kind; it would be replaced as a whole: choose a new or empty folder"
        )


@contextlib.contextmanager
def atomic_dir(path: str | Path, marker: str) -> Iterator[Path]:
    """Yield a temporary folder that replaces the folder ``path`` only if the block succeeds.

    An existing folder at ``path`` is kept until the new one is complete; it must be empty or
    hold ``marker`` (see :func:`check_replaceable`).
    """
    final = Path(path)
    check_replaceable(final, marker)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = reserve_hidden(final, ".tmp", directory=True)
    old = final.with_name(f".{final.name}.old")
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
