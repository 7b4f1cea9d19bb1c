"""Checkpoints: the package's own format and the EmoCLIP authors' format.

Own format: a folder with ``model.safetensors`` (weights, no pickle) and ``emoclip.json``
(format version, the full model config, training arguments, package versions, the SHA-256 of
the weights). Loading verifies the hash, then every key and shape, before touching the model.

Authors' format: ``torch.save(state_dict)`` files from github.com/NickyFot/EmoCLIP, read with
``torch.load(weights_only=True)`` only. Keys may start with ``module.`` (DDP). A full model has
``backbone.*`` = a whole CLIP in OpenAI key names (which open_clip shares), ``temporal.*`` and
``logit_scale``; the released downstream file has ``backbone.*`` = the visual tower only,
``temporal.*`` and perhaps ``mlp.*`` (a regression head, returned separately).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from emoclip_clinic.devices import resolve_device
from emoclip_clinic.errors import CheckpointError
from emoclip_clinic.fileio import atomic_dir
from emoclip_clinic.models.build import create_emoclip, resolve_config, tag_architecture
from emoclip_clinic.models.config import EmoCLIPConfig
from emoclip_clinic.models.emoclip import EmoCLIP
from emoclip_clinic.provenance import package_versions, sha256_file

logger = logging.getLogger(__name__)

FORMAT_NAME = "emoclip-clinic-checkpoint"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "emoclip.json"
# open_clip keeps CLIP's causal mask as a buffer; OpenAI JIT state dicts carry three ints.
_IGNORED_KEYS = {"input_resolution", "context_length", "vocab_size"}


@dataclass
class CheckpointInfo:
    """What a checkpoint's JSON says besides the weights."""

    path: Path  # the checkpoint folder or file
    config: EmoCLIPConfig  # architecture
    training_args: dict[str, Any] = field(default_factory=dict)  # how it was trained
    versions: dict[str, str] = field(default_factory=dict)  # packages that wrote it
    weights_sha256: str = ""  # SHA-256 of model.safetensors
    extra: dict[str, Any] = field(default_factory=dict)  # epoch, metrics, ...


def save_checkpoint(
    path: str | Path,
    model: EmoCLIP,
    training_args: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save ``model`` as a checkpoint folder, atomically (an older folder survives a crash).

    Args:
        path: checkpoint folder to create or replace.
        model: the model; its config goes into the JSON.
        training_args: JSON-serialisable arguments of the run.
        extra: JSON-serialisable extras (epoch, metrics).

    Returns:
        The checkpoint folder.
    """
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_dir(path, META_FILE) as tmp:
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT_NAME})
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "model_config": model.config.to_dict(),
            "training_args": training_args or {},
            "versions": package_versions(),
            "weights": {
                "file": WEIGHTS_FILE,
                "sha256": sha256_file(tmp / WEIGHTS_FILE),
                "tensors": len(state),
                "parameters": sum(t.numel() for t in state.values()),
            },
            "extra": extra or {},
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return Path(path)


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Read and check a checkpoint's JSON (not the weights).

    Raises:
        CheckpointError: missing folder or JSON, unknown format, invalid config.
    """
    folder = Path(path)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise CheckpointError(f"{folder} is not an emoclip-clinic checkpoint (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{meta_path}: unreadable checkpoint metadata ({err})") from None
    if meta.get("format") != FORMAT_NAME or meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path}: unsupported checkpoint format {meta.get('format')!r} "
            f"version {meta.get('format_version')!r}"
        )
    try:
        config = EmoCLIPConfig.from_dict(meta["model_config"])
        sha = meta["weights"]["sha256"]
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{meta_path}: incomplete checkpoint metadata ({err})") from None
    return CheckpointInfo(
        folder,
        config,
        meta.get("training_args", {}),
        meta.get("versions", {}),
        sha,
        meta.get("extra", {}),
    )


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[EmoCLIP, CheckpointInfo]:
    """Load a checkpoint folder written by :func:`save_checkpoint`.

    Returns:
        The model (in eval mode) and the checkpoint's metadata.

    Raises:
        CheckpointError: missing files, wrong SHA-256 (truncated or tampered weights),
            unreadable weights, wrong keys or shapes.
    """
    info = read_checkpoint_info(path)
    weights = info.path / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"checkpoint {info.path} has no {WEIGHTS_FILE}")
    actual = sha256_file(weights)
    if actual != info.weights_sha256:
        raise CheckpointError(
            f"{weights}: SHA-256 {actual[:12]}... does not match the recorded "
            f"{info.weights_sha256[:12]}...; the file is truncated or was modified"
        )
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{weights}: unreadable weights ({err})") from None
    model = create_emoclip(info.config)
    _check_part(str(weights), "the weights", state, model.state_dict(), require_all=True)
    model.load_state_dict(state)
    return model.to(resolve_device(device) if isinstance(device, str) else device).eval(), info


