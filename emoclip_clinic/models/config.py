"""Model configurations: small JSON files found by a registry (no torch import here).

Each named EmoCLIP configuration is a JSON file in ``protocols/models/`` (shipped with the
package); users add their own by pointing ``EMOCLIP_CLINIC_MODEL_DIRS`` (an ``os.pathsep``
separated list of folders) at folders of such files, or by calling :func:`add_model_dir`, or by
passing the path of a JSON file wherever a model name is expected. ``emoclip-clinic models``
lists what the registry sees.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.resources import protocols_dir

MODEL_DIRS_ENV = "EMOCLIP_CLINIC_MODEL_DIRS"
_extra_dirs: list[Path] = []


@dataclass(frozen=True)
class BackboneConfig:
    """The CLIP image and text towers, as open_clip builds them."""

    open_clip_model: str | None = None  # name in open_clip's registry, e.g. "ViT-B-32"
    open_clip_config: dict[str, Any] | None = None  # inline open_clip config (embed_dim, towers)
    recommended_pretrained: str | None = None  # tag users normally pass with --pretrained
    quick_gelu: bool = False  # QuickGELU activations (OpenAI and LAION-400M weights need them)
    # Channel widths of a compact convolutional image tower that replaces open_clip's vision
    # tower (models trained from scratch on a CPU; see models/conv_tower.py); None keeps it.
    conv_tower: list[int] | None = None

    def __post_init__(self) -> None:
        if (self.open_clip_model is None) == (self.open_clip_config is None):
            raise ConfigError(
                "backbone needs exactly one of 'open_clip_model' (a registered open_clip name) "
                "or 'open_clip_config' (an inline open_clip model config)"
            )
        if self.conv_tower is not None and self.open_clip_config is None:
            raise ConfigError("backbone 'conv_tower' needs an inline 'open_clip_config'")


@dataclass(frozen=True)
class TemporalConfig:
    """The temporal transformer over per-frame image embeddings (paper, Sec. III-B)."""

    depth: int = 2  # number of pre-norm transformer blocks
    heads: int = 8  # attention heads
    dim_head: int = 64  # width of each head (the authors' released weights use 2048)
    mlp_dim: int = 2048  # hidden width of the feed-forward layer (the authors' use 512)
    max_frames: int = 1024  # rows of the learned positional table: CLS plus up to 1023 frames
    dropout: float = 0.0  # dropout in attention output and feed-forward
    gelu_approximate: str = "tanh"  # GELU flavour of the feed-forward ("tanh" as the authors)
    pooling: str = "transformer"  # "transformer" (EmoCLIP) or "mean" (CLIP frame-ensemble baseline)
    init_std: float = 1.0  # std of the initial CLS token and positions (authors: randn, 1.0)

    def __post_init__(self) -> None:
        for name in ("depth", "heads", "dim_head", "mlp_dim", "max_frames"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"temporal.{name} must be a positive integer")
        if self.gelu_approximate not in ("tanh", "none"):
            raise ConfigError("temporal.gelu_approximate must be 'tanh' or 'none'")
        if self.pooling not in ("transformer", "mean"):
            raise ConfigError("temporal.pooling must be 'transformer' or 'mean'")


@dataclass(frozen=True)
class EmoCLIPConfig:
    """A complete, named EmoCLIP architecture."""

    name: str  # registry name, e.g. "emoclip-vit-b-32"
    backbone: BackboneConfig  # CLIP towers
    temporal: TemporalConfig = field(default_factory=TemporalConfig)  # temporal module
    init_logit_scale: float = math.log(1 / 0.07)  # initial log temperature, as CLIP
    max_logit_scale: float = math.log(100.0)  # clamp of the log temperature, as CLIP
    meta: dict[str, Any] = field(default_factory=dict)  # description and sources ("_meta")

    @property
    def description(self) -> str:
        """One line saying what the configuration is for."""
        return str(self.meta.get("description", ""))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (the same layout as the files in ``protocols/models``)."""
        data = asdict(self)
        data["_meta"] = data.pop("meta")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], name: str | None = None) -> EmoCLIPConfig:
        """Build a config from its JSON form.

        Args:
            data: parsed JSON with ``backbone``, optional ``temporal`` and ``_meta`` blocks.
            name: registry name; defaults to ``data["name"]``.

        Raises:
            ConfigError: on unknown or missing fields.
        """
        data = dict(data)
        meta = data.pop("_meta", data.pop("meta", {}))
        name = name or data.pop("name", None)
        data.pop("name", None)
        if not name:
            raise ConfigError("model config has no name")
        try:
            backbone = BackboneConfig(**data.pop("backbone"))
            temporal = TemporalConfig(**data.pop("temporal", {}))
            return cls(name=name, backbone=backbone, temporal=temporal, meta=meta, **data)
        except KeyError as err:
            raise ConfigError(f"model config '{name}' lacks the {err} block") from None
        except TypeError as err:
            raise ConfigError(f"model config '{name}' has an unknown field: {err}") from None


def add_model_dir(path: str | Path) -> None:
    """Add a folder of model config JSON files to the registry for this process.

    Raises:
        ConfigError: if the folder does not exist.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"model config folder not found: {folder}")
    if folder not in _extra_dirs:
        _extra_dirs.append(folder)


def _model_dirs() -> list[Path]:
    env_dirs = [Path(p) for p in os.environ.get(MODEL_DIRS_ENV, "").split(os.pathsep) if p]
    return [protocols_dir() / "models", *env_dirs, *_extra_dirs]


def _scan() -> dict[str, Path]:
    """Map config names to files; later folders override earlier ones (user over shipped)."""
    found: dict[str, Path] = {}
    for folder in _model_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                found[path.stem] = path
    return found


def list_models() -> list[str]:
    """Return the names of every registered model config, sorted."""
    return sorted(_scan())


def _read_config_file(path: Path, name: str) -> EmoCLIPConfig:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read model config {path}: {err}") from None
    try:
        return EmoCLIPConfig.from_dict(data, name=name)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def get_model_config(name_or_path: str | Path) -> EmoCLIPConfig:
    """Return the config registered under a name, or read from a JSON file path.

    Raises:
        ConfigError: if the name is unknown or the file is invalid.
    """
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        return _read_config_file(path, path.stem)
    registry = _scan()
    if str(name_or_path) not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise ConfigError(f"unknown model config '{name_or_path}' (known: {known})")
    return _read_config_file(registry[str(name_or_path)], str(name_or_path))
