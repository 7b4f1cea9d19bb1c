"""The occlusion flag: its rule on hand-made descriptors, real talking heads, and ``embed``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from emoclip_clinic.faces.boxes import FaceBox
from emoclip_clinic.faces.detectors import make_detector
from emoclip_clinic.faces.occlusion import (
    PARTS,
    PATCH,
    RecordingOcclusion,
    RegionDescriber,
    occluded_frames,
    occlusion_scores,
)
from emoclip_clinic.faces.tracking import DetectorTracker, TrackerSettings
from emoclip_clinic.models import create_emoclip
from emoclip_clinic.scoring.cache import EmbeddingCache
from emoclip_clinic.scoring.embed import EmbedSettings, embed_recording
from emoclip_clinic.video import probe_video, read_frames, write_video

SIZE = PATCH * PATCH
GRID = ("grid_lwbsza.mpg", "grid_swiz3n.mpg")


def _recording(n: int = 100, seed: int = 0) -> np.ndarray:
    """Descriptors of a quiet recording: fixed patches plus camera noise (sd 6 grey levels)."""
    rng = np.random.default_rng(seed)
    template = rng.integers(40, 200, len(PARTS) * SIZE)
    return np.clip(template + rng.normal(0, 6, (n, len(PARTS) * SIZE)), 0, 255).astype(np.uint8)


def _cover(descriptors: np.ndarray, frames: slice, parts: tuple[str, ...]) -> np.ndarray:
    """A copy with ``parts`` of ``frames`` replaced by a bright, even surface (a hand)."""
    out = descriptors.copy()
    for part in parts:
        k = PARTS.index(part)
        out[frames, k * SIZE : (k + 1) * SIZE] = 215
    return out


def test_a_hand_over_the_lower_face_is_flagged_even_when_it_stays_long():
    covered = slice(30, 70)  # 40% of the recording: the usual level must not follow the hand
    scores = occlusion_scores(_cover(_recording(), covered, PARTS))
    flagged = scores >= 1
    assert flagged[covered].all()
    assert not flagged[:30].any() and not flagged[70:].any()


@pytest.mark.parametrize(
    ("changed", "what"),
    [
        (("lower_face", "below_chin"), "head tilt: neck shows under the chin, the body stays"),
        (("lower_face", "below_chin_fixed"), "whole body moves, the face keeps its neck"),
        (("below_chin", "below_chin_fixed"), "hands gesture below the face, the mouth is free"),
        (("lower_face",), "laughing: only the mouth changes"),
    ],
)
def test_changes_short_of_all_three_regions_are_not_flagged(changed, what):
    scores = occlusion_scores(_cover(_recording(), slice(30, 50), changed))
    assert (scores < 1).all(), what


def test_a_flicker_in_a_still_recording_is_not_flagged():
    rng = np.random.default_rng(1)
    still = rng.integers(40, 200, len(PARTS) * SIZE) + rng.normal(0, 1, (100, len(PARTS) * SIZE))
    still[40:46] += 5  # an exposure blip: 5 grey levels, 5 times the usual deviation
    assert (occlusion_scores(still.astype(np.uint8)) < 1).all()
    assert occlusion_scores(np.zeros((0, len(PARTS) * SIZE), np.uint8)).shape == (0,)


def test_runs_shorter_than_a_second_do_not_count():
    times = np.arange(30) / 5.0  # 5 sampled frames per second
    scores = np.zeros(30)
    scores[[2, 3]] = 1.5  # 0.4 s: a head movement
    scores[10:15] = 1.2  # 1.0 s
    scores[20:29] = 3.0  # 1.8 s
    flagged = occluded_frames(scores, times, min_seconds=1.0)
    assert np.flatnonzero(flagged).tolist() == list(range(10, 15)) + list(range(20, 29))


def test_clip_fractions_count_each_shared_frame_once():
    descriptors = _cover(_recording(40), slice(24, 40), PARTS)
    record = RecordingOcclusion(np.arange(50) / 10.0)
    record.add(0, range(0, 20), descriptors[0:20])
    record.add(1, range(16, 36), descriptors[16:36])  # overlaps clip 0 by 4 frames
    record.add(2, [36, 37, 38, 39, 36], descriptors[[36, 37, 38, 39, 36]])  # looped frame
    record.add(3, [], descriptors[:0])  # no face in this clip
    frames, scores, occluded = record.frames()
    assert frames.tolist() == list(range(40))
    np.testing.assert_allclose(scores, occlusion_scores(descriptors))
    assert np.flatnonzero(occluded).tolist() == list(range(24, 40))
    np.testing.assert_allclose(record.clip_fractions(4), [0.0, 0.6, 1.0, 0.0])


@pytest.fixture(scope="module")
def grid_faces(shared_dir):
    """Every 2nd frame of the GRID talking heads and the tracker's boxes of the patient."""
    detector = make_detector("builtin")
    out = {}
    for name in GRID:
        info = probe_video(shared_dir / "data/real/videos" / name)
        indices = np.arange(0, info.n_frames, 2)
        frames = read_frames(info, indices)
        tracker = DetectorTracker(detector, TrackerSettings(detect_every=2))
        out[name] = (frames, tracker.boxes(indices, frames))
    return out


