"""Class descriptions and prompt templates: the text side of zero-shot recognition.

Description files (``protocols/descriptions/*.json``) map each class of a taxonomy to one or
more sentences saying what the face does, without naming the emotion. A compound class is
written as its components joined by ``_`` (MAFW's convention, e.g. ``anger_sadness``). Template
files (``protocols/prompts/*.json``) hold the CLIP-style prompt ensemble, which names the
emotion. Users pass their own files by path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.resources import protocols_dir

COMPOUND_SEPARATOR = "_"


@dataclass(frozen=True)
class ClassDescriptions:
    """A taxonomy's classes and their descriptions."""

    name: str  # file stem, e.g. "mafw11"
    classes: dict[str, tuple[str, ...]]  # class -> sentences
    meta: dict[str, Any] = field(default_factory=dict)  # the file's _meta block

    def components(self, label: str) -> tuple[str, ...]:
        """The base classes of a (possibly compound) label.

        Raises:
            ConfigError: a component has no description.
        """
        parts = tuple(label.split(COMPOUND_SEPARATOR))
        missing = [p for p in parts if p not in self.classes]
        if missing:
            raise ConfigError(
                f"descriptions '{self.name}' have no class {missing[0]!r} "
                f"(classes: {', '.join(self.classes)})"
            )
        return parts


@dataclass(frozen=True)
class PromptTemplates:
    """CLIP-style prompt templates with an ``{emotion}`` slot."""

    name: str  # file stem
    templates: tuple[str, ...]  # sentences with "{emotion}"
    names: dict[str, str] = field(default_factory=dict)  # class -> word used in the prompt

    def prompts(self, label: str) -> list[str]:
        """The prompts of one class (a compound reads "anger and sadness")."""
        words = " and ".join(self.names.get(p, p) for p in label.split(COMPOUND_SEPARATOR))
        return [t.format(emotion=words) for t in self.templates]


def _read(kind: str, name_or_path: str | Path) -> tuple[str, dict[str, Any]]:
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = protocols_dir() / kind / f"{name_or_path}.json"
    if not path.is_file():
        known = sorted(p.stem for p in (protocols_dir() / kind).glob("*.json"))
        raise ConfigError(f"no {kind} file {name_or_path!s} (shipped: {', '.join(known)})")
    try:
        return path.stem, json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None


def list_descriptions() -> list[str]:
    """Names of the shipped description files."""
    return sorted(p.stem for p in (protocols_dir() / "descriptions").glob("*.json"))


def load_descriptions(name_or_path: str | Path) -> ClassDescriptions:
    """Load a description file by shipped name (``mafw11``, ``basic7``...) or path.

    Raises:
        ConfigError: missing file, bad JSON, or a class without a non-empty sentence.
    """
    name, data = _read("descriptions", name_or_path)
    classes = data.get("classes")
    if not isinstance(classes, dict) or not classes:
        raise ConfigError(f"descriptions '{name}' have no 'classes' mapping")
    parsed = {}
    for label, sentences in classes.items():
        sentences = [sentences] if isinstance(sentences, str) else sentences
        if not sentences or not all(isinstance(s, str) and s.strip() for s in sentences):
            raise ConfigError(f"descriptions '{name}': class {label!r} has no sentence")
        parsed[label] = tuple(sentences)
    return ClassDescriptions(name, parsed, data.get("_meta", {}))


def load_templates(name_or_path: str | Path = "clip_templates") -> PromptTemplates:
    """Load prompt templates by shipped name or path.

    Raises:
        ConfigError: missing file or a template without ``{emotion}``.
    """
    name, data = _read("prompts", name_or_path)
    templates = tuple(data.get("templates", ()))
    if not templates or not all("{emotion}" in t for t in templates):
        raise ConfigError(f"prompt templates '{name}' need sentences with '{{emotion}}'")
    return PromptTemplates(name, templates, dict(data.get("names", {})))
