"""EmoCLIP models: configs, the video-text model, builders and checkpoints.

Names are imported lazily (PEP 562) so that the config registry
(:mod:`emoclip_clinic.models.config`) can be used without importing torch and open_clip.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_emoclip": "build",
    "get_preprocess_cfg": "build",
    "get_tokenizer": "build",
    "resolve_config": "build",
    "BackboneConfig": "config",
    "EmoCLIPConfig": "config",
    "TemporalConfig": "config",
    "add_model_dir": "config",
    "get_model_config": "config",
    "list_models": "config",
    "EmoCLIP": "emoclip",
    "EmoCLIPOutput": "emoclip",
    "TemporalTransformer": "temporal",
    "load_checkpoint": "checkpoints",
    "save_checkpoint": "checkpoints",
    "load_authors_checkpoint": "checkpoints",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'emoclip_clinic.models' has no attribute {name!r}")
    module = importlib.import_module(f"emoclip_clinic.models.{_EXPORTS[name]}")
    return getattr(module, name)
