"""Captions of synthetic clips: what the face, head and eyes visibly do, never the emotion.

A caption is made in two steps. :func:`clip_features` reads a clip's per-frame tracks (AUs, head
pose, gaze) and lists the movements that actually happen: facial movements whose AU peak passes
a threshold (grouped as a coder would name them: raised and drawn-together brows, a dropped jaw),
their intensity and timing, head movements (lowered, turned, nods, shakes), gaze (down, aside,
darting), blinks and talking. :func:`describe` then words them with the phrase banks of
``protocols/captions/synth_phrases.json``: several phrasings and three grammatical forms per
movement, random order and sentence structure, 1-3 sentences. Neutral clips get a sentence from
the neutral pool (``protocols/captions/neutral.json`` plus the bank's rest phrases) and, where
the head or eyes move, a sentence about that.

No caption contains a word of the bank's ``banned_words`` (emotion names, synonyms, and words
such as "smile" or "frown" that name an expression rather than a movement); the bank is checked
when it is loaded. :func:`caption_vocabulary` lists every word a caption can contain.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.resources import protocols_dir
from emoclip_clinic.synth.au import load_prototypes
from emoclip_clinic.synth.dynamics import FaceTrack
from emoclip_clinic.synth.movements import ClipFeatures, Movement, clip_features

_WORD = re.compile(r"[a-z]+")
_LEVELS = ("weak", "mid", "strong")
FORMS = ("verb", "clause", "noun")


@dataclass(frozen=True)
class PhraseBank:
    """The parsed phrase bank (see ``protocols/captions/synth_phrases.json``)."""

    path: Path  # the file it was read from
    raw: dict = field(repr=False)  # the JSON content
    banned: frozenset[str]  # words no caption may contain (banned and reserved words)
    neutral_pool: tuple[str, ...]  # full neutral sentences (neutral.json + bank)

    def phrases(self, key: str, form: str) -> list[str]:
        """Phrasings of one movement in one form (with the prototype file's noun phrases)."""
        extra = self._extra_nouns.get(key, []) if form == "noun" else []
        return self.raw["movements"][key][form] + extra

    @functools.cached_property
    def _extra_nouns(self) -> dict[str, list[str]]:
        library = load_prototypes()
        extra: dict[str, list[str]] = {}
        for au, key in self.raw.get("au_phrases", {}).items():
            phrase = library.describe(au)
            # Lists join phrases with commas, so phrases that hold one would blur the list.
            if "," not in phrase and not set(_WORD.findall(phrase.lower())) & self.banned:
                extra.setdefault(key, []).append(phrase)
        return extra


def _default_bank_path() -> Path:
    return protocols_dir() / "captions" / "synth_phrases.json"


@functools.lru_cache(maxsize=4)
def load_phrase_bank(path: str | Path | None = None) -> PhraseBank:
    """Read and check a phrase bank (the shipped one by default).

    Raises:
        ConfigError: unreadable file, a missing movement or form, or a banned word in a phrase.
    """
    path = Path(path) if path is not None else _default_bank_path()
    neutral_path = protocols_dir() / "captions" / "neutral.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        neutral = json.loads(neutral_path.read_text(encoding="utf-8"))["captions"]
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise ConfigError(f"cannot read caption phrases {path}: {exc}") from exc
    banned = frozenset(w.lower() for w in raw.get("banned_words", []))
    reserved = frozenset(w.lower() for w in raw.get("reserved_words", []))
    neutral = [s for s in neutral if not set(_WORD.findall(s.lower())) & (banned | reserved)]
    bank = PhraseBank(path, raw, banned | reserved, tuple(neutral) + tuple(raw["rest"]["sentence"]))
    missing = [
        f"{key}.{form}"
        for key, forms in raw["movements"].items()
        for form in FORMS
        if not forms.get(form)
    ]
    if missing:
        raise ConfigError(f"{path}: movements without phrases: {', '.join(missing)}")
    bad = sorted(_vocabulary(bank) & banned)
    if bad:
        raise ConfigError(f"{path}: phrases contain banned word(s) {', '.join(bad)}")
    return bank


def _all_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _all_strings(v)]
    return []


