"""Synthetic MAFW and DFEW sets: captions, layouts read by the real readers, labels, determinism."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import decord
import numpy as np
import pytest

from emoclip_clinic.data.mafw import MAFW_CLASSES, read_mafw
from emoclip_clinic.data.registry import candidate_classes, read_dataset
from emoclip_clinic.errors import ConfigError
from emoclip_clinic.synth import (
    EMOTIONS,
    DynamicsConfig,
    load_prototypes,
    sample_episode,
    simulate_face_track,
)
from emoclip_clinic.synth.captions import (
    caption_clip,
    caption_vocabulary,
    clip_features,
    load_phrase_bank,
)
from emoclip_clinic.synth.expression_sets import DFEW_FREQUENCIES, make_dfew, make_mafw

# Written here, independently of the phrase bank's own list: emotion names and synonyms.
EMOTION_WORDS = {
    "anger", "angry", "angrily", "mad", "furious", "rage", "happy", "happiness", "joy", "joyful",
    "glad", "cheerful", "sad", "sadness", "sorrow", "unhappy", "fear", "afraid", "scared",
    "frightened", "terrified", "surprise", "surprised", "astonished", "shocked", "disgust",
    "disgusted", "revolted", "contempt", "scorn", "disdain", "anxiety", "anxious", "nervous",
    "worried", "helpless", "helplessness", "disappointed", "disappointment", "neutral",
    "emotion", "emotional", "smile", "smiling", "frown", "frowning", "grin", "sneer", "smirk",
}  # fmt: skip
WORD = re.compile(r"[a-z]+")
TINY = {"size": 56, "fps": 8.0, "seconds": (1.0, 1.5)}


def _random_caption(rng: np.random.Generator, label: str) -> str:
    n = int(rng.integers(10, 30))
    episodes = []
    if label != "neutral":
        episodes = [sample_episode(rng, label, float(rng.uniform(0, 0.3)), speed=2.0)]
    speaking = np.ones(n, bool) if rng.random() < 0.3 else None
    config = DynamicsConfig(fps=10.0, head_amplitude=float(rng.uniform(0.3, 1.5)))
    track = simulate_face_track(rng, n, episodes, speaking, config)
    return caption_clip(track, rng, speaking)


@pytest.fixture(scope="module")
def captions() -> dict[str, list[str]]:
    rng = np.random.default_rng(7)
    labels = list(EMOTIONS) + list(load_prototypes().compound_names())
    return {label: [_random_caption(rng, label) for _ in range(12)] for label in labels}


@pytest.fixture(scope="module")
def mafw(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mafw")
    make_mafw(root, n_identities=6, clips_per_identity=3, compound_fraction=0.3, seed=3, **TINY)
    return root


@pytest.fixture(scope="module")
def dfew(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dfew")
    make_dfew(root, n_identities=5, clips_per_identity=4, seed=3, **TINY)
    return root


def _meta(root: Path) -> dict:
    return json.loads((root / "synth_meta.json").read_text(encoding="utf-8"))


def test_captions_never_name_an_emotion_or_a_synonym(captions, mafw):
    written = [c["caption"] for c in _meta(mafw)["clips"]]
    every = [c for group in captions.values() for c in group] + written
    vocabulary = caption_vocabulary()
    assert not vocabulary & EMOTION_WORDS
    for caption in every:
        words = set(WORD.findall(caption.lower()))
        assert not words & EMOTION_WORDS, caption
        assert words <= vocabulary, words - vocabulary


def test_captions_vary_in_words_structure_and_length(captions):
    every = [c for group in captions.values() for c in group]
    assert len(set(every)) == len(every)
    openings = Counter(" ".join(c.split()[:2]) for c in every)
    assert len(openings) >= 25 and max(openings.values()) < 0.2 * len(every)
    sentences = Counter(len(re.findall(r"[.!?](?:\s|$)", c)) for c in every)
    assert set(sentences) <= {1, 2, 3} and len(sentences) == 3
    assert 150 <= len(caption_vocabulary()) <= 600


def test_captions_describe_what_the_face_does():
    rng = np.random.default_rng(0)
    strong = sample_episode(rng, "happiness", 0.1, intensity=1.0, speed=2.0)
    track = simulate_face_track(rng, 40, [strong], None, DynamicsConfig(head_amplitude=0.0))
    keys = {m.key for m in clip_features(track).face}
    assert {"lip_corners_up", "cheeks_raise"} <= keys
    sad = sample_episode(rng, "sadness", 0.0, intensity=1.0, speed=2.0)
    track = simulate_face_track(rng, 60, [sad], None, DynamicsConfig(head_amplitude=0.0))
    features = clip_features(track)
    assert "brows_up_together" in {m.key for m in features.face}
    assert {"head_down", "gaze_down"} & {m.key for m in features.other}
    still = simulate_face_track(rng, 30, [], None, DynamicsConfig(head_amplitude=0.0))
    assert clip_features(still).face == ()


def test_a_phrase_bank_with_an_emotion_word_is_refused(tmp_path):
    bank = json.loads(load_phrase_bank().path.read_text(encoding="utf-8"))
    bank["movements"]["lip_corners_up"]["verb"].append("smiles broadly")
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(bank), encoding="utf-8")
    with pytest.raises(ConfigError, match="smiles"):
        load_phrase_bank(path)


def test_mafw_set_reads_back_with_identity_disjoint_folds(mafw):
    meta = _meta(mafw)
    singles = {c["name"] for c in meta["clips"] if "_" not in c["label"]}
    for label_type in ("single", "compound"):
        for fold in range(1, 6):
            train, report_train = read_mafw(mafw, fold, "train", label_type)
            test, report_test = read_mafw(mafw, fold, "test", label_type)
            assert not report_train.skipped and not report_test.skipped
            assert not {s.group for s in train} & {s.group for s in test}
            assert all(s.caption and s.path.is_file() for s in train + test)
            # zero-shot reads the no_caption lists: the same clips without captions
            evaluated, _ = read_dataset("mafw", mafw, fold, "test", label_type)
            assert [s.sample_id for s in evaluated] == [s.sample_id for s in test]
            assert all(s.caption is None for s in evaluated)
            if label_type == "single":
                assert {s.sample_id for s in train + test} == singles
            else:
                assert all(len(s.labels) == 2 for s in train + test)
    compounds = {c["label"] for c in meta["clips"] if "_" in c["label"]}
    assert candidate_classes("mafw", mafw, "compound") == sorted(compounds)
    assert candidate_classes("mafw", mafw, "single") == list(MAFW_CLASSES)


def test_mafw_labels_are_balanced_with_a_compound_share(mafw):
    labels = [c["label"] for c in _meta(mafw)["clips"]]
    single = Counter(label for label in labels if "_" not in label)
    compound = [label for label in labels if "_" in label]
    assert len(compound) == round(0.3 * 18)
    assert max(single.values()) - min(single.values()) <= 1
    assert set(compound) <= set(load_prototypes().compound_names())
    assert len(set(compound)) == len(compound)  # cycles through compounds before repeating


def test_dfew_set_reads_back_with_dfew_imbalance(dfew):
    clips = _meta(dfew)["clips"]
    counts = Counter(c["label"] for c in clips)
    assert set(counts) == set(DFEW_FREQUENCIES)
    for label, share in DFEW_FREQUENCIES.items():
        assert abs(counts[label] - share * len(clips)) <= 1, (label, counts)
    seen = set()
    for fold in range(1, 6):
        test, report = read_dataset("dfew", dfew, fold, "test")
        train, _ = read_dataset("dfew", dfew, fold, "train")
        assert not report.skipped and len(train) + len(test) == len(clips)
        seen |= {s.sample_id for s in test}
    assert seen == {c["name"] for c in clips}
    assert _meta(dfew)["settings"]["style"] == "dfew"


def _frames(path: Path) -> np.ndarray:
    reader = decord.VideoReader(str(path))
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def test_every_clip_decodes_with_decord(mafw, dfew):
    for root in (mafw, dfew):
        clips = {c["name"]: c for c in _meta(root)["clips"]}
        files = sorted(root.rglob("*.mp4"))
        assert len(files) == len(clips)
        for path in files:
            reader = decord.VideoReader(str(path))
            assert len(reader) == clips[path.stem]["frames"]
            assert reader[0].shape == (56, 56, 3)


def test_same_seed_same_files_whatever_the_worker_count(mafw, tmp_path):
    again = tmp_path / "again"
    make_mafw(again, n_identities=6, clips_per_identity=3, compound_fraction=0.3, seed=3,
              workers=2, **TINY)  # fmt: skip
    texts = sorted(p.relative_to(mafw) for p in mafw.rglob("*.txt"))
    assert texts == sorted(p.relative_to(again) for p in again.rglob("*.txt"))
    for name in [*texts, Path("synth_meta.json")]:
        assert (mafw / name).read_bytes() == (again / name).read_bytes(), name
    for path in sorted((mafw / "data" / "clips").glob("*.mp4"))[:6]:
        assert np.array_equal(_frames(path), _frames(again / "data" / "clips" / path.name))
    other = tmp_path / "other"
    make_mafw(other, n_identities=6, clips_per_identity=3, seed=4, **TINY)
    assert _meta(other)["clips"][0]["caption"] != _meta(mafw)["clips"][0]["caption"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_identities": 0}, "n_identities must be >= 5"),
        ({"clips_per_identity": -1}, "clips_per_identity must be >= 1"),
        ({"style": "cartoon"}, "unknown rendering style 'cartoon'"),
        ({"size": 47}, "size must be even"),
        ({"size": 48}, "not 48 or 72 (decord)"),
        ({"seconds": (-1.0, 2.0)}, "seconds must satisfy"),
        ({"colour": "red"}, "unknown data-set settings: colour"),
    ],
)
def test_bad_arguments_give_one_clear_error(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_mafw(tmp_path / "x", **settings)
    assert not (tmp_path / "x").exists()


def test_a_used_folder_or_a_negative_seed_is_refused(mafw, tmp_path):
    with pytest.raises(ConfigError, match="not empty"):
        make_dfew(mafw)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        make_dfew(tmp_path / "y", seed=-1)


def test_cli_reports_a_bad_style_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "emoclip_clinic", "synth", "dfew", "--style", "cartoon",
         "--out", str(tmp_path / "z")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1
    assert "unknown rendering style 'cartoon'" in lines[0]


def test_world_makes_all_three_sets_with_demo_sizes_in_one_place(tmp_path):
    from emoclip_clinic.synth.expression_sets import ClipSetConfig
    from emoclip_clinic.synth.interviews import InterviewConfig
    from emoclip_clinic.synth.world import DEMO_SIZES, DemoSizes, make_world

    assert DEMO_SIZES.mafw.n_clips >= 300 and DEMO_SIZES.interviews.n_patients >= 20
    tiny = DemoSizes(
        mafw=ClipSetConfig(n_identities=5, clips_per_identity=1, size=56, fps=8.0,
                           compound_fraction=0.0),
        dfew=ClipSetConfig(n_identities=5, clips_per_identity=1, size=56, fps=8.0, style="dfew"),
        interviews=InterviewConfig(n_patients=2, interviews_per_patient=(1, 1), minutes=0.1,
                                   width=64, height=64, fps=4.0),
    )  # fmt: skip
    summary = make_world(tmp_path, tiny, seed=1)
    assert read_dataset("mafw", tmp_path / "mafw", 1, "test")[0]
    assert read_dataset("dfew", tmp_path / "dfew", 1, "test")[0]
    assert summary.interviews.n_interviews == 2
    assert (tmp_path / "interviews" / "labels_panss.csv").is_file()
