"""Facial dynamics of the synthetic world: per-frame AU, head-pose and gaze tracks.

Expressions are episodes that rise (onset), hold (apex) and decay (offset); blinks close the
eyes (AU45) at a Poisson rate; speech opens the jaw and parts the lips (AU26/AU25) in syllables
grouped into phrases and pauses; the head drifts smoothly and nods or shakes; the eyes fixate
and jump (saccades). Every function draws only from the numpy Generator it is given, so the
same seed gives identical arrays. Pose rows are ``(yaw, pitch, roll, tx, ty, scale)`` as in
:class:`emoclip_clinic.synth.face.Pose`; gaze rows are ``(x, y)`` in -1..1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.synth.au import (
    AU_INDEX,
    N_AUS,
    EmotionCues,
    PrototypeLibrary,
    check_au_vector,
    load_prototypes,
)
from emoclip_clinic.synth.face import Gaze, Pose

POSE_FIELDS = ("yaw", "pitch", "roll", "tx", "ty", "scale")
_POSE_LIMITS = np.array([[-55, 55], [-40, 40], [-50, 50], [-4, 4], [-4, 4], [0.3, 4]], np.float32)


@dataclass(frozen=True)
class Episode:
    """One expression: rises over ``onset``, holds for ``apex``, decays over ``offset``."""

    label: str  # emotion name (basic or compound) or any label
    aus: tuple[float, ...]  # AU intensities at apex, ordered as AU_NAMES
    start: float  # start of the onset, seconds
    onset: float  # rise time, seconds
    apex: float  # hold time, seconds
    offset: float  # decay time, seconds
    cues: EmotionCues = field(default_factory=EmotionCues)  # head/gaze tendencies at apex

    @property
    def end(self) -> float:
        """Time at which the face is back to rest, seconds."""
        return self.start + self.onset + self.apex + self.offset

    def envelope(self, times: np.ndarray) -> np.ndarray:
        """Intensity factor 0..1 at the given times (smooth rise and fall).

        Args:
            times: seconds, any shape.
        """
        rise = np.clip((times - self.start) / max(self.onset, 1e-6), 0, 1)
        fall = np.clip((self.end - times) / max(self.offset, 1e-6), 0, 1)
        level = np.minimum(rise, fall)
        return level * level * (3 - 2 * level)


@dataclass(frozen=True)
class DynamicsConfig:
    """Rates and amplitudes of the non-expression movements."""

    fps: float = 25.0  # frames per second
    blink_rate_per_min: float = 17.0  # spontaneous blinks (adults at rest: about 15-20)
    blink_duration_s: tuple[float, float] = (0.12, 0.3)  # range of blink durations
    head_amplitude: float = 1.0  # scale of head drift, nods and shakes (0 = still head)
    nod_rate_per_min: float = 3.0  # nods per minute
    shake_rate_per_min: float = 1.0  # head shakes per minute
    gaze_shift_rate_per_min: float = 20.0  # fixation changes per minute
    gaze_spread: float = 0.3  # standard deviation of fixation targets, -1..1 units
    gaze_aversion: float = 0.15  # probability that a fixation looks clearly away
    syllable_rate_hz: float = 4.5  # syllables per second while speaking
    phrase_s: tuple[float, float] = (1.0, 4.0)  # range of phrase durations
    pause_s: tuple[float, float] = (0.25, 1.2)  # range of pauses between phrases

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.blink_rate_per_min < 0 or self.head_amplitude < 0:
            raise ConfigError("fps must be > 0; blink rate and head amplitude >= 0")
        if self.syllable_rate_hz <= 0 or min(self.phrase_s + self.pause_s) <= 0:
            raise ConfigError("syllable rate, phrase and pause durations must be > 0")


@dataclass(frozen=True)
class FaceTrack:
    """Per-frame AUs, head pose and gaze of one synthetic face."""

    aus: np.ndarray  # (T, N_AUS) float32 intensities 0..1
    pose: np.ndarray  # (T, 6) float32 yaw, pitch, roll (degrees), tx, ty, scale
    gaze: np.ndarray  # (T, 2) float32 x, y in -1..1
    fps: float  # frames per second

    def __len__(self) -> int:
        return len(self.aus)

    def frame(self, index: int) -> tuple[np.ndarray, Pose, Gaze]:
        """AU vector, pose and gaze of one frame, ready for ``FaceRenderer.render``."""
        gx, gy = (float(v) for v in self.gaze[index])
        return self.aus[index], Pose.from_array(self.pose[index]), Gaze(gx, gy)


def _check_frames(n_frames: int, fps: float) -> None:
    if n_frames < 1 or fps <= 0:
        raise ConfigError(f"need n_frames >= 1 and fps > 0, got {n_frames} and {fps}")


def sample_episode(
    rng: np.random.Generator,
    emotion: str,
    start: float,
    intensity: float | None = None,
    speed: float | None = None,
    library: PrototypeLibrary | None = None,
) -> Episode:
    """Draw one expression episode of an emotion with random timing and intensity.

    Args:
        rng: random generator.
        emotion: basic or compound emotion name (see ``au_prototypes.json``).
        start: onset start, seconds.
        intensity: apex intensity 0..1; random in 0.5..1 when None.
        speed: >1 faster onset/offset; random in 0.6..1.6 when None.
        library: prototypes; the shipped file when None.

    Returns:
        The episode; each AU is jittered by up to 15 % so no two episodes are identical.

    Raises:
        ConfigError: unknown emotion or intensity outside 0..1.
    """
    proto = (library or load_prototypes()).prototype(emotion)
    intensity = float(rng.uniform(0.5, 1.0)) if intensity is None else intensity
    speed = float(rng.uniform(0.6, 1.6)) if speed is None else speed
    if speed <= 0:
        raise ConfigError(f"episode speed must be > 0, got {speed}")
    jitter = 1 + 0.15 * rng.uniform(-1, 1, N_AUS)
    aus = np.clip(proto.aus(intensity) * jitter, 0, 1)
    return Episode(
        label=proto.name,
        aus=tuple(float(v) for v in aus),
        start=float(start),
        onset=float(rng.uniform(0.3, 1.0) / speed),
        apex=float(rng.uniform(0.5, 3.0)),
        offset=float(rng.uniform(0.5, 1.8) / speed),
        cues=proto.cues,
    )


def sample_episodes(
    rng: np.random.Generator,
    duration_s: float,
    emotions: Sequence[str],
    rate_per_min: float = 4.0,
    weights: Sequence[float] | None = None,
) -> list[Episode]:
    """Draw expression episodes at a Poisson rate over a recording.

    Args:
        rng: random generator.
        duration_s: length of the recording, seconds.
        emotions: names to choose from.
        rate_per_min: mean number of episodes per minute.
        weights: relative frequency of each emotion (uniform when None).

    Returns:
        Episodes sorted by start time; they may overlap (AUs combine by maximum).
    """
    if not emotions or rate_per_min < 0 or duration_s <= 0:
        raise ConfigError("need at least one emotion, rate_per_min >= 0 and duration_s > 0")
    p = None if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    episodes, t = [], 0.0
    while rate_per_min > 0:
        t += float(rng.exponential(60.0 / rate_per_min))
        if t >= duration_s:
            break
        emotion = str(emotions[int(rng.choice(len(emotions), p=p))])
        episodes.append(sample_episode(rng, emotion, t))
    return episodes


def episode_track(episodes: Sequence[Episode], n_frames: int, fps: float) -> np.ndarray:
    """AU intensities per frame from expression episodes (maximum over episodes).

    Returns:
        A (n_frames, N_AUS) float32 array.
    """
    _check_frames(n_frames, fps)
    out = np.zeros((n_frames, N_AUS), np.float32)
    for ep in episodes:
        first = max(0, math.floor(ep.start * fps))
        last = min(n_frames, math.ceil(ep.end * fps) + 1)
        if last <= first:
            continue
        env = ep.envelope(np.arange(first, last) / fps).astype(np.float32)
        vector = check_au_vector(np.asarray(ep.aus, np.float32))
        np.maximum(out[first:last], env[:, None] * vector[None, :], out=out[first:last])
    return out


def blink_track(
    rng: np.random.Generator,
    n_frames: int,
    fps: float,
    rate_per_min: float = 17.0,
    duration_s: tuple[float, float] = (0.12, 0.3),
    rate_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Eye closure (AU45) per frame: fast closing, slower opening, Poisson blink times.

    Args:
        rng: random generator.
        n_frames: number of frames.
        fps: frames per second.
        rate_per_min: mean blinks per minute.
        duration_s: range of blink durations, seconds.
        rate_scale: optional per-frame multiplier of the rate (e.g. more blinks when anxious).

    Returns:
        A (n_frames,) float32 array in 0..1 (1 = eyes fully closed).
    """
    _check_frames(n_frames, fps)
    closure = np.zeros(n_frames, np.float32)
    if rate_per_min <= 0:
        return closure
    scale = np.ones(n_frames) if rate_scale is None else np.clip(rate_scale, 0, None)
    warped = np.concatenate([[0.0], np.cumsum(scale) / fps])  # time at unit rate
    gaps = rng.exponential(60.0 / rate_per_min, int(warped[-1] * rate_per_min / 60 * 2) + 8)
    events = np.cumsum(np.maximum(gaps, 0.25))
    events = events[events < warped[-1]]
    times = np.interp(events, warped, np.arange(n_frames + 1) / fps)
    for t0, length in zip(times, rng.uniform(*duration_s, len(times)), strict=True):
        first, last = int(t0 * fps), min(n_frames, math.ceil((t0 + length) * fps) + 1)
        phase = np.clip((np.arange(first, last) / fps - t0) / length, 0, 1)
        # Closing takes about a third of the blink, reopening the rest.
        shape = np.where(
            phase < 0.35,
            np.sin(phase / 0.35 * np.pi / 2),
            np.cos((phase - 0.35) / 0.65 * np.pi / 2),
        )
        np.maximum(closure[first:last], shape.astype(np.float32), out=closure[first:last])
    return closure