def _vocabulary(bank: PhraseBank) -> set[str]:
    skip = ("_meta", "banned_words", "reserved_words", "au_phrases")
    raw = {k: v for k, v in bank.raw.items() if k not in skip}
    texts = _all_strings(raw) + list(bank.neutral_pool) + ["left right"]
    texts += [p for phrases in bank._extra_nouns.values() for p in phrases]
    words = {w for text in texts for w in _WORD.findall(re.sub(r"\{\w+\}", " ", text).lower())}
    return words


def caption_vocabulary(path: str | Path | None = None) -> set[str]:
    """Every lowercase word that a caption can contain (words are runs of a-z).

    Args:
        path: a phrase bank; the shipped one when None.
    """
    return _vocabulary(load_phrase_bank(path))


# ---------------------------------------------------------------------------------------------
# Wording.


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


def _phrase(bank: PhraseBank, movement: Movement, form: str, rng: np.random.Generator) -> str:
    level = _LEVELS[movement.level]
    return _pick(rng, bank.phrases(movement.key, form)).format(
        adv=_pick(rng, bank.raw["adverbs"][level]),
        adj=_pick(rng, bank.raw["adjectives"][level]),
        side=movement.side,
    )


def _join(parts: list[str], times: list[float], bank: PhraseBank, rng) -> str:
    if len(parts) == 1:
        return parts[0]
    last = " and "
    if times[-1] - times[-2] > 0.6:
        last = ", " + _pick(rng, bank.raw["then"]) + " "
    return ", ".join(parts[:-1]) + last + parts[-1]


def _sentence(group: list[Movement], form: str, bank: PhraseBank, rng) -> tuple[str, str]:
    """One sentence (without its final full stop) and the form it ended in."""
    times = [m.time for m in group]
    if form == "verb_with" and len(group) >= 2:
        nouns = [_phrase(bank, m, "noun", rng) for m in group[1:]]
        return (
            f"{_pick(rng, bank.raw['subjects'])} {_phrase(bank, group[0], 'verb', rng)}, "
            f"{_pick(rng, bank.raw['with'])} {_join(nouns, times[1:], bank, rng)}",
            "verb",
        )
    form = "verb" if form == "verb_with" else form
    parts = [_phrase(bank, m, form, rng) for m in group]
    if form == "verb":
        return f"{_pick(rng, bank.raw['subjects'])} {_join(parts, times, bank, rng)}", form
    if form == "clause":
        if len(parts) == 2 and rng.random() < 0.3:
            return f"{parts[0]} while {parts[1]}", form
        return _join(parts, times, bank, rng), form
    return f"{_pick(rng, bank.raw['noun_openers'])} {_join(parts, times, bank, rng)}", form


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+,", ",", text)
    text = re.sub(r"\b([Aa]) (?!one)([aeiou])", r"\1n \2", text)
    return text[0].upper() + text[1:]


def _linked(link: str, text: str) -> str:
    """Prefix a sentence with a link word ("Meanwhile, "), lower-casing what follows it."""
    return link + text[0].lower() + text[1:] if link else text


def _groups(face: list[Movement], other: list[Movement], rng) -> list[list[Movement]]:
    """Split the movements into 1-3 sentences."""
    wanted = int(rng.integers(1, 4))
    if wanted == 1 and len(face) + len(other) <= 5:
        return [face + other] if rng.random() < 0.5 or not other else [face + other[:2]]
    if wanted == 3 and len(face) >= 2 and other:
        cut = int(rng.integers(1, len(face)))
        return [face[:cut], face[cut:], other]
    if other:
        return [face, other]
    if len(face) >= 2:
        cut = int(rng.integers(1, len(face)))
        return [face[:cut], face[cut:]]
    return [face]