def _forearm(frames: np.ndarray, box: FaceBox, top: float) -> np.ndarray:
    """Frames with a hand at ``top`` (box units) on a forearm in a pale sleeve from below.

    A bare forearm would barely show: under the chin of these speakers is their neck, of the
    same grey as skin (docs/faces.md, known limits).
    """
    out = frames.copy()
    left, right = int(box.x + 0.3 * box.w), int(box.x + 0.75 * box.w)
    wrist = int(box.y + (top + 0.4) * box.h)
    out[:, int(box.y + top * box.h) : wrist, left:right] = (196, 150, 124)
    out[:, wrist:, left:right] = (228, 230, 236)
    return out


@pytest.mark.parametrize("name", GRID)
def test_real_talking_heads_flag_nothing_but_a_hand_at_the_mouth(grid_faces, name):
    frames, boxes = grid_faces[name]
    assert all(b is not None for b in boxes)
    assert (occlusion_scores(RegionDescriber().describe(frames, boxes)) < 1).all()
    covered = slice(12, 27)  # 15 of 38 frames, 1.2 s
    hand = frames.copy()
    hand[covered] = _forearm(frames[covered], boxes[0], top=0.7)  # over the mouth
    flagged = occlusion_scores(RegionDescriber().describe(hand, boxes)) >= 1
    assert flagged[covered].all() and flagged.sum() == 15
    darker = frames.copy()
    darker[covered] = (frames[covered] * 0.7).astype(np.uint8)  # the light dims: not a hand
    assert (occlusion_scores(RegionDescriber().describe(darker, boxes)) < 1).all()


def test_embed_leaves_occluded_clips_out_unless_switched_off(grid_faces, tmp_path):
    frames, boxes = grid_faces[GRID[0]]
    hand = frames.copy()
    hand[8:24] = _forearm(frames[8:24], boxes[0], top=0.7)
    video = write_video(tmp_path / "hand.mp4", hand, fps=12.5)
    source_boxes = dict(enumerate(boxes))

    class Boxes:  # the tracker's boxes of the clean frames, as a track file would give them
        description = "test-boxes"

        def boxes(self, indices, clip_frames):
            return [source_boxes[i] for i in indices]

    torch.manual_seed(0)
    model = create_emoclip("emoclip-tiny")
    on = embed_recording(video, model, Boxes(), EmbedSettings(downsample=1, clip_len=8))
    np.testing.assert_allclose(on.occluded_fraction, [0.0, 1.0, 1.0, 0.0, 0.0])
    assert on.usable.tolist() == [True, False, False, True, True]
    assert on.occluded.tolist() == [False, True, True, False, False] and not on.no_face.any()
    assert np.isfinite(on.embeddings).all()  # occluded clips keep their embeddings
    assert on.meta["occluded_clips"] == 2
    off_settings = EmbedSettings(downsample=1, clip_len=8, max_occluded_fraction=None)
    off = embed_recording(video, model, Boxes(), off_settings)
    assert off.usable.all() and not off.occluded.any()
    np.testing.assert_allclose(off.occluded_fraction, on.occluded_fraction)


def test_the_threshold_is_part_of_the_cache_key_and_old_entries_are_recomputed(tmp_path):
    keys = {json.dumps(EmbedSettings(max_occluded_fraction=v).key_parts(), sort_keys=True)
            for v in (0.5, 0.3, None)}  # fmt: skip
    assert len(keys) == 3
    cache = EmbeddingCache(tmp_path)
    np.savez(tmp_path / "old.npz", embeddings=np.zeros((2, 4)), start_s=np.zeros(2),
             end_s=np.ones(2), face_fraction=np.ones(2), confidence=np.ones(2),
             usable=np.ones(2, bool))  # fmt: skip
    (tmp_path / "old.json").write_text("{}")
    assert cache.get("old") is None  # written before the occlusion flag: embedded again
