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
from emoclip_clinic.synth.au import AU_INDEX, load_prototypes
from emoclip_clinic.synth.dynamics import FaceTrack

_WORD = re.compile(r"[a-z]+")
_LEVELS = ("weak", "mid", "strong")
FORMS = ("verb", "clause", "noun")
AU_THRESHOLD = 0.2  # AU peak intensity from which a movement is mentioned
# Facial movements: key -> AUs whose peak makes it (checked in order within a region).
_BROWS = (
    ("brows_up_together", ("AU1", "AU4")),
    ("brows_raise", ("AU1", "AU2")),
    ("brows_inner_raise", ("AU1",)),
    ("brows_outer_raise", ("AU2",)),
    ("brows_lower", ("AU4",)),
)
_SINGLE = (
    ("eyes_widen", "AU5"), ("cheeks_raise", "AU6"), ("lids_tighten", "AU7"),
    ("nose_wrinkle", "AU9"), ("upper_lip_raise", "AU10"), ("lip_corners_up", "AU12"),
    ("dimple", "AU14"), ("lip_corners_down", "AU15"), ("chin_raise", "AU17"),
    ("lips_stretch", "AU20"), ("lips_tighten", "AU23"), ("lips_press", "AU24"),
)  # fmt: skip
_ONE_SIDED = ("AU12L", "AU12R", "AU14L", "AU14R")
MAX_FACE_MOVEMENTS = 5  # the strongest movements kept, so that a caption stays readable


@dataclass(frozen=True)
class Movement:
    """One visible movement of a clip."""

    key: str  # phrase-bank key, e.g. "brows_raise"
    level: int = 1  # 0 weak, 1 clear, 2 strong
    time: float = 0.0  # seconds from the clip start to its onset (ordering)
    side: str = "left"  # subject's side, for one-sided movements, head turns and glances


@dataclass(frozen=True)
class ClipFeatures:
    """What happens in a clip, ready to be worded."""

    face: tuple[Movement, ...]  # facial movements, in order of onset
    other: tuple[Movement, ...]  # head, gaze, blink and talking movements
    onset: str | None = None  # "fast", "slow", "already" or None (unremarkable)
    relaxes: bool = False  # the face returns to rest before the clip ends


@dataclass(frozen=True)
class PhraseBank:
    """The parsed phrase bank (see ``protocols/captions/synth_phrases.json``)."""

    path: Path  # the file it was read from
    raw: dict = field(repr=False)  # the JSON content
    banned: frozenset[str]  # words no caption may contain
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
    bank = PhraseBank(path, raw, banned, tuple(neutral) + tuple(raw["rest"]["sentence"]))
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
    raw = {k: v for k, v in bank.raw.items() if k not in ("_meta", "banned_words", "au_phrases")}
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
# Reading the tracks.


def _level(peak: float) -> int:
    return 0 if peak < 0.4 else 1 if peak < 0.75 else 2


def _onset_time(curve: np.ndarray, fps: float) -> float:
    return float(np.argmax(curve >= 0.5 * curve.max()) / fps)


def _face_movements(aus: np.ndarray, fps: float) -> list[tuple[Movement, tuple[int, ...]]]:
    peak = aus.max(axis=0)
    found: list[tuple[str, tuple[str, ...]]] = []
    for key, names in _BROWS:
        if all(peak[AU_INDEX[n]] >= AU_THRESHOLD for n in names):
            found.append((key, names + (("AU2",) if key == "brows_up_together" else ())))
            break
    on = {au for _, au in _SINGLE if peak[AU_INDEX[au]] >= AU_THRESHOLD}
    if {"AU5", "AU7"} <= on:  # FACS 5+7: upper lid raised while the lower lid tightens
        found.append(("lids_raise_tighten", ("AU5", "AU7")))
        on -= {"AU5", "AU7"}
    found += [(key, (au,)) for key, au in _SINGLE if au in on]
    sided = max(_ONE_SIDED, key=lambda n: peak[AU_INDEX[n]])
    if peak[AU_INDEX[sided]] >= AU_THRESHOLD:
        found.append(("one_corner_up", (sided,)))
    closure = peak[AU_INDEX["AU43"]]
    if closure >= 0.12:
        found.append(("eyes_close" if closure >= 0.5 else "lids_droop", ("AU43",)))
    for key, au in (("jaw_drop", "AU26"), ("lips_part", "AU25")):
        if peak[AU_INDEX[au]] >= AU_THRESHOLD:
            found.append((key, (au,)))
            break
    out = []
    for key, names in found:
        index = tuple(AU_INDEX[n] for n in names)
        curve = aus[:, index].max(axis=1)
        side = "right" if names[0].endswith("R") and names[0] in _ONE_SIDED else "left"
        out.append(
            (Movement(key, _level(float(curve.max())), _onset_time(curve, fps), side), index)
        )
    return out


def _envelope_timing(aus: np.ndarray, fps: float) -> tuple[str | None, bool]:
    """Onset speed and whether the face relaxes, from the normalised envelope of the AUs."""
    peak = aus.max(axis=0)
    if peak.max() < AU_THRESHOLD:
        return None, False
    envelope = (aus[:, peak > 0] / peak[peak > 0]).max(axis=1)
    top = int(np.argmax(envelope >= 0.95))
    if envelope[0] > 0.6:
        onset = "already"
    else:
        rise = (top - int(np.argmax(envelope >= 0.1))) / fps
        onset = "fast" if rise < 0.35 else "slow" if rise > 0.9 else None
    relaxes = bool(envelope[-1] < 0.35 and top < len(envelope) - 1)
    return onset, relaxes


