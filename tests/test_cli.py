"""The command-line interface as a user meets it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

COMMANDS = [
    "pretrain",
    "zeroshot",
    "embed",
    "score",
    "loocv",
    "train-head",
    "report",
    "synth",
    "demo",
    "models",
]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emoclip_clinic", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_every_command_without_importing_torch():
    code = (
        "import sys; sys.argv = ['emoclip-clinic', '--help']\n"
        "from emoclip_clinic.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().endswith("NO-TORCH")
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_version():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"emoclip-clinic {version('emoclip-clinic')}"


def test_models_lists_shipped_and_user_configs(tmp_path):
    result = run_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert {"emoclip-vit-b-32", "emoclip-reference", "emoclip-tiny", "emoclip-tiny-minilm"} <= set(
        listed
    )
    custom = dict(listed["emoclip-tiny"], name="lab-model")
    (tmp_path / "lab-model.json").write_text(json.dumps(custom))
    result = run_cli("models", "--model-dir", str(tmp_path))
    assert "lab-model" in result.stdout
    shown = json.loads(run_cli("models", "emoclip-vit-b-32").stdout)
    assert shown["backbone"]["open_clip_model"] == "ViT-B-32"


def test_user_mistake_is_one_line_without_traceback():
    result = run_cli("models", "no-such-model")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown model config 'no-such-model'")
    assert "Traceback" not in result.stderr
