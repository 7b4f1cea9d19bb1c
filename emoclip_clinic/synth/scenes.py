"""Timelines of a synthetic interview: who talks, who is visible, where the patient looks.

An interview alternates the interviewer's questions and the patient's answers. The patient's
behaviour parameters (from :mod:`emoclip_clinic.synth.cohort`) set how long the answers are
and how long the pauses (quantity of speech, lack of spontaneity), how often and how strongly
the face expresses (blunted affect), how much the head moves and nods (expressive gestures),
and how often the gaze and the head turn away (poor rapport). Scene events that are not the
patient's behaviour (the interviewer's face shown in a corner tile, stretches without the
patient's face) are drawn independently of severity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoclip_clinic.synth.dynamics import (
    DynamicsConfig,
    Episode,
    FaceTrack,
    sample_episode,
    sample_episodes,
    simulate_face_track,
)

# Relative frequency of the expressions a patient shows during an interview.
INTERVIEW_EXPRESSIONS = {
    "happiness": 0.42, "surprise": 0.12, "sadness": 0.12, "anxiety": 0.08, "anger": 0.06,
    "contempt": 0.05, "disgust": 0.05, "helplessness": 0.05, "disappointment": 0.05,
}  # fmt: skip
PRESENT, LEFT, OCCLUDED = 0, 1, 2  # values of Scene.absent
_YAW_LIMIT = 55.0  # the dynamics' pose limit, degrees


@dataclass(frozen=True)
class SceneSettings:
    """Scene events of the interviews that are independent of the patient's severity."""

    interviewer_fraction: float = 0.35  # share of interviews that show the interviewer's face
    absence_fraction: float = 0.4  # share of interviews with stretches without a patient face
    question_s: tuple[float, float] = (2.0, 6.0)  # range of question lengths, seconds


@dataclass(frozen=True)
class Scene:
    """Per-frame timelines of one interview."""

    patient: FaceTrack  # the patient's AUs, head pose (aversion included) and gaze
    interviewer: FaceTrack | None  # the interviewer's face track, if it is ever shown
    patient_speaking: np.ndarray  # (T,) bool
    interviewer_visible: np.ndarray  # (T,) bool: the interviewer's tile is on screen
    absent: np.ndarray  # (T,) int8: PRESENT, LEFT (empty room) or OCCLUDED (face covered)
    head_averted: np.ndarray  # (T,) bool: the head is turned away (aversion event)
    episodes: tuple[Episode, ...]  # the patient's expression episodes


def _mask(n: int, fps: float, intervals) -> np.ndarray:
    out = np.zeros(n, bool)
    for start, end in intervals:
        out[max(0, int(start * fps)) : max(0, min(n, int(end * fps)))] = True
    return out


def _turns(rng: np.random.Generator, duration: float, behaviour: dict, settings: SceneSettings):
    """Question and answer intervals: answers long enough to give the talking fraction."""
    fraction = float(np.clip(behaviour["talk_fraction"], 0.02, 0.95))
    # Answers long enough that talking fills ``fraction`` of question, latency, answer and gap.
    overhead = float(np.mean(settings.question_s)) + min(4.0, behaviour["pause_s"]) + 0.65
    mean_answer = overhead * fraction / (1 - fraction)
    questions, answers, t = [], [], 0.0
    while t < duration:
        question = float(rng.uniform(*settings.question_s))
        questions.append((t, t + question))
        t += question + min(4.0, float(rng.exponential(behaviour["pause_s"])))
        answer = float(np.clip(rng.exponential(mean_answer), 0.3, 120.0))
        answers.append((t, t + answer))
        t += answer + float(rng.uniform(0.3, 1.0))
    return questions, answers


def _episodes(rng: np.random.Generator, duration: float, behaviour: dict) -> list[Episode]:
    names, weights = list(INTERVIEW_EXPRESSIONS), np.asarray(list(INTERVIEW_EXPRESSIONS.values()))
    rate, level = behaviour["expression_rate_per_min"], behaviour["expression_intensity"]
    episodes, t = [], 0.0
    while True:
        t += float(rng.exponential(60.0 / rate))
        if t >= duration:
            return episodes
        emotion = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        intensity = float(np.clip(level * rng.uniform(0.75, 1.15), 0.05, 1.0))
        episodes.append(sample_episode(rng, emotion, t, intensity=intensity))


