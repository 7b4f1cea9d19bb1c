"""Checkpoints: our safetensors format and the EmoCLIP authors' format."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file

from emoclip_clinic.errors import CheckpointError
from emoclip_clinic.models import EmoCLIPConfig, create_emoclip, get_model_config
from emoclip_clinic.models.checkpoints import (
    load_authors_checkpoint,
    load_authors_state,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
)
from emoclip_clinic.provenance import sha256_file


@pytest.fixture
def tiny():
    torch.manual_seed(1)
    return create_emoclip("emoclip-tiny")


def _video(seed: int = 0) -> torch.Tensor:
    return torch.randn(2, 4, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def test_round_trip_gives_identical_weights_outputs_and_metadata(tmp_path, tiny):
    folder = save_checkpoint(tmp_path / "ckpt", tiny, {"lr": 1e-3, "seed": 7}, {"epoch": 3})
    model, info = load_checkpoint(folder)
    for key, value in tiny.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    with torch.no_grad():
        torch.testing.assert_close(model.encode_video(_video()), tiny.eval().encode_video(_video()))
    assert info.config == tiny.config
    assert info.training_args == {"lr": 1e-3, "seed": 7}
    assert info.extra == {"epoch": 3}
    from importlib.metadata import version

    assert info.versions["torch"] == version("torch")
    assert info.versions["emoclip-clinic"] == version("emoclip-clinic")
    meta = json.loads((folder / "emoclip.json").read_text())
    assert meta["weights"]["sha256"] == sha256_file(folder / "model.safetensors")
    assert meta["model_config"]["name"] == "emoclip-tiny"


def test_checkpoint_needs_no_pickle(tmp_path, tiny, monkeypatch):
    folder = save_checkpoint(tmp_path / "ckpt", tiny)

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    load_checkpoint(folder)


def test_saving_over_an_existing_checkpoint_keeps_it_until_the_new_one_is_complete(
    tmp_path, tiny, monkeypatch
):
    folder = save_checkpoint(tmp_path / "ckpt", tiny, extra={"epoch": 1})
    import emoclip_clinic.models.checkpoints as ckpt

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", crash)
    with pytest.raises(OSError):
        save_checkpoint(folder, tiny, extra={"epoch": 2})
    assert read_checkpoint_info(folder).extra == {"epoch": 1}
    load_checkpoint(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_truncated_or_tampered_weights_are_refused(tmp_path, tiny):
    folder = save_checkpoint(tmp_path / "ckpt", tiny)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*truncated or was modified"):
        load_checkpoint(folder)
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(folder)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path, tiny):
    folder = save_checkpoint(tmp_path / "ckpt", tiny)
    meta_path = folder / "emoclip.json"
    meta = json.loads(meta_path.read_text())
    meta["model_config"]["temporal"]["mlp_dim"] = 256  # shapes no longer match
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"wrong shape.*mlp\.fc1"):
        load_checkpoint(folder)
    meta["model_config"]["temporal"]["mlp_dim"] = 128
    meta["model_config"]["temporal"]["depth"] = 1  # keys of block 1 become unknown
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"unknown keys.*blocks\.1"):
        load_checkpoint(folder)


def test_not_a_checkpoint_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not an emoclip-clinic checkpoint"):
        load_checkpoint(tmp_path)
    (tmp_path / "emoclip.json").write_text('{"format": "other"}')
    with pytest.raises(CheckpointError, match="unsupported checkpoint format"):
        load_checkpoint(tmp_path)


# -- the authors' format ------------------------------------------------------------------------
def _small_reference_config(shared_dir) -> EmoCLIPConfig:
    """emoclip-tiny's backbone with the authors' small temporal shapes (the golden fixture)."""
    small = json.loads(
        (shared_dir / "fixtures/reference_emoclip/temporal_small_config.json").read_text()
    )["config"]
    data = get_model_config("emoclip-tiny").to_dict()
    data["name"] = "reference-small"
    data["temporal"] = {
        "depth": small["depth"],
        "heads": small["heads"],
        "dim_head": small["dim_head"],
        "mlp_dim": small["mlp_dim"],
        "max_frames": 1024,
        "gelu_approximate": "tanh",
    }
    return EmoCLIPConfig.from_dict(data)


def _authors_full_state(shared_dir, backbone: torch.nn.Module) -> dict[str, torch.Tensor]:
    folder = shared_dir / "fixtures/reference_emoclip"
    state = {
        f"module.{k}": v for k, v in load_file(folder / "temporal_small_state.safetensors").items()
    }
    state.update({f"module.backbone.{k}": v for k, v in backbone.state_dict().items()})
    state["module.logit_scale"] = torch.tensor(3.0)
    return state


def test_authors_full_checkpoint_reproduces_their_video_embedding(tmp_path, shared_dir):
    torch.manual_seed(2)
    config = _small_reference_config(shared_dir)
    donor = create_emoclip(config)
    path = tmp_path / "emoclip_full.pth"
    torch.save(_authors_full_state(shared_dir, donor.clip), path)
    # A file with both towers needs no pretrained weights: they are neither fetched nor read
    loaded = load_authors_checkpoint(path, config, pretrained=tmp_path / "never_read.pt")
    assert loaded.backbone == "full"
    io = load_file(shared_dir / "fixtures/reference_emoclip/temporal_small_io.safetensors")
    with torch.no_grad():
        video = loaded.model.temporal.video_embedding(io["frame_features"])
    torch.testing.assert_close(video, io["video_embedding"], atol=1e-5, rtol=0)
    for key, value in donor.clip.state_dict().items():
        assert torch.equal(loaded.model.clip.state_dict()[key], value), key
    assert loaded.model.logit_scale.item() == 3.0


def test_authors_downstream_file_with_visual_tower_and_head(tmp_path, shared_dir, caplog):
    config = _small_reference_config(shared_dir)
    donor = create_emoclip(config)
    folder = shared_dir / "fixtures/reference_emoclip"
    state = dict(load_file(folder / "temporal_small_state.safetensors"))
    state.update({f"backbone.{k}": v for k, v in donor.clip.visual.state_dict().items()})
    state["mlp.0.weight"] = torch.randn(32, 64)
    path = tmp_path / "downstream.pt"
    torch.save(state, path)
    with caplog.at_level("WARNING"):
        loaded = load_authors_checkpoint(path, config)
    assert loaded.backbone == "visual"
    assert "holds no text tower; left randomly initialised" in caplog.text
    assert set(loaded.head_state) == {"0.weight"}
    for key, value in donor.clip.visual.state_dict().items():
        assert torch.equal(loaded.model.clip.visual.state_dict()[key], value)
    towers = tmp_path / "towers.pt"  # the CLIP weights the authors started from
    torch.save({"state_dict": create_emoclip(config).clip.state_dict()}, towers)
    caplog.clear()
    with caplog.at_level("WARNING"):
        filled = load_authors_checkpoint(path, config, pretrained=towers)
    assert "randomly initialised" not in caplog.text  # the tower came from pretrained=
    text_weights = {k: v for k, v in torch.load(towers, weights_only=True)["state_dict"].items()
                    if not k.startswith("visual.")}  # fmt: skip
    for key, value in text_weights.items():
        assert torch.equal(filled.model.clip.state_dict()[key], value), key
    for key, value in donor.clip.visual.state_dict().items():  # the file's tower wins
        assert torch.equal(filled.model.clip.visual.state_dict()[key], value)


def test_every_key_of_the_released_temporal_module_loads(shared_dir):
    manifest = json.loads(
        (shared_dir / "fixtures/reference_emoclip/temporal_full_manifest.json").read_text()
    )
    model = create_emoclip("emoclip-reference")
    state = {f"module.{k}": torch.full(shape, 0.5) for k, shape in manifest["keys"].items()}
    load_authors_state(model, state)  # raises on any missing or unexpected temporal key
    assert all(bool((p == 0.5).all()) for p in model.temporal.parameters())


def test_authors_files_that_do_not_fit_are_refused(tmp_path, shared_dir):
    config = _small_reference_config(shared_dir)
    folder = shared_dir / "fixtures/reference_emoclip"
    state = dict(load_file(folder / "temporal_small_state.safetensors"))
    del state["temporal.cls_token"]
    path = tmp_path / "partial.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"partial\.pt: temporal .*missing keys.*cls_token"):
        load_authors_checkpoint(path, config)
    state = dict(load_file(folder / "temporal_small_state.safetensors"))
    state["temporal.extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="unknown keys"):
        load_authors_checkpoint(path, config)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_authors_checkpoint(path, "emoclip-tiny")


def test_authors_files_are_read_without_executing_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"temporal.cls_token": Evil()}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pt: not a readable weights-only"):
        load_authors_checkpoint(path, "emoclip-tiny")
    truncated = tmp_path / "truncated.pt"
    torch.save({"x": torch.zeros(100)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:50])
    with pytest.raises(CheckpointError, match=r"truncated\.pt"):
        load_authors_checkpoint(truncated, "emoclip-tiny")
    with pytest.raises(CheckpointError, match="not found"):
        load_authors_checkpoint(tmp_path / "absent.pt")
