"""Video input and output: probe a recording, plan its clips, stream them, write videos.

Data flows ``probe_video`` -> ``plan_clips`` -> ``ClipReader``/``iter_clips`` (long recordings,
bounded memory) or ``read_frames`` (short training clips); ``VideoWriter`` writes H.264 mp4.
Frame folders (MAFW-style ``.jpg``/``.png`` per frame) are read through the same functions.
This package does not import torch.
"""

from emoclip_clinic.video.clips import (
    Clip,
    ClipPlanConfig,
    ShortClipFill,
    fill_to_length,
    plan_clips,
    window_indices,
)
from emoclip_clinic.video.probe import VideoInfo, probe_video
from emoclip_clinic.video.reader import ClipFrames, ClipReader, iter_clips, iter_frames, read_frames
from emoclip_clinic.video.writer import EncoderSettings, VideoWriter, write_video

__all__ = [
    "Clip",
    "ClipFrames",
    "ClipPlanConfig",
    "ClipReader",
    "EncoderSettings",
    "ShortClipFill",
    "VideoInfo",
    "VideoWriter",
    "fill_to_length",
    "iter_clips",
    "iter_frames",
    "plan_clips",
    "probe_video",
    "read_frames",
    "window_indices",
    "write_video",
]