def _segments(rng: np.random.Generator, mask: np.ndarray, fps: float, cfg: DynamicsConfig):
    """Phrase intervals (start, end in frames) inside the speaking parts of ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    phrases = []
    for begin, end in zip(edges[::2], edges[1::2], strict=True):
        t = begin / fps
        while t < end / fps:
            length = float(rng.uniform(*cfg.phrase_s))
            phrases.append((t, min(t + length, end / fps)))
            t += length + float(rng.uniform(*cfg.pause_s))
    return phrases


def speech_track(
    rng: np.random.Generator,
    n_frames: int,
    speaking: np.ndarray | None = None,
    config: DynamicsConfig | None = None,
) -> np.ndarray:
    """Speech-like mouth movement: AU25 (lips part) and AU26 (jaw drop) per frame.

    Args:
        rng: random generator.
        n_frames: number of frames.
        speaking: boolean per frame, True while the person talks (all True when None).
        config: syllable rate, phrase and pause durations, fps.

    Returns:
        A (n_frames, 2) float32 array: columns AU25 and AU26.
    """
    cfg = config or DynamicsConfig()
    _check_frames(n_frames, cfg.fps)
    mask = np.ones(n_frames, bool) if speaking is None else np.asarray(speaking, bool)
    if mask.shape != (n_frames,):
        raise ConfigError(f"speaking mask must have shape ({n_frames},), got {mask.shape}")
    fps, out = cfg.fps, np.zeros((n_frames, 2), np.float32)
    for t0, t1 in _segments(rng, mask, fps, cfg):
        n_syll = max(1, round((t1 - t0) * cfg.syllable_rate_hz))
        cumulative = np.cumsum(np.concatenate([[0.0], rng.uniform(0.6, 1.4, n_syll)]))
        bounds = t0 + (t1 - t0) * cumulative / cumulative[-1]
        first, last = int(t0 * fps), min(n_frames, math.ceil(t1 * fps))
        times = np.arange(first, last) / fps
        k = np.clip(np.searchsorted(bounds, times, side="right") - 1, 0, n_syll - 1)
        phase = (times - bounds[k]) / (bounds[k + 1] - bounds[k])
        opening = rng.uniform(0.2, 0.8, n_syll)[k] * np.sin(np.pi * np.clip(phase, 0, 1))
        out[first:last, 0] = np.clip(0.35 + 0.9 * opening, 0, 1)
        out[first:last, 1] = 0.6 * opening
    return out


def smooth_noise(rng: np.random.Generator, n_frames: int, fps: float, knot_s: float, dims: int = 1):
    """Smooth random curves (Catmull-Rom through normal knots every ``knot_s`` seconds).

    Returns:
        A (n_frames, dims) float64 array with a standard deviation of about 0.8.
    """
    _check_frames(n_frames, fps)
    step = fps * knot_s
    knots = rng.standard_normal((math.ceil(n_frames / step) + 4, dims))
    pos = np.arange(n_frames) / step + 1
    i = pos.astype(np.int64)
    f = (pos - i)[:, None]
    p0, p1, p2, p3 = knots[i - 1], knots[i], knots[i + 1], knots[i + 2]
    return 0.5 * (
        2 * p1
        + (p2 - p0) * f
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f**2
        + (3 * p1 - p0 - 3 * p2 + p3) * f**3
    )


def _gestures(rng: np.random.Generator, n_frames: int, fps: float, rate_per_min: float, amp):
    """Damped oscillations (nods or shakes) at Poisson times, degrees per frame."""
    out = np.zeros(n_frames)
    t, duration = 0.0, n_frames / fps
    while rate_per_min > 0:
        t += float(rng.exponential(60.0 / rate_per_min))
        if t >= duration:
            return out
        freq, cycles = rng.uniform(1.5, 2.8), rng.integers(1, 4)
        first = int(t * fps)
        last = min(n_frames, first + int(cycles / freq * fps) + 1)
        local = np.arange(last - first) / fps
        decay = np.exp(-local * freq * 0.8)
        out[first:last] += amp * rng.uniform(0.6, 1.2) * np.sin(2 * np.pi * freq * local) * decay
    return out


def head_motion_track(
    rng: np.random.Generator, n_frames: int, config: DynamicsConfig | None = None
):
    """Head pose per frame: smooth drift plus nods (pitch) and shakes (yaw).

    Returns:
        A (n_frames, 6) float32 array: yaw, pitch, roll (degrees), tx, ty, scale.
    """
    cfg = config or DynamicsConfig()
    amp = cfg.head_amplitude
    drift = smooth_noise(rng, n_frames, cfg.fps, 1.8, 6) * np.array([6, 4, 3, 0.04, 0.03, 0.02])
    pose = amp * drift
    pose[:, 5] += 1.0
    pose[:, 1] += _gestures(rng, n_frames, cfg.fps, cfg.nod_rate_per_min, 6.0 * amp)
    pose[:, 0] += _gestures(rng, n_frames, cfg.fps, cfg.shake_rate_per_min, 9.0 * amp)
    return np.clip(pose, _POSE_LIMITS[:, 0], _POSE_LIMITS[:, 1]).astype(np.float32)


def gaze_track(
    rng: np.random.Generator,
    n_frames: int,
    config: DynamicsConfig | None = None,
    rate_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Gaze per frame: fixations at random targets joined by quick saccades (about 50 ms).

    Args:
        rng: random generator.
        n_frames: number of frames.
        config: shift rate, spread and aversion probability, fps.
        rate_scale: optional per-frame multiplier of the shift rate (scanning when anxious).

    Returns:
        A (n_frames, 2) float32 array in -1..1.
    """
    cfg = config or DynamicsConfig()
    _check_frames(n_frames, cfg.fps)
    scale = np.ones(n_frames) if rate_scale is None else np.clip(rate_scale, 0, None)
    warped = np.concatenate([[0.0], np.cumsum(scale) / cfg.fps])
    rate = max(cfg.gaze_shift_rate_per_min, 1e-6) / 60.0
    count = int(warped[-1] * rate * 2) + 8
    events = np.cumsum(rng.exponential(1 / rate, count))
    events = np.interp(events[events < warped[-1]], warped, np.arange(n_frames + 1))
    targets = rng.normal(0, cfg.gaze_spread, (len(events) + 1, 2))
    away = rng.random(len(targets)) < cfg.gaze_aversion
    targets[away] += rng.choice([-0.6, 0.6], (int(away.sum()), 2)) * [1.0, 0.7]
    index = np.searchsorted(events, np.arange(n_frames), side="right")
    gaze = targets[index]
    width = max(1, round(0.05 * cfg.fps))
    kernel = np.ones(width) / width
    padded = np.concatenate([np.repeat(gaze[:1], width - 1, 0), gaze])
    smooth = np.stack([np.convolve(padded[:, d], kernel, "valid") for d in range(2)], axis=1)
    return np.clip(smooth, -1, 1).astype(np.float32)