# -- the authors' format ----------------------------------------------------------------------
_AUTHORS_TEMPORAL_RULES = [
    (re.compile(rf"^temporal_transformer\.layers\.(\d+)\.{a}\."), rf"blocks.\1.{b}.")
    for a, b in (
        (r"0\.fn\.norm", "attn_norm"),
        (r"0\.fn\.fn\.to_qkv", "attn.qkv"),
        (r"0\.fn\.fn\.to_out\.0", "attn.proj"),
        (r"1\.fn\.norm", "mlp_norm"),
        (r"1\.fn\.fn\.net\.0", "mlp.fc1"),
        (r"1\.fn\.fn\.net\.3", "mlp.fc2"),
    )
]


def authors_temporal_key(key: str) -> str:
    """Map a key of the authors' temporal module (without ``temporal.``) to ours."""
    for pattern, replacement in _AUTHORS_TEMPORAL_RULES:
        new, count = pattern.subn(replacement, key)
        if count:
            return new
    return key


@dataclass
class AuthorsCheckpoint:
    """An authors'-format checkpoint loaded into an EmoCLIP model."""

    model: EmoCLIP  # the model with the loaded weights
    backbone: str  # "full" (image and text towers), "visual" (image tower only) or "none"
    head_state: dict[str, torch.Tensor]  # ``mlp.*`` tensors of a downstream file, prefix removed


def _read_torch_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path}: unreadable safetensors file ({err})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle with code, wrong file type...
        raise CheckpointError(
            f"{path}: not a readable weights-only PyTorch state dict ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''})"
        ) from None
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a dict of tensors (a state_dict)")
    return obj


