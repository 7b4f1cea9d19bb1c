"""Zero-shot recognition: text-side embeddings, class lists, the evaluation and its outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from emoclip_clinic.data.dataset import ClipSampling
from emoclip_clinic.data.mafw import MAFW_CLASSES, read_mafw
from emoclip_clinic.data.samples import VideoSample
from emoclip_clinic.errors import ConfigError, DataError
from emoclip_clinic.models import create_emoclip, get_tokenizer
from emoclip_clinic.models.checkpoints import save_checkpoint
from emoclip_clinic.stats.classification import classification_metrics
from emoclip_clinic.zeroshot.classifier import (
    description_embeddings,
    encode_texts,
    template_embeddings,
)
from emoclip_clinic.zeroshot.descriptions import (
    ClassDescriptions,
    list_descriptions,
    load_descriptions,
    load_templates,
)
from emoclip_clinic.zeroshot.embedding import evenly_spaced_windows
from emoclip_clinic.zeroshot.outputs import table, write_outputs
from emoclip_clinic.zeroshot.run import ZeroShotConfig, chance_levels, class_list, zeroshot
from tests.toy_mafw import make_toy_mafw

EMOTION_WORDS = set(MAFW_CLASSES) | {
    "angry", "happy", "sad", "fearful", "afraid", "surprised", "disgusted", "contemptuous",
    "anxious", "helpless", "disappointed", "joy", "joyful", "scared",
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_emoclip("emoclip-tiny").eval()


def test_shipped_descriptions_cover_the_taxonomies_without_naming_emotions():
    assert {"mafw11", "basic7"} <= set(list_descriptions())
    mafw = load_descriptions("mafw11")
    assert tuple(mafw.classes) == MAFW_CLASSES
    assert set(load_descriptions("basic7").classes) == set(MAFW_CLASSES[:7])
    for sentences in mafw.classes.values():
        words = {w.strip(".,;").lower() for s in sentences for w in s.split()}
        assert not words & EMOTION_WORDS


def test_compound_class_is_the_mean_of_the_components_normalised_embeddings(tiny, caplog):
    tokenizer = get_tokenizer(tiny.config)
    descriptions = load_descriptions("mafw11")
    classes = ["anger", "sadness", "anger_sadness"]
    emb = description_embeddings(tiny, tokenizer, descriptions, classes)
    anger = encode_texts(tiny, tokenizer, list(descriptions.classes["anger"]))
    sadness = encode_texts(tiny, tokenizer, list(descriptions.classes["sadness"]))
    torch.testing.assert_close(emb[0], F.normalize(anger.mean(0), dim=-1))
    sadness_class = F.normalize(sadness.mean(0), dim=-1)
    torch.testing.assert_close(emb[1], sadness_class)
    expected = F.normalize((F.normalize(anger.mean(0), dim=-1) + sadness_class) / 2, dim=-1)
    torch.testing.assert_close(emb[2], expected)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3))
    with caplog.at_level("WARNING"):
        concat = description_embeddings(tiny, tokenizer, descriptions, classes, "concatenate")
    joined = " ".join(descriptions.classes["anger"] + descriptions.classes["sadness"])
    torch.testing.assert_close(concat[2], encode_texts(tiny, tokenizer, [joined])[0])
    torch.testing.assert_close(concat[:2], emb[:2])
    # the joined descriptions are longer than the tiny model's 32 tokens: said, not silent
    assert "1 of 1 concatenated compound descriptions are longer than the text encoder's 32-" in (
        caplog.text
    )
    caplog.clear()
    short = ClassDescriptions("short", {"anger": ("frown",), "sadness": ("tears",)})
    with caplog.at_level("WARNING"):
        description_embeddings(tiny, tokenizer, short, classes, "concatenate")
    assert "cut there" not in caplog.text


def test_prompt_ensemble_names_the_emotion_and_averages_templates(tiny):
    tokenizer = get_tokenizer(tiny.config)
    templates = load_templates()
    assert templates.prompts("anger_sadness")[0] == "an expression of anger and sadness."
    emb = template_embeddings(tiny, tokenizer, templates, ["anger"])
    each = encode_texts(tiny, tokenizer, templates.prompts("anger"))
    torch.testing.assert_close(emb[0], F.normalize(each.mean(0), dim=-1))


def test_bad_text_files_give_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no descriptions file nope"):
        load_descriptions("nope")
    bad = tmp_path / "mine.json"
    bad.write_text(json.dumps({"classes": {"anger": [""]}}))
    with pytest.raises(ConfigError, match="class 'anger' has no sentence"):
        load_descriptions(bad)
    bad.write_text(json.dumps({"templates": ["a face"]}))
    with pytest.raises(ConfigError, match="emotion"):
        load_templates(bad)
    with pytest.raises(ConfigError, match="no class 'boredom'"):
        load_descriptions("mafw11").components("anger_boredom")


def test_class_list_uses_the_taxonomy_or_the_compounds_present(tmp_path):
    descriptions = load_descriptions("mafw11")
    single = [VideoSample("1", tmp_path, ("anger",)), VideoSample("2", tmp_path, ("fear",))]
    assert class_list(single, descriptions) == list(MAFW_CLASSES)
    compound = [VideoSample("1", tmp_path, ("anger", "sadness")), *single]
    assert class_list(compound, descriptions) == ["anger", "anger_sadness", "fear"]
    with pytest.raises(DataError, match="not classes of the descriptions 'basic7'"):
        class_list([VideoSample("1", tmp_path, ("contempt",))], load_descriptions("basic7"))
    # A fixed candidate list (MAFW's compounds) keeps classes absent from this test split
    fixed = ["anger_sadness", "fear_surprise", "anger"]
    assert class_list(compound, descriptions, [*fixed, "fear"]) == [*fixed, "fear"]
    with pytest.raises(DataError, match="\\['fear'\\] are not among the 3 candidate classes"):
        class_list(compound, descriptions, fixed)
    with pytest.raises(ConfigError, match="no class 'boredom'"):
        class_list(compound, descriptions, [*fixed, "fear", "anger_boredom"])


def test_multi_clip_windows_are_spread_and_deterministic():
    sampling = ClipSampling(num_frames=4, downsample=2)
    one = evenly_spaced_windows(100, sampling, 1)
    assert one.tolist() == [[46, 48, 50, 52]]  # centred
    three = evenly_spaced_windows(100, sampling, 3)
    assert three[0, 0] == 0 and three[-1, -1] == 99 and three.shape == (3, 4)
    short = evenly_spaced_windows(5, sampling, 2)
    assert short.shape == (2, 4) and short.max() < 5


def test_chance_levels_hand_case(tmp_path):
    samples = [VideoSample(str(i), tmp_path, (lab,)) for i, lab in enumerate("aaab")]
    chance = chance_levels(samples, ["a", "b", "c", "d"])
    assert chance == {"uar_uniform": 0.25, "uar_majority": 0.5, "war_uniform": 0.25,
                      "war_majority": 0.75}  # fmt: skip


def test_zeroshot_end_to_end_rows_agree_with_sklearn_and_outputs_match(tmp_path, tiny):
    root = make_toy_mafw(tmp_path / "toy", clips=24, frames=12)
    test, _ = read_mafw(root, 1, "test")
    train, _ = read_mafw(root, 1, "train")
    ckpt = save_checkpoint(tmp_path / "ckpt", tiny)
    config = ZeroShotConfig(checkpoint=ckpt, descriptions=["mafw11"], num_frames=4, downsample=2,
                            linear_probe=True, n_boot=50)  # fmt: skip
    result = zeroshot(config, test, train)
    texts = {(r["view"], r["text"]) for r in result.rows}
    assert ("video", "mafw11") in texts and ("middle_frame", "mafw11") in texts
    assert ("video", "linear probe (supervised)") in texts
    row = result.rows[0]
    truth = [p["true"] for p in result.predictions]
    predicted = [p["predicted"] for p in result.predictions]
    reference = classification_metrics(truth, predicted, classes=result.classes, n_boot=0)
    assert row["war"] == pytest.approx(reference.war)
    assert row["uar"] == pytest.approx(reference.uar)
    files = write_outputs(result, tmp_path / "out", "toy", {"chance": {}})
    csv = pd.read_csv(tmp_path / "out" / "toy.csv")
    assert len(csv) == len(result.rows)
    np.testing.assert_allclose(csv["uar"], [r["uar"] for r in result.rows])
    saved = json.loads(files[0].read_text())
    assert saved["rows"][0]["confusion"] == row["confusion"]
    assert len(table(result)) == len(result.rows)


def test_zeroshot_reports_unreadable_clips(tmp_path, tiny):
    root = make_toy_mafw(tmp_path / "toy", clips=24, frames=12)
    test, _ = read_mafw(root, 1, "test")
    broken = next(s for s in test if s.path.suffix == ".mp4")
    broken.path.write_bytes(b"junk")
    ckpt = save_checkpoint(tmp_path / "ckpt", tiny)
    config = ZeroShotConfig(checkpoint=ckpt, descriptions=["mafw11"], templates=None,
                            num_frames=4, downsample=2, n_boot=0)  # fmt: skip
    result = zeroshot(config, test)
    assert [path for path, _ in result.failed] == [str(broken.path)]
    assert result.rows[0]["n_samples"] == len(test) - 1


# Function words may repeat; every content word of the unseen wording must be new.
FUNCTION_WORDS = {
    "a", "an", "the", "and", "or", "of", "on", "to", "in", "at", "as", "with", "by", "is", "are",
    "all", "every", "though", "near", "toward", "s",
}  # fmt: skip


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@pytest.mark.parametrize("name", ["mafw11_unseen", "basic7_unseen", "basic7_unseen_plain"])
def test_unseen_wording_shares_no_content_word_with_any_training_caption(name):
    import re

    from emoclip_clinic.synth.captions import caption_vocabulary

    vocabulary = caption_vocabulary()
    stems = {_stem(w) for w in vocabulary}
    descriptions = load_descriptions(name)
    shared = {
        word
        for sentences in descriptions.classes.values()
        for sentence in sentences
        for word in re.findall(r"[a-z]+", sentence.lower())
        if word not in FUNCTION_WORDS and (word in vocabulary or _stem(word) in stems)
    }
    assert not shared
    assert set(descriptions.classes) == set(load_descriptions(name.split("_unseen")[0]).classes)


def test_zeroshot_command_runs_and_offers_only_the_splits_it_knows(tmp_path, tiny):
    from typer.testing import CliRunner

    from emoclip_clinic.cli import app, commands  # noqa: F401  (registers the commands)

    root = make_toy_mafw(tmp_path / "toy", clips=24, frames=12)
    ckpt = save_checkpoint(tmp_path / "ckpt", tiny)
    args = ["zeroshot", str(root), "--checkpoint", str(ckpt), "--fold", "1", "--frames", "4",
            "--downsample", "2", "--templates", "none", "--n-boot", "0", "--out",
            str(tmp_path / "out")]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--split", "test", "--label-type", "single"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "mafw_fold1_test.json").read_text())
    assert (saved["split"], saved["fold"], saved["rows"][0]["text"]) == ("test", 1, "mafw11")
    refused = CliRunner().invoke(app, [*args, "--split", "validation"])
    assert refused.exit_code == 2 and "'train', 'test'" in refused.output


def test_compound_zeroshot_chooses_among_every_compound_of_the_data_set(tmp_path, tiny):
    from typer.testing import CliRunner

    from emoclip_clinic.cli import app, commands  # noqa: F401  (registers the commands)

    root = make_toy_mafw(tmp_path / "toy", clips=8, frames=12, frame_folders=0)
    lists = root / "Train & Test Set" / "compound" / "no_caption" / "set_1"
    lists.mkdir(parents=True)
    (lists / "test.txt").write_text("00002.mp4\tanger_sadness\n00003.mp4\tfear_surprise\n")
    (lists / "train.txt").write_text("00004.mp4\thappiness_surprise\n")  # never tested
    ckpt = save_checkpoint(tmp_path / "ckpt", tiny)
    result = CliRunner().invoke(app, [
        "zeroshot", str(root), "--checkpoint", str(ckpt), "--fold", "1", "--label-type",
        "compound", "--clip-len", "4", "--downsample", "2", "--templates", "none", "--n-boot",
        "0", "--out", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "mafw_fold1_test.json").read_text())
    assert saved["classes"] == ["anger_sadness", "fear_surprise", "happiness_surprise"]


def test_middle_frame_is_the_clips_own_and_looped_frames_count_once(tmp_path, tiny):
    from emoclip_clinic.data.transforms import ClipTransform
    from emoclip_clinic.models import get_preprocess_cfg
    from emoclip_clinic.video import probe_video, read_frames
    from emoclip_clinic.zeroshot.embedding import WindowedClips, embed_views

    root = make_toy_mafw(tmp_path / "toy", clips=24, frames=12)
    sample = read_mafw(root, 1, "test")[0][0]
    transform, sampling = ClipTransform(get_preprocess_cfg(tiny)), ClipSampling(16, 4)
    assert evenly_spaced_windows(12, sampling, 1)[0, 8] != 6  # the looped window's middle slot
    views = embed_views(tiny, WindowedClips([sample], transform, sampling))
    info = probe_video(sample.path)
    with torch.no_grad():
        frames = F.normalize(tiny.encode_frames(transform(read_frames(info, range(12)))), dim=-1)
    torch.testing.assert_close(views.embeddings["middle_frame"][0], frames[6])  # 12 // 2
    # The window reads frames 0, 4 and 8, then loops them: each counts once.
    ensemble = F.normalize(frames[[0, 4, 8]].mean(dim=0), dim=-1)
    torch.testing.assert_close(views.embeddings["frame_ensemble"][0], ensemble)


def test_the_demo_table_states_both_chance_levels(tmp_path):
    from emoclip_clinic.cli.tables import demo_zeroshot_table

    samples = [VideoSample(str(i), tmp_path, (lab,)) for i, lab in enumerate("aaab")]
    table = demo_zeroshot_table([], chance_levels(samples, ["a", "b", "c", "d"]))
    assert "Chance: UAR 50.0%, WAR 75.0% (always the majority class)" in str(table.caption)