def describe(
    features: ClipFeatures, rng: np.random.Generator, bank: PhraseBank | None = None
) -> str:
    """Word the movements of a clip as 1-3 sentences.

    Args:
        features: what happens in the clip (see :func:`clip_features`).
        rng: picks phrasings, forms, order and sentence structure.
        bank: phrase bank; the shipped one when None.

    Returns:
        The caption. Clips without facial movement get a neutral description.
    """
    bank = bank or load_phrase_bank()
    if not features.face:
        return neutral_caption(rng, features, bank)
    other = [m for m in features.other if rng.random() < 0.85][:3]
    sentences = []
    for number, group in enumerate(_groups(list(features.face), other, rng)):
        form = _pick(rng, ("verb", "verb", "verb_with", "clause", "noun"))
        text, form = _sentence(group, form, bank, rng)
        if number == 0 and features.onset and rng.random() < 0.7:
            text = f"{_pick(rng, bank.raw['onset'][features.onset])}, {text[0].lower()}{text[1:]}"
        elif number > 0:
            text = _linked(_pick(rng, bank.raw["links"]), text)
        sentences.append([text, form])
    if features.relaxes and rng.random() < 0.7:
        text, form = sentences[-1]
        relax = _pick(rng, bank.raw["relax"]["verb" if form == "verb" else "clause"])
        sentences[-1][0] = f"{text}, {relax}"
    return " ".join(_tidy(text) + "." for text, _ in sentences)


def _conflicts(features: ClipFeatures | None) -> set[str]:
    """Words a neutral sentence must not use because the clip shows otherwise."""
    keys = {m.key for m in features.other} if features else set()
    words = set()
    if "talking" in keys:
        words |= {"mouth", "lips", "lip", "jaw", "closed", "together"}
    if keys & {"gaze_down", "gaze_up", "gaze_side", "gaze_darting"}:
        words |= {"look", "looks", "eyes", "ahead", "forward", "steadily"}
    if keys & {"nod", "shake", "head_turn", "head_tilt", "head_moving", "head_down", "head_up"}:
        words |= {"still", "nothing", "hardly", "barely"}
    return words


def neutral_caption(
    rng: np.random.Generator, features: ClipFeatures | None = None, bank: PhraseBank | None = None
) -> str:
    """A description of a face at rest, plus what the head and eyes do (if anything).

    Args:
        rng: picks the sentences.
        features: the clip's movements; sentences they contradict are avoided, and head, gaze,
            blink and talking movements are described in a second sentence.
        bank: phrase bank; the shipped one when None.
    """
    bank = bank or load_phrase_bank()
    conflicts = _conflicts(features)

    def fits(text: str) -> bool:
        return not (set(_WORD.findall(text.lower())) & conflicts)

    pool = [s for s in bank.neutral_pool if fits(s)]
    clauses = [c for c in bank.raw["rest"]["clause"] if fits(c)]
    if pool and (rng.random() < 0.5 or len(clauses) < 2):
        first = _pick(rng, pool)
    else:
        chosen = rng.choice(
            len(clauses), size=min(len(clauses), int(rng.integers(2, 4))), replace=False
        )
        first = _tidy(_join([clauses[i] for i in chosen], [0.0] * len(chosen), bank, rng)) + "."
    other = [m for m in (features.other if features else ()) if m.key != "head_still"]
    if not other or rng.random() < 0.15:
        return first
    form = _pick(rng, ("verb", "clause", "noun"))
    text, _ = _sentence(other[:3], form, bank, rng)
    return f"{first} {_tidy(_linked(_pick(rng, bank.raw['links']), text))}."


def caption_clip(
    track: FaceTrack,
    rng: np.random.Generator,
    speaking: np.ndarray | None = None,
    bank: PhraseBank | None = None,
) -> str:
    """Caption a clip from its tracks: :func:`clip_features` then :func:`describe`.

    Args:
        track: per-frame AUs, head pose and gaze.
        rng: the only source of randomness of the wording.
        speaking: per-frame talking mask (None: no speech).
        bank: phrase bank; the shipped one when None.
    """
    return describe(clip_features(track, speaking), rng, bank)
