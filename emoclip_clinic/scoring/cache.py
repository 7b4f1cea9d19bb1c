"""The clip-embedding cache of recordings.

An entry is keyed by the recording's content hash, the encoder's weight hash, the chunking
settings and the face source, so that a rerun reuses it and any change recomputes it. Each
entry is one ``.npz`` (arrays) plus one ``.json`` (provenance), written atomically when the
recording is complete: a crash loses at most the recording in progress.

Hashing a long recording takes seconds; the hash is remembered in ``hashes.json`` against the
file's path, size and modification time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emoclip_clinic.fileio import atomic_path, write_json_atomic
from emoclip_clinic.provenance import sha256_bytes, sha256_file

ARRAYS = ("embeddings", "start_s", "end_s", "face_fraction", "confidence", "usable",
          "occluded_fraction")  # fmt: skip


@dataclass
class RecordingEmbeddings:
    """Per-clip embeddings of one recording with times and face-quality flags.

    A clip is unusable for one of two reasons: too little face (its embedding row is NaN) or
    the face occluded (embedded, row filled, but left out by the occlusion flag).
    """

    embeddings: np.ndarray  # (N, D) float32; NaN rows: clips with too little face
    start_s: np.ndarray  # (N,) clip start, seconds
    end_s: np.ndarray  # (N,) clip end, seconds
    face_fraction: np.ndarray  # (N,) share of the clip's frames with the patient's face
    confidence: np.ndarray  # (N,) mean detection confidence over frames with a face
    usable: np.ndarray  # (N,) bool: enough face, not occluded; only these are scored
    occluded_fraction: np.ndarray  # (N,) share of the clip's face frames scored occluded
    meta: dict[str, Any]  # recording, key parts, versions

    @property
    def usable_embeddings(self) -> np.ndarray:
        """(M, D) embeddings of the usable clips."""
        return self.embeddings[self.usable]

    @property
    def face_time_share(self) -> float:
        """Mean share of the clips' frames with the patient's face (0 for no clips)."""
        return float(np.mean(self.face_fraction)) if len(self.usable) else 0.0

    @property
    def occluded(self) -> np.ndarray:
        """(N,) bool: clips with enough face that the occlusion flag left out."""
        return ~self.usable & ~np.isnan(self.embeddings).any(axis=1)

    @property
    def no_face(self) -> np.ndarray:
        """(N,) bool: clips left out for too little face."""
        return ~self.usable & ~self.occluded


def content_hash(path: Path, memo_dir: Path | None = None) -> str:
    """SHA-256 of a file's content, remembered by (path, size, mtime) in ``memo_dir``."""
    stat = path.stat()
    memo_key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_path = memo_dir / "hashes.json" if memo_dir else None
    memo: dict[str, str] = {}
    if memo_path and memo_path.is_file():
        try:
            memo = json.loads(memo_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            memo = {}
    if memo_key in memo:
        return memo[memo_key]
    digest = sha256_file(path)
    if memo_path:
        memo[memo_key] = digest
        write_json_atomic(memo_path, memo)
    return digest


def cache_key(parts: dict[str, Any]) -> str:
    """A stable key from the JSON-serialisable parts that define an entry."""
    return sha256_bytes(json.dumps(parts, sort_keys=True).encode())[:24]


class EmbeddingCache:
    """A folder of cache entries."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.npz", self.folder / f"{key}.json"

    def get(self, key: str) -> RecordingEmbeddings | None:
        """The entry, or None if absent, incomplete or written without an array of today's."""
        arrays_path, meta_path = self._paths(key)
        if not (arrays_path.is_file() and meta_path.is_file()):
            return None
        with np.load(arrays_path) as data:
            if not set(ARRAYS) <= set(data.files):
                return None  # an older version's entry: computed again and replaced
            arrays = {name: data[name] for name in ARRAYS}
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return RecordingEmbeddings(**arrays, meta=meta)

    def put(self, key: str, entry: RecordingEmbeddings) -> None:
        """Store an entry (arrays first, then the JSON that marks it complete)."""
        arrays_path, meta_path = self._paths(key)
        with atomic_path(arrays_path, suffix=".npz") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **{name: getattr(entry, name) for name in ARRAYS})
        write_json_atomic(meta_path, entry.meta)

    def __contains__(self, key: str) -> bool:
        return all(p.is_file() for p in self._paths(key))
