"""Video probing, clip plans, streaming and writing, on the real videos and on files made here."""

from __future__ import annotations

import itertools
import stat
import tracemalloc
from pathlib import Path

import decord
import numpy as np
import pytest
from PIL import Image

from emoclip_clinic.errors import DataError
from emoclip_clinic.video import (
    ClipPlanConfig,
    ClipReader,
    EncoderSettings,
    VideoWriter,
    iter_clips,
    plan_clips,
    probe_video,
    read_frames,
    window_indices,
    write_video,
)

PEXELS = "data/real/videos/pyfeat_WolfgangLanger_Pexels.mp4"
GRID = "data/real/videos/grid_lwbsza.mpg"


def _pattern(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return ((xx + 2 * yy) % 64).astype(np.int16)


_PATTERN_MEAN = float(_pattern(160, 120).mean())


def numbered_frames(n: int, width: int = 160, height: int = 120) -> np.ndarray:
    """Frames whose brightness encodes their number (4 levels apart) over a smooth pattern."""
    pattern = _pattern(width, height)
    frames = [pattern + 4 * (i % 48) for i in range(n)]  # at most 63 + 188: no clipping
    return np.repeat(np.stack(frames)[..., None], 3, axis=-1).astype(np.uint8)


def frame_number(frame: np.ndarray) -> int:
    """Invert :func:`numbered_frames` (160x120, any resize) from the mean brightness."""
    return round((float(frame[..., 0].mean()) - _PATTERN_MEAN) / 4)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3,000-frame 160x120 25 fps recording (2 minutes)."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    block = numbered_frames(48)
    with VideoWriter(path, 25, 160, 120) as writer:
        for i in range(3000):
            writer.write(block[i % 48])
    return path


# Probing -------------------------------------------------------------------------------------


def test_probe_matches_provenance(shared_dir: Path) -> None:
    mp4 = probe_video(shared_dir / PEXELS)
    assert (mp4.n_frames, mp4.width, mp4.height, mp4.codec) == (472, 640, 360, "h264")
    assert mp4.fps == pytest.approx(24000 / 1001)
    assert mp4.duration_s == pytest.approx(472 * 1001 / 24000, abs=1e-6)
    mpg = probe_video(shared_dir / GRID)
    assert (mpg.n_frames, mpg.width, mpg.height, mpg.codec) == (75, 360, 288, "mpeg1video")
    assert mpg.fps == pytest.approx(25.0)
    assert mpg.duration_s == pytest.approx(3.0)


def test_probe_timestamps_agree_with_decord(shared_dir: Path) -> None:
    for name in (PEXELS, GRID):
        info = probe_video(shared_dir / name)
        reference = decord.VideoReader(str(shared_dir / name))
        expected = reference.get_frame_timestamp(np.arange(len(reference)))
        assert len(reference) == info.n_frames
        np.testing.assert_allclose(info.timestamps, expected, atol=1e-4)


def _bad_files(tmp: Path, shared_dir: Path) -> dict[str, tuple[Path, str]]:
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(20_000))
    (tmp / "truncated.mp4").write_bytes((shared_dir / PEXELS).read_bytes()[:100_000])
    (tmp / "no_frames").mkdir()
    (tmp / "no_frames" / "notes.txt").write_text("not a frame")
    return {
        "missing": (tmp / "missing.mp4", "not found"),
        "empty": (tmp / "empty.mp4", "empty"),
        "garbage": (tmp / "garbage.mp4", "not a readable video"),
        "truncated": (tmp / "truncated.mp4", "truncated"),
        "still": (shared_dir / "data/real/images/max_angry.jpg", "still image"),
        "folder": (tmp / "no_frames", "no frame images"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "garbage", "truncated", "still", "folder"])
def test_bad_inputs_raise_one_clear_error(case: str, tmp_path: Path, shared_dir: Path) -> None:
    path, problem = _bad_files(tmp_path, shared_dir)[case]
    with pytest.raises(DataError) as caught:
        probe_video(path)
    message = str(caught.value)
    assert str(path) in message and problem in message
    assert "\n" not in message


# Clip plans ----------------------------------------------------------------------------------


