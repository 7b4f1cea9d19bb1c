"""A trained symptom head, saved with everything ``score`` needs to use it safely.

A bundle folder holds ``head.safetensors`` (MLP weights, feature mean and std) and
``bundle.json``: the scale (name, items, ranges), the encoder it was trained on (config name
and the SHA-256 of its weights), the embedding settings, the head settings, the training
cohort's size, the 95% prediction interval from leave-one-patient-out residuals, package
versions, and the SHA-256 of the head weights. ``score`` refuses a bundle whose encoder or
scale does not match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from emoclip_clinic.errors import CheckpointError
from emoclip_clinic.fileio import atomic_dir
from emoclip_clinic.heads import MLPHead
from emoclip_clinic.provenance import package_versions, sha256_file
from emoclip_clinic.scoring.head import FittedHead

FORMAT = "emoclip-clinic-head"
WEIGHTS = "head.safetensors"
META = "bundle.json"
# What score needs of bundle.json (train-head writes more).
SCORE_KEYS = ("target_columns", "head_sha256", "scale", "encoder", "embed_settings", "interval_95",
              "cohort")  # fmt: skip
# Keys that ``score`` reads inside the required keys above.
_INNER_KEYS = {"scale": ("name", "items", "total", "ranges"), "encoder": ("config", "sha256")}


def save_bundle(path: str | Path, head: FittedHead, info: dict[str, Any]) -> Path:
    """Write a bundle folder atomically; ``info`` carries scale, encoder, settings, cohort."""
    tensors = {f"mlp.{k}": v.contiguous() for k, v in head.model.state_dict().items()}
    tensors["feature_mean"] = torch.from_numpy(head.feature_mean).float()
    tensors["feature_std"] = torch.from_numpy(head.feature_std).float()
    with atomic_dir(path, META) as tmp:
        save_file(tensors, str(tmp / WEIGHTS))
        meta = {"format": FORMAT, "version": 1, "target_columns": list(head.target_columns),
                "head_sha256": sha256_file(tmp / WEIGHTS), "versions": package_versions(),
                **info}  # fmt: skip
        (tmp / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return Path(path)


def _missing_keys(meta: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    missing = []
    for key in keys:
        if key not in meta:
            missing.append(key)
            continue
        value = meta[key]
        missing += [f"{key}.{inner}" for inner in _INNER_KEYS.get(key, ())
                    if not isinstance(value, dict) or inner not in value]  # fmt: skip
    return missing


def load_bundle(
    path: str | Path, required: tuple[str, ...] = ()
) -> tuple[FittedHead, dict[str, Any]]:
    """Read a bundle folder, checking its format, the hash of its weights and that its JSON
    has the ``required`` keys (``score`` asks for :data:`SCORE_KEYS`).

    Raises:
        CheckpointError: not a bundle, unreadable or incomplete JSON, tampered or truncated
            weights.
    """
    folder = Path(path)
    meta_path, weights = folder / META, folder / WEIGHTS
    if not meta_path.is_file() or not weights.is_file():
        raise CheckpointError(f"{folder} is not a symptom-head bundle (no {META} or {WEIGHTS})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{meta_path}: not readable JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{meta_path}: unknown bundle format {found!r}")
    missing = _missing_keys(meta, ("target_columns", "head_sha256", *required))
    if missing:
        raise CheckpointError(f"{meta_path}: incomplete bundle, no {', '.join(missing)}")
    if sha256_file(weights) != meta.get("head_sha256"):
        raise CheckpointError(f"{weights}: SHA-256 mismatch; the file is truncated or modified")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{weights}: unreadable ({err})") from None
    state = {k[4:]: v for k, v in tensors.items() if k.startswith("mlp.")}
    d_in, d_out = state["net.0.weight"].shape[1], state["net.3.weight"].shape[0]
    hidden = state["net.0.weight"].shape[0]
    model = MLPHead(d_in, d_out, hidden)
    model.load_state_dict(state)
    head = FittedHead(model.eval(), tensors["feature_mean"].numpy().astype(np.float64),
                      tensors["feature_std"].numpy().astype(np.float64),
                      tuple(meta["target_columns"]),
                      meta.get("head_settings", {}).get("inputs", "clip"))  # fmt: skip
    return head, meta
