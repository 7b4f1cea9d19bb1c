"""Provenance of outputs: package versions and content hashes.

Every output file records the versions that made it, its configuration and the hashes of its
inputs, so that a result can be traced and reproduced.
"""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = ("emoclip-clinic", "torch", "open_clip_torch", "numpy", "decord", "av")
_CHUNK = 1 << 20


def package_versions(packages: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Return the installed versions of ``packages`` (and Python), "not installed" if absent."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()
