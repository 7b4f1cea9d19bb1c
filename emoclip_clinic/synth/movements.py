"""What happens in a synthetic clip, read from its per-frame tracks (for captions).

:func:`clip_features` lists the movements a viewer would see: facial movements whose AU peak
passes :data:`AU_THRESHOLD`, grouped as a FACS coder names them (brows raised and drawn
together, upper lid raised with the lower lid tightened), with their intensity and onset;
head movements (lowered, raised, turned, tilted, nods, shakes); gaze (down, up, aside,
darting); blinks; and talking. Sides are the subject's, as FACS codes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoclip_clinic.synth.au import AU_INDEX
from emoclip_clinic.synth.dynamics import FaceTrack

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