def split_authors_state(state: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Split an authors' state dict into backbone, temporal, logit_scale, head and unknown."""
    parts: dict[str, dict[str, torch.Tensor]] = {
        k: {} for k in ("backbone", "temporal", "logit_scale", "mlp", "unknown")
    }
    for key, value in state.items():
        key = key.removeprefix("module.")
        prefix, _, rest = key.partition(".")
        if key == "logit_scale":
            parts["logit_scale"][key] = value
        elif prefix in ("backbone", "temporal", "mlp") and rest:
            if rest not in _IGNORED_KEYS:
                parts[prefix][rest] = value
        else:
            parts["unknown"][key] = value
    return parts


def _backbone_layout(backbone: dict[str, torch.Tensor]) -> tuple[str, dict[str, torch.Tensor]]:
    """Return ("full" | "visual" | "none", keys relative to the open_clip CLIP module)."""
    if not backbone:
        return "none", {}
    if any(k.startswith("visual.") for k in backbone):
        has_text = any(not k.startswith("visual.") and k != "logit_scale" for k in backbone)
        return ("full" if has_text else "visual"), backbone
    # A downstream file keeps only CLIP's `visual` module, so its keys lack that prefix.
    return "visual", {f"visual.{k}": v for k, v in backbone.items()}


def _check_part(
    source: str,
    part: str,
    given: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    require_all: bool,
) -> None:
    unknown = sorted(set(given) - set(expected))
    missing = sorted(set(expected) - set(given)) if require_all else []
    wrong = sorted(
        k
        for k in set(given) & set(expected)
        if given[k].numel() != expected[k].numel()
        or (given[k].ndim and tuple(given[k].shape) != tuple(expected[k].shape))
    )
    problems = []
    if unknown:
        problems.append(f"{len(unknown)} unknown keys (e.g. {', '.join(unknown[:3])})")
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if wrong:
        k = wrong[0]
        problems.append(
            f"{len(wrong)} tensors of the wrong shape (e.g. {k}: {tuple(given[k].shape)}, "
            f"expected {tuple(expected[k].shape)})"
        )
    if problems:
        raise CheckpointError(f"{source}: {part} does not fit the model: " + "; ".join(problems))


def load_authors_state(
    model: EmoCLIP, state: dict[str, torch.Tensor], source: str = "state dict"
) -> AuthorsCheckpoint:
    """Load an authors'-format state dict into ``model`` (in place).

    The temporal module must be complete; the backbone may be a whole CLIP, the visual tower
    only, or absent (the model then keeps its own backbone weights).

    Raises:
        CheckpointError: unknown keys, missing temporal keys, or shapes that do not fit.
    """
    parts = split_authors_state(state)
    if parts["unknown"]:
        keys = ", ".join(sorted(parts["unknown"])[:3])
        raise CheckpointError(f"{source}: keys outside backbone/temporal/mlp/logit_scale: {keys}")
    temporal = {authors_temporal_key(k): v for k, v in parts["temporal"].items()}
    if model.temporal is None:
        raise CheckpointError(f"{source}: the model config has no temporal transformer to load")
    _check_part(source, "temporal", temporal, model.temporal.state_dict(), require_all=True)
    layout, backbone = _backbone_layout(parts["backbone"])
    clip_state = model.clip.state_dict()
    expected = clip_state
    if layout == "visual":
        expected = {k: v for k, v in clip_state.items() if k.startswith("visual.")}
    _check_part(source, "backbone", backbone, expected, require_all=layout != "none")
    with torch.no_grad():
        model.temporal.load_state_dict(temporal)
        if backbone:
            backbone = {k: v.reshape(clip_state[k].shape) for k, v in backbone.items()}
            model.clip.load_state_dict(backbone, strict=False)
        if parts["logit_scale"]:
            model.logit_scale.copy_(parts["logit_scale"]["logit_scale"].reshape(()))
    return AuthorsCheckpoint(model, layout, parts["mlp"])


def load_authors_checkpoint(
    path: str | Path,
    config: str | Path | EmoCLIPConfig = "emoclip-reference",
    device: str | torch.device = "cpu",
    pretrained: str | Path | None = None,
) -> AuthorsCheckpoint:
    """Load a checkpoint file in the EmoCLIP authors' format.

    The authors' downstream files hold the temporal module and the image tower only, and some
    files the temporal module alone. The towers the file lacks come from ``pretrained`` (the
    open_clip tag or local weight file the authors started from, e.g. ``openai`` for ViT-B/32);
    without it they stay randomly initialised, and a warning says so. A file that holds both
    towers needs nothing more: ``pretrained`` is then neither downloaded nor read, and only a
    tag's activation (QuickGELU or not, which the weights were trained with) is taken.

    Args:
        path: a ``torch.save`` state dict (.pt/.pth, read with ``weights_only=True``) or a
            .safetensors file with the same keys.
        config: the architecture; ``emoclip-reference`` has the shapes of the released weights.
        device: where to put the model.
        pretrained: open_clip tag or weight file for the CLIP towers the file does not hold.

    Returns:
        The loaded model (eval mode), which backbone parts the file held, and its ``mlp.*`` head.

    Raises:
        CheckpointError: missing, truncated or pickled-code file; keys or shapes that do not fit.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"authors' checkpoint not found: {file}")
    state = _read_torch_state(file)
    layout, _ = _backbone_layout(split_authors_state(state)["backbone"])
    config = resolve_config(config)
    if layout == "full" and pretrained is not None:  # nothing to fill in: no download, but
        # the file's weights were trained with the tag's activation
        logger.info("%s holds both CLIP towers; pretrained=%s is not loaded", file, pretrained)
        config, pretrained = tag_architecture(config, pretrained), None
    model = create_emoclip(config, pretrained)
    loaded = load_authors_state(model, state, source=str(file))
    if loaded.backbone != "full" and pretrained is None:
        missing = "CLIP towers" if loaded.backbone == "none" else "text tower"
        logger.warning("%s holds no %s; left randomly initialised (pass pretrained=, the "
                       "open_clip tag or weight file the authors started from)",
                       file, missing)  # fmt: skip
    loaded.model.to(device).eval()
    return loaded