def _events(signal: np.ndarray, threshold: float, fps: float) -> int:
    """Number of separate stretches where ``|signal|`` exceeds ``threshold`` (gap > 0.4 s)."""
    above = np.flatnonzero(np.abs(signal) > threshold)
    if len(above) == 0:
        return 0
    return 1 + int(np.sum(np.diff(above) > 0.4 * fps))


def _high_pass(values: np.ndarray, fps: float) -> np.ndarray:
    width = max(3, round(0.6 * fps)) | 1
    padded = np.pad(values, width // 2, mode="edge")
    return values - np.convolve(padded, np.ones(width) / width, "valid")


def _head_movements(pose: np.ndarray, fps: float) -> list[Movement]:
    yaw, pitch, roll = (pose[:, k].astype(np.float64) for k in range(3))
    late = slice(len(pitch) // 3, None)  # where an expression's head cue has built up
    out = []
    mean_pitch, mean_yaw, mean_roll = pitch[late].mean(), yaw[late].mean(), roll[late].mean()
    if mean_pitch > 5 or mean_pitch < -5:
        key = "head_down" if mean_pitch > 0 else "head_up"
        out.append(Movement(key, _level(abs(mean_pitch) / 15), 0.5))
    if abs(mean_yaw) > 14:
        # Yaw > 0 turns the face towards the image's right: the subject's left.
        out.append(Movement("head_turn", _level(abs(mean_yaw) / 35), 0.5,
                            "left" if mean_yaw > 0 else "right"))  # fmt: skip
    if abs(mean_roll) > 8:
        out.append(Movement("head_tilt", _level(abs(mean_roll) / 20), 0.5,
                            "right" if mean_roll > 0 else "left"))  # fmt: skip
    nods = _events(_high_pass(pitch, fps), 2.5, fps)
    shakes = _events(_high_pass(yaw, fps), 3.5, fps)
    if nods:
        out.append(Movement("nod", 1, float(np.argmax(np.abs(_high_pass(pitch, fps)) > 2.5) / fps)))
    if shakes:
        out.append(Movement("shake", 1, float(np.argmax(np.abs(_high_pass(yaw, fps)) > 3.5) / fps)))
    if not out:
        spread = max(np.ptp(yaw), np.ptp(pitch))
        if spread < 3:
            out.append(Movement("head_still", 1, 0.0))
        elif spread > 12:
            out.append(Movement("head_moving", 1, 0.0))
    return out


def _gaze_movements(gaze: np.ndarray, fps: float) -> list[Movement]:
    x, y = gaze[:, 0].astype(np.float64), gaze[:, 1].astype(np.float64)
    shifts = int(np.sum(np.linalg.norm(np.diff(gaze, axis=0), axis=1) > 0.06))
    # A saccade spans about 50 ms of frames; count jumps, not frames.
    jumps = shifts / max(1.0, 0.05 * fps)
    out = []
    if y.mean() > 0.3 or y.mean() < -0.3:
        out.append(Movement("gaze_down" if y.mean() > 0 else "gaze_up", 1, 0.3))
    if abs(x.mean()) > 0.3:
        # Gaze x > 0 looks towards the image's right: the subject's left.
        out.append(Movement("gaze_side", 1, 0.3, "left" if x.mean() > 0 else "right"))
    if jumps / (len(x) / fps) > 1.2 and jumps >= 3:
        out.append(Movement("gaze_darting", 1, 0.0))
    elif not out and jumps < 1 and abs(x.mean()) < 0.2 and abs(y.mean()) < 0.2:
        out.append(Movement("gaze_steady", 1, 0.0))
    return out


def clip_features(track: FaceTrack, speaking: np.ndarray | None = None) -> ClipFeatures:
    """List the movements that happen in a clip.

    Args:
        track: per-frame AUs, head pose and gaze of the clip.
        speaking: per-frame talking mask; the lip and jaw movement of speech (AU25/AU26) in
            those frames is described as talking, not as an expression.

    Returns:
        The clip's movements, onset speed and whether the face relaxes again.
    """
    aus = np.asarray(track.aus, np.float32).copy()
    talking = speaking is not None and float(np.mean(speaking)) > 0.15
    if speaking is not None and np.any(speaking):
        mouth = [AU_INDEX["AU25"], AU_INDEX["AU26"]]
        aus[np.asarray(speaking, bool)[:, None] & np.isin(np.arange(aus.shape[1]), mouth)] = 0
    blinks = _events(aus[:, AU_INDEX["AU45"]] > 0.8, 0.5, track.fps)
    aus[:, AU_INDEX["AU45"]] = 0
    face = [m for m, _ in _face_movements(aus, track.fps)]
    face = sorted(face, key=lambda m: -m.level)[:MAX_FACE_MOVEMENTS]
    other = _head_movements(track.pose, track.fps) + _gaze_movements(track.gaze, track.fps)
    if blinks:
        other.append(Movement("blink_many" if blinks >= 3 else "blink_few", 1, 0.0))
    if talking:
        other.insert(0, Movement("talking", 1, 0.0))
    onset, relaxes = _envelope_timing(aus, track.fps)
    return ClipFeatures(tuple(sorted(face, key=lambda m: m.time)), tuple(other), onset, relaxes)


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
