"""Readers of the real DFEW, FERV39K and AFEW layouts, and the data-set registry.

Each test builds a small fake tree in ``tmp_path`` (empty frame files: readers never decode).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emoclip_clinic.data.afew import read_afew
from emoclip_clinic.data.dfew import DFEW_ORDER, read_dfew
from emoclip_clinic.data.ferv39k import read_ferv39k
from emoclip_clinic.data.mafw import MAFW_CLASSES
from emoclip_clinic.data.registry import BASIC_CLASSES, DATASETS, get_dataset, read_dataset
from emoclip_clinic.errors import ConfigError, DataError


def _frames(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "00001.jpg").touch()
    return folder


def _video(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def _write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def _skips(report) -> dict[str, str]:
    """``{"line 4": "reason", ...}`` from a report."""
    return dict(entry.split(": ", 1) for entry in report.skipped)


# --- DFEW ---------------------------------------------------------------------------------


def _dfew_official(root: Path, lines: list[str], fold: int = 1, split: str = "test") -> Path:
    folder = "test(single-labeled)" if split == "test" else "train(single-labeled)"
    return _write(root / "EmoLabel_DataSplit" / folder / f"set_{fold}.csv", lines, "\r\n")


def test_dfew_official_layout_labels_header_crlf_and_reported_lines(tmp_path):
    frames = _frames(tmp_path / "Clip" / "clip_224x224" / "00001")
    video = _video(tmp_path / "Clip" / "clip_224x224_avi" / "00002.avi")
    _frames(tmp_path / "Clip" / "clip_224x224" / "00006")
    csv = _dfew_official(
        tmp_path,
        [
            "video_name,label",
            "1,4",  # line 2: angry -> anger, zero-padded to 00001
            "2,1",  # line 3: happy, only as a video
            "3,0",  # line 4: not single-labelled
            "4,7",  # line 5: no folder on disk
            "abc,2",  # line 6
            "5",  # line 7
            "1,4",  # line 8: listed twice
            "6,9",  # line 9: no such label
            "",
        ],
    )
    samples, report = read_dfew(tmp_path, fold=1, split="test")

    assert [(s.sample_id, s.labels) for s in samples] == [
        ("00001", ("anger",)),
        ("00002", ("happiness",)),
    ]
    assert samples[0].path == frames and samples[1].path == video
    assert report.source == csv and report.read == 2
    skips = _skips(report)
    assert list(skips) == ["line 4", "line 5", "line 6", "line 7", "line 8", "line 9"]
    assert "label 0" in skips["line 4"] and "00003" in skips["line 4"]
    assert "00004" in skips["line 5"] and "no frames or video" in skips["line 5"]
    assert "'abc'" in skips["line 6"]
    assert "already listed on line 2" in skips["line 8"]
    assert "outside 1-7" in skips["line 9"]
    assert "2 samples read, 6 skipped" in report.summary()


def test_dfew_official_and_authors_labels_agree_for_every_class(tmp_path):
    official, authors = tmp_path / "official", tmp_path / "authors"
    for k in range(1, 8):
        _frames(official / "Clip" / "clip_224x224_16f" / f"{k:05d}")
        _frames(authors / "DFEW_Frame_Face" / f"{k:05d}")
    _dfew_official(official, [f"{k},{k}" for k in range(1, 8)], fold=3, split="train")
    _write(
        authors / "DFEW_set_3_train.txt",
        [f"/data/DFEW_Frame_Face/{k:05d} 16 {k - 1}" for k in range(1, 8)],
    )
    from_official = [s.label for s in read_dfew(official, fold=3, split="train")[0]]
    from_authors = [s.label for s in read_dfew(authors, fold=3, split="train")[0]]
    expected = ["happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear"]
    assert from_official == from_authors == expected == list(DFEW_ORDER)


def test_dfew_authors_layout_broken_lines_and_videos(tmp_path):
    _frames(tmp_path / "DFEW_Frame_Face" / "00010")
    _frames(tmp_path / "DFEW_Frame_Face" / "00011")
    video = _video(tmp_path / "DFEW_Frame_Face" / "00016.mp4")
    txt = _write(
        tmp_path / "DFEW_set_2_test.txt",
        [
            "/home/x/DFEW_Frame_Face/00010 30 3",  # line 1: authors' 3 -> anger
            "/home/x/DFEW_Frame_Face/00011 25 0",  # line 2: happiness
            "/home/x/DFEW_Frame_Face/00012 25",  # line 3: no label
            "/home/x/DFEW_Frame_Face/00013 many 2",  # line 4
            "/home/x/DFEW_Frame_Face/00014 20 7",  # line 5: 0-6 only
            "/home/x/DFEW_Frame_Face/00015 20 6",  # line 6: missing
            "/home/x/DFEW_Frame_Face/00016 20 6",  # line 7: fear, as a video
        ],
    )
    samples, report = read_dfew(tmp_path, fold=2, split="test")

    assert [(s.sample_id, s.label) for s in samples] == [
        ("00010", "anger"),
        ("00011", "happiness"),
        ("00016", "fear"),
    ]
    assert samples[2].path == video
    assert report.source == txt and report.read == 3
    skips = _skips(report)
    assert list(skips) == ["line 3", "line 4", "line 5", "line 6"]
    assert "frame count 'many'" in skips["line 4"]
    assert "outside 0-6" in skips["line 5"]
    assert "00015" in skips["line 6"]


def test_dfew_prefers_the_official_layout_and_finds_frames_in_either_folder(tmp_path):
    _frames(tmp_path / "DFEW_Frame_Face" / "00001")
    _dfew_official(tmp_path, ["1,5"])
    _write(tmp_path / "DFEW_set_1_test.txt", ["x/00001 10 0"])
    samples, report = read_dfew(tmp_path, fold=1)
    assert report.source.suffix == ".csv"
    assert samples[0].label == "surprise"
    assert samples[0].path == tmp_path / "DFEW_Frame_Face" / "00001"


def test_dfew_errors_name_the_root_and_what_was_looked_for(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_dfew(tmp_path / "nowhere", fold=1)
    with pytest.raises(DataError, match=r"set_1\.csv.*DFEW_set_1_test\.txt"):
        read_dfew(tmp_path, fold=1)
    _dfew_official(tmp_path, ["1,1"])
    with pytest.raises(DataError, match=r"no DFEW clip folder.*clip_224x224"):
        read_dfew(tmp_path, fold=1)
    with pytest.raises(ConfigError, match=r"fold.*1-5.*6"):
        read_dfew(tmp_path, fold=6)
    with pytest.raises(ConfigError, match="'validation'"):
        read_dfew(tmp_path, fold=1, split="validation")


# --- FERV39K ------------------------------------------------------------------------------


def test_ferv39k_official_layout(tmp_path):
    clips = tmp_path / "2_ClipsforFaceCrop"
    _frames(clips / "Action" / "Sad" / "0010")
    _frames(clips / "Action" / "Angry" / "0003")
    video = _video(clips / "Talkshow" / "Happy" / "0001.mp4")
    csv = _write(
        tmp_path / "4_setups" / "All_scenes" / "test_All.csv",
        [
            "Action/Sad/0010 Sad",  # line 1
            "Action/Angry/0003 Angry",  # line 2
            "Talkshow/Happy/0001,Happy",  # line 3: comma-separated, a video
            "Action/Sad/0011 Sadish",  # line 4
            "Action/Fear/0099 Fear",  # line 5: missing
            "Action/Sad/0010 Sad",  # line 6: twice
            "0012 Sad",  # line 7: no scene and emotion
        ],
        "\r\n",
    )
    samples, report = read_ferv39k(tmp_path, split="test")

    assert [(s.sample_id, s.label) for s in samples] == [
        ("Action_Sad_0010", "sadness"),
        ("Action_Angry_0003", "anger"),
        ("Talkshow_Happy_0001", "happiness"),
    ]
    assert samples[0].path == clips / "Action" / "Sad" / "0010" and samples[2].path == video
    assert report.source == csv and report.read == 3
    skips = _skips(report)
    assert list(skips) == ["line 4", "line 5", "line 6", "line 7"]
    assert "unknown emotion 'Sadish'" in skips["line 4"]
    assert "Action/Fear/0099" in skips["line 5"]
    assert "already listed on line 1" in skips["line 6"]
    assert "<Scene>/<Emotion>/<clip>" in skips["line 7"]


def test_ferv39k_header_and_doubled_clips_folder(tmp_path):
    clip = _frames(tmp_path / "2_ClipsforFaceCrop" / "2_ClipsforFaceCrop" / "War" / "Fear" / "7")
    _write(
        tmp_path / "4_setups" / "All_scenes" / "train_All.csv", ["name label", "War/Fear/7 Fear"]
    )
    samples, report = read_ferv39k(tmp_path, split="train")
    assert [(s.path, s.label) for s in samples] == [(clip, "fear")]
    assert report.skipped == []


def test_ferv39k_authors_layout_and_preference_for_the_official_one(tmp_path):
    clips = tmp_path / "2_ClipsforFaceCrop"
    _frames(clips / "Action" / "Angry" / "0003")
    _frames(clips / "Speech" / "Neutral" / "0042")
    _write(
        tmp_path / "test_image.txt",
        [
            "/data/FERV39K/2_ClipsforFaceCrop/Action/Angry/0003 16 3",  # anger
            "/data/FERV39K/2_ClipsforFaceCrop/Speech/Neutral/0042 16 2",  # neutral
            "/data/FERV39K/2_ClipsforFaceCrop/Speech/Neutral/0043 16 7",  # out of range
            "/data/FERV39K/2_ClipsforFaceCrop/Speech/Neutral/0044 16",  # broken
        ],
    )
    samples, report = read_ferv39k(tmp_path)
    assert [(s.sample_id, s.label) for s in samples] == [
        ("Action_Angry_0003", "anger"),
        ("Speech_Neutral_0042", "neutral"),
    ]
    assert list(_skips(report)) == ["line 3", "line 4"]
    assert "outside 0-6" in report.skipped[0]

    _write(tmp_path / "4_setups" / "All_scenes" / "test_All.csv", ["Speech/Neutral/0042 Neutral"])
    samples, report = read_ferv39k(tmp_path)
    assert report.source.name == "test_All.csv" and len(samples) == 1


def test_ferv39k_errors(tmp_path):
    with pytest.raises(DataError, match=r"test_All\.csv.*test_image\.txt"):
        read_ferv39k(tmp_path)
    _write(tmp_path / "test_image.txt", ["a/b/c 1 1"])
    with pytest.raises(DataError, match="2_ClipsforFaceCrop"):
        read_ferv39k(tmp_path)
    with pytest.raises(ConfigError, match="'val'"):
        read_ferv39k(tmp_path, split="val")


# --- AFEW ---------------------------------------------------------------------------------


def test_afew_frame_folders_of_the_validation_set(tmp_path):
    val = tmp_path / "AFEW_Face" / "validation"
    angry = _frames(val / "Angry" / "000149120")
    happy = _frames(val / "Happy" / "0_2_001")
    _video(val / "Happy" / "0_2_001.avi")  # the same clip as a video: the frames win
    _frames(val / "Sad" / "000149120")  # name already under Angry
    _video(val / "Sad" / "notes.txt")
    _video(val / "Sad" / ".DS_Store")
    _frames(val / "Contempt" / "000200")
    _frames(tmp_path / "AFEW_Face" / "train" / "Fear" / "0001")

    samples, report = read_afew(tmp_path, split="test")

    assert [(s.sample_id, s.path, s.labels) for s in samples] == [
        ("000149120", angry, ("anger",)),
        ("0_2_001", happy, ("happiness",)),
    ]
    assert report.source == val and report.read == 2
    assert report.skipped == [
        "Contempt/: not one of the seven emotion folders",
        "Sad/notes.txt: neither a frame folder nor a video",
        "Sad/000149120: clip also in Angry/",
    ]


def test_afew_emotiw_videos_and_full_emotion_names(tmp_path):
    clip = _video(tmp_path / "Val" / "SURPRISE" / "000046280.avi")
    _video(tmp_path / "Train" / "Happiness" / "000001.avi")
    _video(tmp_path / "Train" / "sadness" / "000002.avi")
    samples, _ = read_afew(tmp_path, split="test")
    assert [(s.sample_id, s.path, s.label) for s in samples] == [("000046280", clip, "surprise")]
    samples, _ = read_afew(tmp_path, split="train")
    assert [s.label for s in samples] == ["happiness", "sadness"]
    # With face frames present too, they are preferred to the videos.
    _frames(tmp_path / "AFEW_Face" / "validation" / "Neutral" / "000046280")
    assert [s.label for s in read_afew(tmp_path, split="validation")[0]] == ["neutral"]


def test_afew_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_afew(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"AFEW_Face/<validation\|val"):
        read_afew(tmp_path)
    (tmp_path / "Val" / "misc").mkdir(parents=True)
    with pytest.raises(DataError, match="no emotion folder"):
        read_afew(tmp_path)
    with pytest.raises(ConfigError, match="'dev'"):
        read_afew(tmp_path, split="dev")


# --- registry -----------------------------------------------------------------------------


def test_registry_class_lists_and_folds():
    assert BASIC_CLASSES == (
        "anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
    )  # fmt: skip
    assert MAFW_CLASSES[:7] == BASIC_CLASSES
    assert {name: info.classes for name, info in DATASETS.items()} == {
        "mafw": MAFW_CLASSES, "dfew": BASIC_CLASSES, "ferv39k": BASIC_CLASSES,
        "afew": BASIC_CLASSES,
    }  # fmt: skip
    assert DATASETS["dfew"].folds == DATASETS["mafw"].folds == (1, 2, 3, 4, 5)
    assert DATASETS["ferv39k"].folds == DATASETS["afew"].folds == ()
    assert {info.eval_split for info in DATASETS.values()} == {"test"}
    assert get_dataset("FERV39K") is DATASETS["ferv39k"]
    assert "folds 1-5" in DATASETS["dfew"].describe()


def test_read_dataset_dispatches_to_each_reader(tmp_path):
    dfew, ferv, afew, mafw = (tmp_path / n for n in ("dfew", "ferv", "afew", "mafw"))
    _frames(dfew / "Clip" / "clip_224x224" / "00001")
    _dfew_official(dfew, ["video_name,label", "1,6"], fold=4)
    _frames(ferv / "2_ClipsforFaceCrop" / "Action" / "Disgust" / "0001")
    _write(ferv / "4_setups" / "All_scenes" / "test_All.csv", ["Action/Disgust/0001 Disgust"])
    _video(afew / "Val" / "Fear" / "1.avi")
    _frames(mafw / "data" / "faces" / "00001")
    split_dir = mafw / "Train & Test Set" / "single" / "no_caption" / "set_2"
    _write(split_dir / "test.txt", ["00001.mp4\tcontempt"])  # the lists evaluation reads

    read = {
        "dfew": read_dataset("DFEW", dfew, fold=4),
        "ferv39k": read_dataset("ferv39k", ferv),
        "afew": read_dataset("afew", afew, split="test"),
        "mafw": read_dataset("mafw", mafw, fold=2),
    }
    assert {name: [s.label for s in samples] for name, (samples, _) in read.items()} == {
        "dfew": ["disgust"], "ferv39k": ["disgust"], "afew": ["fear"], "mafw": ["contempt"],
    }  # fmt: skip
    for name, (samples, report) in read.items():
        assert set(samples[0].labels) <= set(DATASETS[name].classes)
        assert report.read == 1 and report.skipped == []


def test_mafw_evaluation_lists_captions_and_the_fixed_compound_classes(tmp_path, caplog):
    """Zero-shot reads ``no_caption`` (every labelled clip, as the authors evaluate) before
    ``with_caption``; a line whose only caption is Chinese has none; and the compound
    candidates are every compound of every fold, not only those in one test split."""
    from emoclip_clinic.data.mafw import read_mafw
    from emoclip_clinic.data.registry import candidate_classes

    for clip in ("00001", "00002", "00003", "00004"):
        _frames(tmp_path / "data" / "faces" / clip)
    top = tmp_path / "Train & Test Set" / "compound"
    _write(top / "with_caption" / "set_1" / "test.txt",
           ["00001.mp4\tanger_sadness\t他皱着眉头",  # 3 columns, the English one missing
            "00002.mp4\tfear_surprise\tHer eyes widen (她) and her mouth opens.",
            "00004.mp4\tanger_disgust\t12。"])  # fmt: skip
    _write(
        top / "no_caption" / "set_1" / "test.txt",
        ["00001.mp4\tanger_sadness", "00002.mp4\tfear_surprise", "00003.mp4\tanger_disgust"],
    )
    _write(top / "no_caption" / "set_4" / "train.txt", ["00003.mp4\thappiness_surprise"])

    captioned, _ = read_mafw(tmp_path, 1, "test", "compound", captions=True)
    assert [s.caption for s in captioned] == [
        None, "Her eyes widen (她) and her mouth opens.", None]  # fmt: skip
    evaluated, _ = read_dataset("mafw", tmp_path, 1, "test", "compound")
    assert [s.sample_id for s in evaluated] == ["00001", "00002", "00003"]
    with caplog.at_level("WARNING"):
        assert candidate_classes("mafw", tmp_path, "compound") == [
            "anger_disgust", "anger_sadness", "fear_surprise", "happiness_surprise"]  # fmt: skip
    assert "lists of 2 of the 10 fold splits found" in caplog.text  # this copy lacks most
    assert candidate_classes("dfew", tmp_path) == list(BASIC_CLASSES)
    with pytest.raises(DataError, match="no MAFW compound annotation files"):
        candidate_classes("mafw", tmp_path / "data", "compound")
    with pytest.raises(ConfigError, match="dfew label type"):
        candidate_classes("dfew", tmp_path, "compound")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "kinetics"}, r"unknown data set 'kinetics'; known: mafw, dfew, ferv39k, afew"),
        ({"name": "dfew"}, r"dfew fold must be one of 1, 2, 3, 4, 5, got none"),
        ({"name": "mafw", "fold": 0}, r"mafw fold must be one of 1, 2, 3, 4, 5, got 0"),
        ({"name": "ferv39k", "fold": 1}, r"ferv39k has no folds; got fold 1"),
        ({"name": "afew", "split": "validation"}, r"afew split must be one of train, test, "),
        ({"name": "dfew", "fold": 1, "label_type": "compound"}, r"dfew label type .* single, "),
    ],
)
def test_read_dataset_refuses_bad_options_with_one_clear_message(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        read_dataset(root=tmp_path, **kwargs)


@pytest.mark.parametrize(
    ("name", "fold"), [("mafw", 1), ("dfew", 1), ("ferv39k", None), ("afew", None)]
)
def test_read_dataset_names_the_root_when_data_are_missing(tmp_path, name, fold):
    with pytest.raises(DataError, match=f"{tmp_path / 'absent'}.*does not exist"):
        read_dataset(name, tmp_path / "absent", fold=fold)
    with pytest.raises(DataError, match=str(tmp_path)) as raised:
        read_dataset(name, tmp_path, fold=fold)
    assert "looked for" in str(raised.value)
