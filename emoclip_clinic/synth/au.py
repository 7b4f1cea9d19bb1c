"""FACS action units and emotion prototypes of the synthetic face world.

The AU inventory is fixed by the renderer (:data:`AU_NAMES`); the emotion prototypes, the
plain-language AU descriptions and the list of compound emotions live in the protocol file
``protocols/emotions/au_prototypes.json`` so that they can be reviewed and replaced without
touching code. AU intensities are floats in 0..1 stored in vectors ordered as :data:`AU_NAMES`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.resources import protocols_dir

# The order of the AU vectors everywhere in emoclip_clinic.synth. L/R are FACS unilateral codes
# (the subject's left/right side; the subject's right appears on the image's left).
AU_NAMES: tuple[str, ...] = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU12L", "AU12R",
    "AU14", "AU14L", "AU14R", "AU15", "AU17", "AU20", "AU23", "AU24", "AU25", "AU26",
    "AU43", "AU45",
)  # fmt: skip
AU_INDEX: dict[str, int] = {name: i for i, name in enumerate(AU_NAMES)}
N_AUS = len(AU_NAMES)

# The 11 MAFW classes, in the order of the MAFW label files.
EMOTIONS: tuple[str, ...] = (
    "anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
    "contempt", "anxiety", "helplessness", "disappointment",
)  # fmt: skip

_DEFAULT_FILE = ("emotions", "au_prototypes.json")


def au_vector(aus: Mapping[str, float] | None = None) -> np.ndarray:
    """Turn a mapping of AU name to intensity into a vector ordered as :data:`AU_NAMES`.

    Args:
        aus: intensities in 0..1 by AU name (``"AU12"``); missing AUs are 0. ``None`` gives the
            neutral face.

    Returns:
        A float32 vector of length :data:`N_AUS`.

    Raises:
        ConfigError: an AU name is unknown or an intensity is outside 0..1.
    """
    vector = np.zeros(N_AUS, dtype=np.float32)
    for name, value in (aus or {}).items():
        if name not in AU_INDEX:
            raise ConfigError(f"unknown action unit {name!r}; known: {', '.join(AU_NAMES)}")
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"intensity of {name} must be within 0..1, got {value}")
        vector[AU_INDEX[name]] = float(value)
    return vector


def check_au_vector(aus: np.ndarray | Mapping[str, float] | None) -> np.ndarray:
    """Validate AU intensities given as a vector or a mapping and return them as a vector.

    Args:
        aus: a vector of length :data:`N_AUS`, a mapping of AU name to intensity, or ``None``.

    Returns:
        A float32 vector of length :data:`N_AUS` with values in 0..1.

    Raises:
        ConfigError: wrong length, an unknown AU, or an intensity outside 0..1 (or not finite).
    """
    if aus is None or isinstance(aus, Mapping):
        return au_vector(aus)
    vector = np.asarray(aus, dtype=np.float32)
    if vector.shape != (N_AUS,):
        raise ConfigError(f"an AU vector must have shape ({N_AUS},), got {vector.shape}")
    if not (np.isfinite(vector).all() and vector.min() >= 0.0 and vector.max() <= 1.0):
        raise ConfigError("AU intensities must be finite and within 0..1")
    return vector


def au_dict(vector: np.ndarray, threshold: float = 0.0) -> dict[str, float]:
    """Return the AUs of a vector whose intensity exceeds ``threshold``, by name (4 decimals)."""
    vector = check_au_vector(vector)
    return {n: round(float(v), 4) for n, v in zip(AU_NAMES, vector, strict=True) if v > threshold}


def combine_aus(vectors: Iterable[np.ndarray]) -> np.ndarray:
    """Combine AU vectors by taking the maximum of each AU (the compound rule).

    Args:
        vectors: one or more vectors of length :data:`N_AUS`.

    Returns:
        Their element-wise maximum (the zero vector for no input).
    """
    out = np.zeros(N_AUS, dtype=np.float32)
    for vector in vectors:
        np.maximum(out, check_au_vector(vector), out=out)
    return out


@dataclass(frozen=True)
class EmotionCues:
    """Head, gaze and rate tendencies that go with an expression (applied by the dynamics)."""

    pitch_deg: float = 0.0  # head pitch at apex, degrees; positive = head down
    gaze_x: float = 0.0  # gaze offset at apex, -1..1; positive = towards the image's right
    gaze_y: float = 0.0  # gaze offset at apex, -1..1; positive = looking down
    blink_rate_scale: float = 1.0  # multiplier of the blink rate while the expression lasts
    gaze_shift_scale: float = 1.0  # multiplier of the rate of gaze shifts


@dataclass(frozen=True)
class EmotionPrototype:
    """The apex AU configuration of one emotion (basic or compound)."""

    name: str  # class name, e.g. "happiness" or "happiness_surprise"
    intensities: tuple[float, ...]  # apex AU intensities ordered as AU_NAMES
    source: str = ""  # where the prototype comes from
    components: tuple[str, ...] = ()  # basic classes of a compound; empty for a basic one
    cues: EmotionCues = field(default_factory=EmotionCues)  # head/gaze tendencies

    def aus(self, intensity: float = 1.0) -> np.ndarray:
        """Return the AU vector scaled by ``intensity`` (0..1) as float32."""
        if not 0.0 <= intensity <= 1.0:
            raise ConfigError(f"emotion intensity must be within 0..1, got {intensity}")
        return np.asarray(self.intensities, dtype=np.float32) * np.float32(intensity)


@dataclass(frozen=True)
class PrototypeLibrary:
    """Emotion prototypes, compound definitions and AU descriptions read from a protocol file."""

    path: Path  # the protocol file it was read from
    emotions: dict[str, EmotionPrototype]  # basic classes by name
    compounds: dict[str, tuple[str, ...]]  # listed compound names -> component classes
    descriptions: dict[str, str]  # AU name -> plain-language visible movement
    au_titles: dict[str, str]  # AU name -> FACS name ("Lip corner puller")

    def emotion_names(self) -> tuple[str, ...]:
        """Names of the basic classes, in file order."""
        return tuple(self.emotions)

    def compound_names(self) -> tuple[str, ...]:
        """Names of the listed compound classes (any pair of non-neutral classes also works)."""
        return tuple(self.compounds)

    def prototype(self, name: str) -> EmotionPrototype:
        """Return the prototype of a basic class or of a compound such as ``"sadness_anger"``.

        A compound is either listed in the file or any ``a_b`` of two different non-neutral
        basic classes, in either order; its AUs are the maximum of its components' AUs.

        Raises:
            ConfigError: the name is neither a basic class nor a valid compound.
        """
        if name in self.emotions:
            return self.emotions[name]
        parts = self.compounds.get(name) or tuple(name.split("_"))
        valid = len(parts) >= 2 and len(set(parts)) == len(parts)
        if not valid or any(p not in self.emotions or p == "neutral" for p in parts):
            raise ConfigError(
                f"unknown emotion {name!r}; basic classes: {', '.join(self.emotions)}; "
                "compounds join two different non-neutral classes with '_', e.g. "
                "'happiness_surprise'"
            )
        members = [self.emotions[p] for p in parts]
        cues = EmotionCues(
            *(float(np.mean([getattr(m.cues, f) for m in members])) for f in _CUE_FIELDS)
        )
        vector = combine_aus(m.aus() for m in members)
        return EmotionPrototype(
            name=name,
            intensities=tuple(float(v) for v in vector),
            source="max of the AUs of " + " and ".join(parts),
            components=tuple(parts),
            cues=cues,
        )

    def describe(self, au: str) -> str:
        """Plain-language description of the visible movement of one AU."""
        if au not in self.descriptions:
            raise ConfigError(f"unknown action unit {au!r}; known: {', '.join(AU_NAMES)}")
        return self.descriptions[au]


_CUE_FIELDS = ("pitch_deg", "gaze_x", "gaze_y", "blink_rate_scale", "gaze_shift_scale")


def load_prototypes(path: str | Path | None = None) -> PrototypeLibrary:
    """Read emotion prototypes from a protocol file (the shipped one by default).

    Args:
        path: a JSON file in the format of ``protocols/emotions/au_prototypes.json``.

    Returns:
        The parsed, validated library (cached per file).

    Raises:
        ConfigError: the file is missing, not JSON, or names an unknown AU or emotion.
    """
    resolved = Path(path) if path is not None else protocols_dir().joinpath(*_DEFAULT_FILE)
    return _load_cached(resolved.resolve())


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path) -> PrototypeLibrary:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read emotion prototypes {path}: {exc}") from exc
    try:
        units = raw["action_units"]
        emotions = {name: _parse_emotion(name, spec) for name, spec in raw["emotions"].items()}
        compounds = {name: tuple(parts) for name, parts in raw.get("compounds", {}).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"invalid emotion prototype file {path}: {exc!r}") from exc
    except ConfigError as exc:
        raise ConfigError(f"invalid emotion prototype file {path}: {exc}") from exc
    missing = [au for au in AU_NAMES if au not in units]
    if missing:
        raise ConfigError(f"{path} has no description for {', '.join(missing)}")
    for name, parts in compounds.items():
        bad = [p for p in parts if p not in emotions]
        if bad or len(parts) < 2:
            raise ConfigError(f"{path}: compound {name!r} has unknown components {bad}")
    return PrototypeLibrary(
        path=path,
        emotions=emotions,
        compounds=compounds,
        descriptions={au: str(units[au]["movement"]) for au in AU_NAMES},
        au_titles={au: str(units[au]["name"]) for au in AU_NAMES},
    )


def _parse_emotion(name: str, spec: Mapping) -> EmotionPrototype:
    cues = spec.get("cues", {})
    unknown = set(cues) - set(_CUE_FIELDS)
    if unknown:
        raise ConfigError(f"emotion {name!r} has unknown cues {sorted(unknown)}")
    return EmotionPrototype(
        name=name,
        intensities=tuple(float(v) for v in au_vector(spec["aus"])),
        source=str(spec.get("source", "")),
        cues=EmotionCues(**{k: float(v) for k, v in cues.items()}),
    )


def emotion_aus(name: str, intensity: float = 1.0) -> np.ndarray:
    """AU vector of a basic or compound emotion from the shipped prototypes.

    Args:
        name: a class such as ``"anger"`` or a compound such as ``"fear_surprise"``.
        intensity: scale of the apex intensities, 0..1.

    Raises:
        ConfigError: unknown emotion or intensity outside 0..1.
    """
    return load_prototypes().prototype(name).aus(intensity)