def test_plan_tiles_the_recording(shared_dir: Path) -> None:
    info = probe_video(shared_dir / PEXELS)
    clips = plan_clips(info.n_frames, info.timestamps, ClipPlanConfig())
    # 472 frames / 4 = 118 sampled frames = 3 full clips of 32 + a tail of 22.
    assert [c.n_real for c in clips] == [32, 32, 32, 22]
    assert clips[0].start_s == 0.0 and clips[-1].end_s == pytest.approx(info.duration_s)
    for before, after in itertools.pairwise(clips):
        assert before.end_s == pytest.approx(after.start_s)
    assert clips[1].start_s == pytest.approx(128 * 1001 / 24000)
    tail = clips[-1].frame_indices
    assert tail.shape == (32,) and tail[0] == 384 and tail[21] == 468
    assert list(tail[22:25]) == [384, 388, 392]  # looped from the clip's start


def test_plan_fill_modes_and_overlap() -> None:
    times = np.arange(100) / 25.0
    padded = plan_clips(100, times, ClipPlanConfig(downsample=2, clip_len=16, fill="pad"))
    assert [c.n_real for c in padded] == [16, 16, 16, 2]
    assert list(padded[-1].frame_indices[:4]) == [96, 98, 98, 98]
    dropped = plan_clips(100, times, ClipPlanConfig(downsample=2, clip_len=16, fill="drop"))
    assert len(dropped) == 3 and dropped[-1].end_s == pytest.approx(96 / 25)
    overlap = plan_clips(100, times, ClipPlanConfig(downsample=1, clip_len=40, stride=20))
    assert [int(c.frame_indices[0]) for c in overlap] == [0, 20, 40, 60]
    assert overlap[-1].n_real == 40 and overlap[-1].end_s == pytest.approx(4.0)


def test_window_random_in_bounds_and_centred_is_fixed() -> None:
    rng = np.random.default_rng(7)
    starts = set()
    for _ in range(50):
        window = window_indices(200, clip_len=16, downsample=4, rng=rng)
        assert window[0] >= 0 and window[-1] < 200 and np.all(np.diff(window) == 4)
        starts.add(int(window[0]))
    assert len(starts) > 10
    again = window_indices(200, 16, 4, rng=np.random.default_rng(7))
    assert again[0] == window_indices(200, 16, 4, rng=np.random.default_rng(7))[0]
    centred = window_indices(200, clip_len=16, downsample=4)
    assert centred[0] == (200 - 61) // 2
    short = window_indices(10, clip_len=8, downsample=4)
    assert list(short) == [0, 4, 8, 0, 4, 8, 0, 4]


def test_variable_frame_rate_uses_decoder_times(tmp_path: Path) -> None:
    frames = numbered_frames(40)
    # Alternating 20 ms and 60 ms gaps: index / avg_fps is wrong for most frames.
    times = np.concatenate([[0.0], np.cumsum(np.where(np.arange(39) % 2, 0.02, 0.06))])
    path = tmp_path / "vfr.mp4"
    with VideoWriter(path, 25, 160, 120, EncoderSettings(crf=10), variable_rate=True) as w:
        for frame, t in zip(frames, times, strict=True):
            w.write(frame, time_s=float(t))
    info = probe_video(path)
    np.testing.assert_allclose(info.timestamps[:, 0], times, atol=1e-4)
    clips = plan_clips(info.n_frames, info.timestamps, ClipPlanConfig(downsample=1, clip_len=7))
    assert clips[1].start_s == pytest.approx(times[7]) and times[7] != pytest.approx(7 / info.fps)
    got = read_frames(info, [7, 8, 31])
    assert [frame_number(f) for f in got] == [7, 8, 31]


# Reading -------------------------------------------------------------------------------------


def test_streamed_clips_equal_decord_frames(shared_dir: Path) -> None:
    path = shared_dir / PEXELS
    reader = ClipReader(path)
    wanted = np.unique(np.concatenate([clip.frame_indices for clip in reader.plan]))
    reference = dict(
        zip(wanted.tolist(), decord.VideoReader(str(path)).get_batch(wanted).asnumpy(), strict=True)
    )
    seen = []
    for clip_index, frames, start_s, end_s in reader:
        clip = reader.plan[clip_index]
        assert frames.shape == (32, 360, 640, 3) and frames.dtype == np.uint8
        assert (start_s, end_s) == (clip.start_s, clip.end_s)
        expected = np.stack([reference[i] for i in clip.frame_indices.tolist()])
        np.testing.assert_array_equal(frames, expected)
        seen.append(clip_index)
    assert seen == [0, 1, 2, 3]


def test_mpeg1_frames_close_to_decord(shared_dir: Path) -> None:
    # decord bundles an older FFmpeg whose MPEG-1 decoder rounds differently: close, not equal.
    path = shared_dir / GRID
    indices = [0, 11, 12, 40, 74]
    ours = read_frames(path, indices).astype(np.int16)
    theirs = decord.VideoReader(str(path)).get_batch(indices).asnumpy().astype(np.int16)
    assert np.abs(ours - theirs).mean() < 8


