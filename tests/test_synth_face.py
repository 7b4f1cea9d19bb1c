"""Tests of the synthetic face renderer, AU prototypes, dynamics and rendering styles."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.synth import (
    AU_NAMES,
    EMOTIONS,
    DynamicsConfig,
    FaceRenderer,
    Gaze,
    Identity,
    Pose,
    au_vector,
    blink_track,
    emotion_aus,
    get_style,
    head_motion_track,
    list_styles,
    load_prototypes,
    register_style,
    sample_episode,
    sample_episodes,
    simulate_face_track,
    speech_track,
    vary_style,
)
from emoclip_clinic.synth.face import FACE_TOP

# Regions of the face in face units (y down, 0 = eye line), mapped to pixels via the face box.
REGIONS = {
    "brows": (-0.55, -0.15),
    "eyes": (-0.12, 0.12),
    "nose": (0.15, 0.58),
    "mouth": (0.62, 1.3),
}
MOUTH_AUS = (
    "AU10",
    "AU12",
    "AU12L",
    "AU12R",
    "AU14",
    "AU14L",
    "AU14R",
    "AU15",
    "AU17",
    "AU20",
    "AU23",
    "AU24",
    "AU25",
    "AU26",
)
# AU -> (region it must change, regions it must leave pixel-identical).
EXPECTED = {
    **{au: ("brows", ("nose", "mouth")) for au in ("AU1", "AU2", "AU4")},
    **{au: ("eyes", ("mouth",)) for au in ("AU5", "AU7", "AU43", "AU45")},
    "AU6": ("eyes", ("brows",)),  # cheeks push the lower lids up and deepen the folds
    "AU9": ("nose", ()),  # also lowers the brows and lifts the upper lip (FACS)
    **{au: ("mouth", ("brows", "eyes")) for au in MOUTH_AUS},
}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    """Default identity, evenly lit (no shading) so that colour thresholds are stable."""
    flat = dataclasses.replace(get_style("plain"), name="flat", ambient=1.0, diffuse=0.0)
    return FaceRenderer(Identity(), flat)


def region(renderer: FaceRenderer, name: str) -> tuple[slice, slice]:
    """Pixel rows and columns of a face region of the frontal, neutral face."""
    x0, y0, x1, y1 = renderer.face_box()
    lo, hi = REGIONS[name]

    def to_px(v: float) -> int:
        return round(y0 + (v - FACE_TOP) / (1.32 - FACE_TOP) * (y1 - y0))

    return slice(to_px(lo), to_px(hi)), slice(int(x0), int(np.ceil(x1)))


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels whose colour differs clearly (summed channel difference above 30)."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).sum(axis=-1) > 30


def test_same_seed_gives_identical_pixels():
    first = Identity.sample(np.random.default_rng(5))
    assert first == Identity.sample(np.random.default_rng(5))
    assert first != Identity.sample(np.random.default_rng(6))
    aus, pose, gaze = emotion_aus("fear"), Pose(yaw=12, roll=-5), Gaze(0.3, -0.2)
    for style in ("mafw", "dfew"):
        one = FaceRenderer(first, style).render(aus, pose, gaze, noise_seed=9)
        two = FaceRenderer(first, style).render(aus, pose, gaze, noise_seed=9)
        assert one.shape == (112, 112, 3) and one.dtype == np.uint8
        np.testing.assert_array_equal(one, two)


def test_each_au_changes_its_own_region_only(renderer):
    neutral = renderer.render()
    assert set(EXPECTED) == set(AU_NAMES)
    for au, (area, untouched) in EXPECTED.items():
        diff = changed(renderer.render({au: 1.0}), neutral)
        assert diff[region(renderer, area)].mean() > 0.02, (au, area)
        for other in untouched:
            assert not diff[region(renderer, other)].any(), (au, other)


def test_each_au_is_visible_at_64_pixels(renderer):
    def small(image):
        return np.asarray(Image.fromarray(image).resize((64, 64), Image.Resampling.BILINEAR))

    neutral = small(renderer.render()).astype(np.int16)
    for au in AU_NAMES:
        diff = np.abs(small(renderer.render({au: 1.0})) - neutral).max(axis=-1)
        assert (diff > 25).sum() >= 6, au


def test_unilateral_au_acts_on_one_side(renderer):
    rows, cols = region(renderer, "mouth")
    middle = (cols.start + cols.stop) // 2
    diff = changed(renderer.render({"AU14R": 1.0}), renderer.render())[rows]
    # The subject's right side is on the image's left.
    assert diff[:, :middle].sum() > 3 * diff[:, middle:].sum()


def test_blink_closes_the_eyes(renderer):
    rows, cols = region(renderer, "eyes")

    def white(image):  # bright, unsaturated pixels: the eye whites
        rgb = image[rows, cols].astype(np.int16)
        return ((rgb.min(axis=-1) > 150) & (np.ptp(rgb, axis=-1) < 40)).sum()

    assert white(renderer.render()) >= 8
    assert white(renderer.render({"AU45": 1.0})) == 0
    assert white(renderer.render({"AU5": 1.0})) > white(renderer.render())
    track = blink_track(np.random.default_rng(0), 25 * 60, 25.0, rate_per_min=17.0)
    onsets = np.flatnonzero((track[1:] >= 0.9) & (track[:-1] < 0.9))
    assert track.max() > 0.95 and 8 <= len(onsets) <= 30


def dark_centroid_x(image: np.ndarray, rows: slice) -> float:
    """Mean column of the darkest pixels (pupils, lashes) within the given rows."""
    band = image[rows].astype(np.int16).sum(axis=-1)
    _ys, xs = np.nonzero(band < 80)  # pupils and lashes
    return float(xs.mean())


def test_yaw_moves_features_and_the_face_box(renderer):
    rows = region(renderer, "eyes")[0]
    frontal = dark_centroid_x(renderer.render(), rows)
    turned = dark_centroid_x(renderer.render(pose=Pose(yaw=30)), rows)
    assert turned - frontal > 3
    box0, box1 = renderer.face_box(), renderer.face_box(Pose(tx=0.25))
    height = box0[3] - box0[1]
    assert box1[0] - box0[0] == pytest.approx(0.25 * height, rel=0.05)
    assert height == pytest.approx(0.6 * 112, rel=0.05)
    assert renderer.face_box(aus={"AU26": 1.0})[3] > box0[3] + 3


def test_gaze_moves_the_irises(renderer):
    rows = region(renderer, "eyes")[0]
    left = dark_centroid_x(renderer.render(gaze=Gaze(-1, 0)), rows)
    right = dark_centroid_x(renderer.render(gaze=Gaze(1, 0)), rows)
    assert right - left > 1.5


def test_all_emotions_load_and_differ():
    library = load_prototypes()
    assert set(EMOTIONS) == set(library.emotion_names())
    vectors = {name: library.prototype(name).aus() for name in EMOTIONS}
    assert not vectors["neutral"].any()
    for i, a in enumerate(EMOTIONS):
        for b in EMOTIONS[i + 1 :]:
            assert np.abs(vectors[a] - vectors[b]).sum() > 0.5, (a, b)
    for au in AU_NAMES:
        assert library.describe(au)
    assert library.describe("AU4") == "brows pulled down and together"
    renderer = FaceRenderer(Identity(), "plain")
    images = [renderer.render(vectors[name]) for name in EMOTIONS]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert changed(images[i], images[j]).sum() > 20, (EMOTIONS[i], EMOTIONS[j])


def test_compounds_combine_their_components():
    library = load_prototypes()
    assert "happiness_surprise" in library.compound_names()
    for name in library.compound_names():
        proto = library.prototype(name)
        expected = np.max([library.prototype(c).aus() for c in proto.components], axis=0)
        np.testing.assert_allclose(proto.aus(), expected)
    np.testing.assert_allclose(emotion_aus("sadness_anger"), emotion_aus("anger_sadness"))
    cues = library.prototype("sadness_anger").cues
    assert cues.pitch_deg == pytest.approx(0.5 * library.prototype("sadness").cues.pitch_deg)


@pytest.mark.parametrize(
    "call",
    [
        lambda: au_vector({"AU99": 0.5}),
        lambda: au_vector({"AU12": 1.5}),
        lambda: emotion_aus("boredom"),
        lambda: emotion_aus("neutral_happiness"),
        lambda: emotion_aus("anger", intensity=2.0),
        lambda: FaceRenderer(Identity(), "vhs"),
        lambda: FaceRenderer(Identity(), "plain").render(np.zeros(5)),
        lambda: FaceRenderer(Identity(), "plain").render(np.full(len(AU_NAMES), np.nan)),
        lambda: Pose(yaw=200),
        lambda: Gaze(2.0, 0.0),
        lambda: Identity(hair_style="mohawk"),
        lambda: get_style("nope"),
        lambda: sample_episodes(np.random.default_rng(0), 10.0, []),
        lambda: speech_track(np.random.default_rng(0), 10, np.ones(3, bool)),
        lambda: DynamicsConfig(fps=0),
        lambda: FaceRenderer(Identity(), dataclasses.replace(get_style("plain"), background="x")),
        lambda: register_style(get_style("plain")),
    ],
)
def test_bad_arguments_raise_config_error(call):
    with pytest.raises(ConfigError):
        call()


def test_bad_protocol_file_raises(tmp_path):
    path = tmp_path / "protos.json"
    raw = json.loads(load_prototypes().path.read_text())
    raw["emotions"]["anger"]["aus"]["AU77"] = 1.0
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="AU77"):
        load_prototypes(path)
    with pytest.raises(ConfigError):
        load_prototypes(tmp_path / "missing.json")


def test_styles_differ_and_vary_reproducibly():
    assert {"mafw", "dfew", "interview", "plain"} <= set(list_styles())
    identity = Identity.sample(np.random.default_rng(1))
    mafw = FaceRenderer(identity, "mafw").render()
    dfew = FaceRenderer(identity, "dfew").render()
    assert np.abs(mafw.astype(np.int16) - dfew).mean() > 20
    interview = FaceRenderer(identity, "interview")
    assert interview.render().shape == (480, 640, 3)
    x0, y0, x1, y1 = interview.face_box()
    assert 150 < y1 - y0 < 220 and 0 < x0 < x1 < 640
    one = vary_style("mafw", np.random.default_rng(3))
    assert one == vary_style("mafw", np.random.default_rng(3)) and one != get_style("mafw")


def test_episode_envelope_and_track():
    episode = sample_episode(np.random.default_rng(0), "happiness", start=1.0, intensity=1.0)
    apex = episode.start + episode.onset + episode.apex / 2
    values = episode.envelope(np.array([0.5, apex, episode.end + 0.1]))
    np.testing.assert_allclose(values, [0.0, 1.0, 0.0])
    track = simulate_face_track(np.random.default_rng(0), 200, [episode])
    assert track.aus.shape == (200, len(AU_NAMES)) and track.pose.shape == (200, 6)
    au12 = track.aus[:, AU_NAMES.index("AU12")]
    assert au12[:20].max() == 0 and au12.max() > 0.8
    again = simulate_face_track(np.random.default_rng(0), 200, [episode])
    np.testing.assert_array_equal(track.aus, again.aus)
    np.testing.assert_array_equal(track.pose, again.pose)
    aus, pose, gaze = track.frame(50)
    assert isinstance(pose, Pose) and isinstance(gaze, Gaze) and aus.shape == (len(AU_NAMES),)


def test_speech_moves_the_jaw_only_while_speaking():
    speaking = np.zeros(500, bool)
    speaking[100:400] = True
    speech = speech_track(np.random.default_rng(2), 500, speaking)
    assert not speech[:100].any() and not speech[400:].any()
    jaw = speech[100:400, 1]
    peaks = np.flatnonzero((jaw[1:-1] > jaw[:-2]) & (jaw[1:-1] >= jaw[2:]) & (jaw[1:-1] > 0.1))
    assert 15 <= len(peaks) <= 60  # about 4.5 syllables a second over 12 s, minus pauses


def test_head_motion_amplitude_parameter():
    rng = np.random.default_rng
    still = head_motion_track(rng(1), 1000, DynamicsConfig(head_amplitude=0.0))
    lively = head_motion_track(rng(1), 1000, DynamicsConfig(head_amplitude=2.0))
    assert np.all(still[:, :5] == 0) and np.all(still[:, 5] == 1)
    assert lively[:, 0].std() > 3 and lively[:, 1].std() > 3