def _aversion(rng: np.random.Generator, n: int, fps: float, share: float):
    """Yaw offset (degrees) of head-aversion events filling about ``share`` of the time."""
    offset, averted = np.zeros(n), np.zeros(n, bool)
    budget, guard = share * n / fps, 0
    while budget > 0 and guard < 10_000:
        guard += 1
        length = float(rng.uniform(1.5, 5.0))
        start = int(rng.uniform(0, max(1.0, n / fps - length)) * fps)
        end = min(n, start + int(length * fps))
        offset[start:end] = float(rng.choice([-1, 1]) * rng.uniform(20, 35))
        averted[start:end] = True
        budget -= length
    width = max(1, round(0.4 * fps))  # turn the head over about 0.4 s
    smooth = np.convolve(np.pad(offset, (width // 2, width - 1 - width // 2), "edge"),
                         np.ones(width) / width, "valid")  # fmt: skip
    return smooth, averted


def _absences(rng: np.random.Generator, n: int, fps: float, settings: SceneSettings):
    absent = np.zeros(n, np.int8)
    if rng.random() >= settings.absence_fraction:
        return absent
    for _ in range(int(rng.integers(1, 3))):
        length = min(float(rng.uniform(2.0, 8.0)), 0.08 * n / fps)
        start = int(rng.uniform(0, max(0.0, n / fps - length)) * fps)
        absent[start : start + max(1, int(length * fps))] = LEFT if rng.random() < 0.5 else OCCLUDED
    return absent


def _interviewer_visible(rng: np.random.Generator, n: int, fps: float, settings: SceneSettings):
    visible = np.zeros(n, bool)
    if rng.random() >= settings.interviewer_fraction:
        return visible
    t, on = float(rng.uniform(0, 10)), True
    while t * fps < n:
        length = float(rng.exponential(20.0 if on else 30.0)) + 3.0
        if on:
            visible[int(t * fps) : int((t + length) * fps)] = True
        t, on = t + length, not on
    return visible


def plan_scene(
    rng: np.random.Generator, n_frames: int, fps: float, behaviour: dict, settings: SceneSettings
) -> Scene:
    """Draw the timelines and face tracks of one interview.

    Args:
        rng: random generator of this interview.
        n_frames: length in frames.
        fps: frame rate.
        behaviour: the patient's behaviour parameters (names as in ``LatentModel.behaviours``).
        settings: scene events independent of severity.
    """
    duration = n_frames / fps
    questions, answers = _turns(rng, duration, behaviour, settings)
    speaking = _mask(n_frames, fps, answers)
    episodes = _episodes(rng, duration, behaviour)
    pause = behaviour["pause_s"]
    dynamics = DynamicsConfig(
        fps=fps, head_amplitude=behaviour["gesture_amplitude"],
        nod_rate_per_min=behaviour["nod_rate_per_min"],
        shake_rate_per_min=0.3 * behaviour["nod_rate_per_min"],
        gaze_aversion=behaviour["gaze_aversion"], pause_s=(0.5 * pause, 1.5 * pause),
    )  # fmt: skip
    track = simulate_face_track(rng, n_frames, episodes, speaking, dynamics)
    yaw, averted = _aversion(rng, n_frames, fps, behaviour["head_aversion"])
    pose = track.pose.copy()
    pose[:, 0] = np.clip(pose[:, 0] + yaw, -_YAW_LIMIT, _YAW_LIMIT)
    pose[:, 1] = np.clip(pose[:, 1] + 0.2 * np.abs(yaw), -40, 40)  # turning away, head drops
    patient = FaceTrack(track.aus, pose, track.gaze, fps)
    visible = _interviewer_visible(rng, n_frames, fps, settings)
    interviewer = None
    if visible.any():
        # The interviewer nods and shows the odd friendly expression while listening.
        friendly = sample_episodes(rng, duration, ["happiness", "surprise"], 2.0, (0.8, 0.2))
        interviewer = simulate_face_track(
            rng, n_frames, friendly, _mask(n_frames, fps, questions), DynamicsConfig(fps=fps)
        )
    absent = _absences(rng, n_frames, fps, settings)
    return Scene(patient, interviewer, speaking, visible, absent, averted, tuple(episodes))