def test_read_frames_any_order_seeks_correctly(long_video: Path) -> None:
    info = probe_video(long_video)
    indices = [2999, 5, 1500, 1500, 700]
    frames = read_frames(info, indices)
    assert frames.shape == (5, 120, 160, 3)
    assert [frame_number(f) for f in frames] == [i % 48 for i in indices]
    small = read_frames(info, [10], size=(80, 60))[0].astype(np.float32)
    full = read_frames(info, [10])[0].astype(np.float32)
    assert small.shape == (60, 80, 3)
    assert np.abs(small - full.reshape(60, 2, 80, 2, 3).mean(axis=(1, 3))).mean() < 2.0
    with pytest.raises(DataError, match="frame 3000 requested"):
        read_frames(info, [3000])


def test_streaming_keeps_memory_bounded(long_video: Path) -> None:
    reader = ClipReader(long_video, ClipPlanConfig(downsample=4, clip_len=16))
    clip_bytes = 16 * 120 * 160 * 3
    tracemalloc.start()
    count = 0
    for clip_index, frames, _, _ in reader:
        assert frame_number(frames[0]) == (clip_index * 64) % 48
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == len(reader) == 47  # 750 sampled frames / 16
    assert reader.peak_frames_held <= 16 + 1
    assert peak < 6 * clip_bytes  # holding every clip would take 47


def test_resume_from_a_later_clip(long_video: Path) -> None:
    config = ClipPlanConfig(downsample=2, clip_len=8, stride=4)
    full = {i: f for i, f, _, _ in iter_clips(long_video, config) if 100 <= i < 103}
    resumed = iter_clips(long_video, config, start_clip=100)
    for _ in range(3):
        clip_index, frames, _, _ = next(resumed)
        np.testing.assert_array_equal(frames, full[clip_index])


def test_frame_folder_reads_like_a_video(tmp_path: Path) -> None:
    frames = numbered_frames(12, 64, 48)
    for i, frame in enumerate(frames):  # unpadded names: 2.png must come before 10.png
        Image.fromarray(frame).save(tmp_path / f"{i + 1}.png")
    info = probe_video(tmp_path, folder_fps=30)
    assert (info.n_frames, info.width, info.height, info.is_frame_folder) == (12, 64, 48, True)
    assert info.timestamps[3, 0] == pytest.approx(0.1)
    np.testing.assert_array_equal(read_frames(tmp_path, [1, 9, 1]), frames[[1, 9, 1]])
    clips = list(iter_clips(tmp_path, ClipPlanConfig(downsample=2, clip_len=4)))
    assert [c.clip_index for c in clips] == [0, 1]
    np.testing.assert_array_equal(clips[1].frames, frames[[8, 10, 8, 10]])


# Writing -------------------------------------------------------------------------------------


def test_written_video_decodes_back(tmp_path: Path) -> None:
    frames = numbered_frames(30)
    path = write_video(tmp_path / "out.mp4", frames, fps=25, settings=EncoderSettings(crf=18))
    reference = decord.VideoReader(str(path))
    assert len(reference) == 30 and reference.get_avg_fps() == pytest.approx(25)
    decoded = reference.get_batch(list(range(30))).asnumpy()
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(np.int16) - frames).mean() < 2.0
    assert stat.S_IMODE(path.stat().st_mode) & 0o044  # readable by others, not mkstemp's 0600


def test_writing_twice_gives_identical_bytes(tmp_path: Path) -> None:
    frames = numbered_frames(20)
    first = write_video(tmp_path / "a.mp4", frames, fps=24000 / 1001)
    second = write_video(tmp_path / "b.mp4", frames, fps=24000 / 1001)
    assert first.read_bytes() == second.read_bytes()
    assert probe_video(first).fps == pytest.approx(24000 / 1001)


def test_interrupted_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    frames = numbered_frames(5)
    with pytest.raises(RuntimeError), VideoWriter(path, 25, 160, 120) as writer:
        writer.write(frames[0])
        assert not path.exists()  # only the hidden temporary file exists while writing
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="expected uint8"), VideoWriter(path, 25, 160, 120) as w:
        w.write(frames[0, :60])
    with pytest.raises(DataError, match="even"):
        VideoWriter(path, 25, 161, 120)
    assert list(tmp_path.iterdir()) == []