def simulate_face_track(
    rng: np.random.Generator,
    n_frames: int,
    episodes: Sequence[Episode] = (),
    speaking: np.ndarray | None = None,
    config: DynamicsConfig | None = None,
) -> FaceTrack:
    """All dynamics of one face: expressions, blinks, speech, head motion and gaze.

    Args:
        rng: random generator (same seed, identical arrays).
        n_frames: number of frames.
        episodes: expression episodes (see :func:`sample_episodes`).
        speaking: boolean per frame, True while talking; None = silent.
        config: rates and amplitudes.

    Returns:
        The per-frame track. Expression cues (head pitch, gaze offsets, blink and gaze-shift
        rate multipliers) follow each episode's envelope.
    """
    cfg = config or DynamicsConfig()
    _check_frames(n_frames, cfg.fps)
    times = np.arange(n_frames) / cfg.fps
    aus = episode_track(episodes, n_frames, cfg.fps)
    cue = np.zeros((n_frames, 5))  # pitch, gaze x, gaze y, blink scale - 1, shift scale - 1
    for ep in episodes:
        first = max(0, math.floor(ep.start * cfg.fps))
        last = min(n_frames, math.ceil(ep.end * cfg.fps) + 1)
        c = ep.cues
        values = (c.pitch_deg, c.gaze_x, c.gaze_y, c.blink_rate_scale - 1, c.gaze_shift_scale - 1)
        if last > first and any(values):
            cue[first:last] += ep.envelope(times[first:last])[:, None] * np.asarray(values)
    blinks = blink_track(
        rng,
        n_frames,
        cfg.fps,
        cfg.blink_rate_per_min,
        cfg.blink_duration_s,
        rate_scale=1 + cue[:, 3],
    )
    aus[:, AU_INDEX["AU45"]] = np.maximum(aus[:, AU_INDEX["AU45"]], blinks)
    if speaking is not None:
        speech = speech_track(rng, n_frames, speaking, cfg)
        for column, name in enumerate(("AU25", "AU26")):
            aus[:, AU_INDEX[name]] = np.maximum(aus[:, AU_INDEX[name]], speech[:, column])
    pose = head_motion_track(rng, n_frames, cfg)
    pose[:, 1] = np.clip(pose[:, 1] + cue[:, 0], _POSE_LIMITS[1, 0], _POSE_LIMITS[1, 1])
    gaze = gaze_track(rng, n_frames, cfg, rate_scale=1 + cue[:, 4])
    gaze = np.clip(gaze + cue[:, 1:3], -1, 1).astype(np.float32)
    return FaceTrack(aus=np.clip(aus, 0, 1), pose=pose, gaze=gaze, fps=cfg.fps)
