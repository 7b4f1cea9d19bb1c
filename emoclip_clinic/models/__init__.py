"""EmoCLIP models: configs, the video-text model, builders and checkpoints.

Importing this package imports torch and open_clip; the config registry alone
(:mod:`emoclip_clinic.models.config`) does not.
"""

from emoclip_clinic.models.build import (
    create_emoclip,
    get_preprocess_cfg,
    get_tokenizer,
    resolve_config,
)
from emoclip_clinic.models.config import (
    BackboneConfig,
    EmoCLIPConfig,
    TemporalConfig,
    add_model_dir,
    get_model_config,
    list_models,
)
from emoclip_clinic.models.emoclip import EmoCLIP, EmoCLIPOutput
from emoclip_clinic.models.temporal import TemporalTransformer

__all__ = [
    "BackboneConfig",
    "EmoCLIP",
    "EmoCLIPConfig",
    "EmoCLIPOutput",
    "TemporalConfig",
    "TemporalTransformer",
    "add_model_dir",
    "create_emoclip",
    "get_model_config",
    "get_preprocess_cfg",
    "get_tokenizer",
    "list_models",
    "resolve_config",
]
