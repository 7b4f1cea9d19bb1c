"""Synthetic face world: a parametric FACS-driven face renderer with known ground truth.

``au`` holds the action-unit inventory and the emotion prototypes (read from
``protocols/emotions/au_prototypes.json``), ``face`` the identity, pose and gaze settings and
the renderer, ``dynamics`` the per-frame expression, blink, speech, head and gaze tracks, and
``styles`` the looks of the synthetic data sets (framing, background, colour, degradation).
"""

from emoclip_clinic.synth.au import (
    AU_NAMES,
    EMOTIONS,
    N_AUS,
    EmotionCues,
    EmotionPrototype,
    PrototypeLibrary,
    au_dict,
    au_vector,
    combine_aus,
    emotion_aus,
    load_prototypes,
)
from emoclip_clinic.synth.dynamics import (
    DynamicsConfig,
    Episode,
    FaceTrack,
    blink_track,
    episode_track,
    gaze_track,
    head_motion_track,
    sample_episode,
    sample_episodes,
    simulate_face_track,
    speech_track,
)
from emoclip_clinic.synth.face import FaceRenderer, Gaze, Identity, Pose, render_face
from emoclip_clinic.synth.styles import (
    RenderStyle,
    get_style,
    list_styles,
    register_style,
    vary_style,
)

__all__ = [
    "AU_NAMES",
    "EMOTIONS",
    "N_AUS",
    "DynamicsConfig",
    "EmotionCues",
    "EmotionPrototype",
    "Episode",
    "FaceRenderer",
    "FaceTrack",
    "Gaze",
    "Identity",
    "Pose",
    "PrototypeLibrary",
    "RenderStyle",
    "au_dict",
    "au_vector",
    "blink_track",
    "combine_aus",
    "emotion_aus",
    "episode_track",
    "gaze_track",
    "get_style",
    "head_motion_track",
    "list_styles",
    "load_prototypes",
    "register_style",
    "render_face",
    "sample_episode",
    "sample_episodes",
    "simulate_face_track",
    "speech_track",
    "vary_style",
]
